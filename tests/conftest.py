import os
import sys

import keras
import numpy as np
import pytest

# Make `tests` importable as a package from any working directory.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    keras.utils.clear_session()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def backend():
    return keras.backend.backend()


def write_corpus_file(tmp_path_factory, count):
    """A .txt corpus of the first `count` WordNet validation texts, for the command-line tests; returns its path."""
    from hypertext.data import load_texts

    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(load_texts("wordnet", "validation")[:count]) + "\n", encoding="utf-8")
    return str(path)


def history_epochs(out):
    """The epochs that a run folder's history.csv lists, in order."""
    import csv

    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]
