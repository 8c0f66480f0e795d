"""The v5 `wordnet` checkpoint, as committed at 6d8a7c3 (written before the model split, in the old single-class
format), still loads and gives what it gave then: `tests/fixtures/wordnet_v5_reference.npz` holds the `encode()`
vectors and `reconstruct()` outputs of the first 200 WordNet test-split texts, recorded with the code of 6d8a7c3
(the vectors of texts that do not fill their length bucket have since moved a little: see the test)."""

import os
import subprocess

import numpy as np
import pytest

import hypertext
from hypertext.data import load_texts
from hypertext.lengths import bucket_lengths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "wordnet_v5_reference.npz")
V5_COMMIT = "6d8a7c3"


@pytest.fixture(scope="module")
def v5_checkpoint(tmp_path_factory):
    """The file as committed at 6d8a7c3 (from git when the checkout has that commit, else the shipped file)."""
    path = tmp_path_factory.mktemp("v5") / "hypertext-wordnet-v5.keras"
    try:
        blob = subprocess.run(["git", "show", f"{V5_COMMIT}:data/pretrained/hypertext-wordnet.keras"], cwd=ROOT,
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"this checkout has no commit {V5_COMMIT}")
    path.write_bytes(blob)
    return str(path)


def test_the_v5_checkpoint_gives_its_recorded_vectors_and_reconstructions(v5_checkpoint):
    reference = np.load(FIXTURE)
    texts = list(load_texts("wordnet", split="test", limit=200))
    assert texts == reference["texts"].tolist()
    model = hypertext.load(v5_checkpoint)
    vectors = model.encode(texts)
    # The code of 6d8a7c3 let the padding of a text's length bucket leak into its z (the encoder blocks' convs read
    # LayerNormalization's bias on pads; fixed 2026-12-02). A text that fills its bucket exactly had no padding then,
    # so its recorded vector still holds; the others moved a little, as the fix intends.
    buckets = bucket_lengths(model.config.max_length, model.length_multiple)
    exact = np.array([min(len(p), model.config.max_length - 1) + 1 in buckets for p in model.tokenizer.encode(texts)])
    assert exact.sum() >= 30
    np.testing.assert_allclose(vectors[exact], reference["vectors"][exact], atol=1e-4, rtol=0)
    cosine = (vectors * reference["vectors"]).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(
        reference["vectors"], axis=1)
    assert cosine.min() > 0.99
    assert model.reconstruct(texts) == reference["reconstructions"].tolist()
