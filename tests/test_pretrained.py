"""The shipped checkpoint, as the README shows it: it loads (on every backend CI runs, though it was trained on
TensorFlow) and reconstructs held-out WordNet test-split texts exactly."""

import os
import re

import numpy as np
import pytest

import hypertext
from hypertext.data import wordnet
from hypertext.legacy import model_fields

pytestmark = pytest.mark.backend_dependent  # on every backend, and without TensorFlow (.ci/tf_free)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKPOINT = os.path.join(ROOT, "data", "pretrained", "hypertext-wordnet.keras")


def readme_example(after="## Pretrained checkpoint"):
    """The first Python block of the README after the line `after`."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split(after, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_and_reconstructs_test_split_texts_exactly():
    test_texts = {row["text"] for row in wordnet.read_rows(split="test")}
    namespace = {}
    os.chdir(ROOT)  # the README's paths are relative to the repository root
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    texts, restored = namespace["texts"], namespace["restored"]
    assert len(texts) >= 5 and all(t in test_texts for t in texts)  # held out: the model never trained on them
    assert restored == texts
    model, long_text = namespace["model"], namespace["long_text"]
    assert len(model.tokenizer.encode([long_text])[0]) > model.config.max_length
    assert namespace["whole"] == long_text
    z, vectors = namespace["z"], namespace["vectors"]
    assert z.shape == (len(texts), model.config.latent_dim) and np.isfinite(z).all()
    assert vectors.shape == (len(texts), model.embedding_dim) == (len(texts), 384) and np.isfinite(vectors).all()


def test_checkpoint_size_and_contents():
    assert os.path.getsize(CHECKPOINT) <= 50 * 2**20  # 21 MB of network and 25 MB of float16 sentence encoder
    config = model_fields(hypertext.saving.inspect_checkpoint(CHECKPOINT))  # either checkpoint format
    assert config["hyper"] is True and config["max_length"] >= 128
    assert config.get("bow_weight", 0) == 0  # exported without the training-only head
    assert os.path.samefile(hypertext.pretrained.preset_path("wordnet"), CHECKPOINT)


def test_the_readme_retrieval_example_finds_the_right_documents():
    """The README's small search ("Vectors: what they are for"): each query's best document is the one it
    paraphrases, by cosine of `encode(normalize=True)` vectors."""
    namespace = {"model": hypertext.load("wordnet")}
    exec(compile(readme_example("**Vectors: what they are for.**"), "README.md", "exec"), namespace)
    scores = namespace["scores"]
    np.testing.assert_array_equal(scores.argmax(axis=1), [1, 3])
    assert (np.sort(scores, axis=1)[:, -1] - np.sort(scores, axis=1)[:, -2] > 0.2).all()  # by a clear margin
