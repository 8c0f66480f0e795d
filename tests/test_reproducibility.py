"""Runs are reproducible: the same corpus, config and seed give the same tokenizer, history and weights, bit for bit,
on TensorFlow's CPU; another seed gives another model."""

import os

import keras
import numpy as np
import pytest

import hypertext
from hypertext import training
from hypertext.configs import get_config
from hypertext.data import load_texts

pytestmark = pytest.mark.backends("tensorflow")  # the guarantee is stated for TF CPU


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(load_texts("wordnet", "validation")[:800]) + "\n", encoding="utf-8")
    return str(path)


def _run(corpus, output, seed):
    keras.utils.clear_session()
    config = get_config("tiny").replace(epochs=2, steps_per_epoch=15, seed=seed)
    training.train(corpus, output, config, verbose=0, log=lambda *_: None)
    with open(os.path.join(output, "tokenizer.model"), "rb") as f:
        tokenizer = f.read()
    with open(os.path.join(output, "history.csv")) as f:
        history = f.read()
    weights = [keras.ops.convert_to_numpy(w) for w in hypertext.load(os.path.join(output, "model.keras")).weights]
    return tokenizer, history, weights


def test_same_seed_same_run_other_seed_other_model(corpus, tmp_path):
    first = _run(corpus, str(tmp_path / "a"), seed=3)
    second = _run(corpus, str(tmp_path / "b"), seed=3)
    other = _run(corpus, str(tmp_path / "c"), seed=4)
    assert first[0] == second[0]  # the tokenizer
    assert first[1] == second[1]  # history.csv, every digit of every metric
    assert len(first[2]) == len(second[2]) and all(np.array_equal(a, b) for a, b in zip(first[2], second[2]))
    assert first[1] != other[1]
    assert not all(np.array_equal(a, b) for a, b in zip(first[2], other[2]) if a.shape == b.shape)
