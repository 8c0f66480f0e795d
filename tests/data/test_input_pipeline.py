import keras
import numpy as np
import pytest

from hypertext.data import encode_texts, load_texts, make_dataset
from hypertext.tokenizers import SentencePieceTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.from_texts(load_texts("wordnet", "train")[:5000], vocab_size=500)


def test_batches_are_id_pairs_with_pad_masks(tokenizer):
    texts = ["a small domesticated carnivore", "the cat sat", "x " * 40]
    with pytest.warns(UserWarning, match=r"1 of 3 texts were longer than max_length=20"):
        dataset = make_dataset(texts, tokenizer, max_length=20, batch_size=2, shuffle=False)
    batches = list(dataset.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(2, 20), (1, 20)]
    inputs, targets, weights = batches[0]
    np.testing.assert_array_equal(inputs, targets)
    np.testing.assert_array_equal(weights, (inputs != 0).astype("float32"))
    assert tokenizer.decode(inputs[1]) == "the cat sat"
    assert (inputs[1] == 3).sum() == 1  # eos, weighted like a token


def test_truncation_is_counted(tokenizer):
    ids, truncated = encode_texts(["short", "much longer text " * 10], tokenizer, 6)
    assert truncated == 1 and ids.shape == (2, 6) and ids[1].all()


def test_feeds_model_fit_on_this_backend(tokenizer):
    dataset = make_dataset(load_texts("wordnet", "validation")[:64], tokenizer, 16, 16, repeat=True)
    model = keras.Sequential([keras.Input((16,), dtype="int32"), keras.layers.Embedding(tokenizer.vocab_size, 8),
                              keras.layers.Dense(tokenizer.vocab_size)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_errors(tokenizer):
    with pytest.raises(ValueError, match=r"`max_length` must be an integer >= 2. Received: max_length=1"):
        make_dataset(["a"], tokenizer, 1, 2)
    with pytest.raises(ValueError, match=r"no texts"):
        make_dataset([], tokenizer, 8, 2)
