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

pytestmark = pytest.mark.backend_dependent  # loads on every backend, and without TensorFlow (.ci/tf_free)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
V5_COMMIT = "6d8a7c3"


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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*were longer than max_length", category=UserWarning)
        np.testing.assert_allclose(model.encode(texts), reference["vectors"], atol=1e-4, rtol=0)
    assert model.reconstruct(texts) == reference["reconstructions"].tolist()


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
    np.testing.assert_allclose(model.encode(texts), reference["vectors"], atol=1e-4, rtol=0)
    assert model.reconstruct(texts) == reference["reconstructions"].tolist()
