"""Checkpoints of the old single-class format (up to the shipped `wordnet` v5 file, commit 6d8a7c3) still load and
give what they gave then.

- `tests/fixtures/legacy_tiny_v5_format.keras`: a tiny checkpoint in that format, written by the code of 6d8a7c3
  (`tests/fixtures/make_legacy_tiny_v5_format.py` says how), with the `encode()` vectors and `reconstruct()` outputs
  it gave then in `legacy_tiny_v5_format_reference.npz`. Runs from any checkout, git history or not, on every
  backend.
- The real 16 MB v5 file, from git history (thorough mode: it needs a clone that has commit 6d8a7c3, and fails
  without one), against `wordnet_v5_reference.npz`, recorded with the code of 6d8a7c3.
"""

import os
import subprocess
import warnings

import numpy as np
import pytest

import hypertext
from hypertext.data import load_texts
from hypertext.legacy import is_legacy, model_fields
from hypertext.lengths import bucket_lengths

pytestmark = pytest.mark.backend_dependent  # loads on every backend, and without TensorFlow (.ci/tf_free)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
V5_COMMIT = "6d8a7c3"
LEAST_EXACT_TINY = 19  # of its 60 texts, those that fill their length bucket (7 of them in every window)


def assert_recorded_vectors(model, texts, recorded, least_exact):
    """`model.encode(texts)` against vectors recorded with the code of 6d8a7c3, which let the padding of a text's
    length bucket leak into its z (the encoder blocks' convs read LayerNormalization's bias on pads; fixed
    2026-12-02). A text that fills its bucket exactly had no padding then, so its recorded vector still holds within
    1e-4; the others moved a little, as the fix intends (cosine > 0.99)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were longer than max_length", category=UserWarning)
        vectors = model.encode(texts)
    buckets = bucket_lengths(model.config.max_length, model.length_multiple)
    exact = np.array([min(len(p), model.config.max_length - 1) + 1 in buckets for p in model.tokenizer.encode(texts)])
    assert exact.sum() >= least_exact
    np.testing.assert_allclose(vectors[exact], recorded[exact], atol=1e-4, rtol=0)
    cosine = (vectors * recorded).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(recorded, axis=1)
    assert cosine.min() > 0.99


def _config_json(path):
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_a_tiny_checkpoint_of_the_old_format_gives_its_recorded_vectors_and_reconstructions():
    path = os.path.join(FIXTURES, "legacy_tiny_v5_format.keras")
    config_json = _config_json(path)
    assert is_legacy(config_json) and model_fields(config_json)["bind_positions"] is True  # the old format
    reference = np.load(os.path.join(FIXTURES, "legacy_tiny_v5_format_reference.npz"))
    texts = reference["texts"].tolist()
    model = hypertext.load(path)
    assert model.config.pooling == "bind_positions" and model.config.vocab_size == 512
    assert_recorded_vectors(model, texts, reference["vectors"], least_exact=LEAST_EXACT_TINY)
    # This tiny model reconstructs noise, which the padding fix moves too: the texts whose every window fills its
    # bucket (no padding, then or now) must come back exactly as recorded.
    sequences, owner = model.preprocessor.windows(model.tokenizer.encode(texts))
    buckets = bucket_lengths(model.config.max_length, model.length_multiple)
    exact = [all(len(seq) in buckets for seq, o in zip(sequences, owner) if o == i) for i in range(len(texts))]
    assert sum(exact) >= 7
    got, recorded = model.reconstruct(texts), reference["reconstructions"].tolist()
    assert [g for g, e in zip(got, exact) if e] == [r for r, e in zip(recorded, exact) if e]


@pytest.mark.thorough
def test_the_v5_checkpoint_gives_its_recorded_vectors_and_reconstructions(tmp_path):
    blob = subprocess.run(["git", "show", f"{V5_COMMIT}:data/pretrained/hypertext-wordnet.keras"], cwd=ROOT,
                          capture_output=True)
    assert blob.returncode == 0, f"the thorough mode needs a clone with commit {V5_COMMIT}: {blob.stderr[-500:]}"
    path = tmp_path / "hypertext-wordnet-v5.keras"
    path.write_bytes(blob.stdout)
    reference = np.load(os.path.join(FIXTURES, "wordnet_v5_reference.npz"))
    texts = list(load_texts("wordnet", split="test", limit=200))
    assert texts == reference["texts"].tolist()
    model = hypertext.load(str(path))
    assert_recorded_vectors(model, texts, reference["vectors"], least_exact=30)
    assert model.reconstruct(texts) == reference["reconstructions"].tolist()
