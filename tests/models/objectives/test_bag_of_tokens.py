import keras
import numpy as np
import pytest

from hypertext.models.objectives import BagOfTokens
from tests.models.helpers import log_softmax64, text_model


def _bag(config):
    bag = BagOfTokens(config.model, config.objectives)
    bag.build()
    return bag


@pytest.mark.parametrize("idf", [False, True])
def test_bag_of_tokens_loss_matches_numpy(idf, tiny_config, tiny_tokenizer, corpus):
    config = tiny_config.replace(bow_weight=0.5, bow_idf=idf)
    bag, model = _bag(config), text_model(config, tiny_tokenizer)
    rng = np.random.default_rng(0)
    ids = model.texts_to_ids(corpus[:6])
    if idf:
        bag.set_idf(model.texts_to_ids(corpus[:200]))
    z = rng.normal(size=(6, tiny_config.latent_dim)).astype("float32")
    got = float(keras.ops.convert_to_numpy(bag.loss(ids, z)))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in bag.bow_head.weights)
    log_probs = log_softmax64(z.astype("float64") @ kernel + bias)
    weights = keras.ops.convert_to_numpy(bag.bow_token_weights).astype("float64")
    assert idf == (np.ptp(weights) > 0)
    expected = []
    for row, lp in zip(ids, log_probs):
        words = [int(t) for t in row if t > 3]  # pad, unk, bos and eos are not part of the bag
        expected.append(-np.sum(weights[words] * lp[words]) / np.sum(weights[words]))
    np.testing.assert_allclose(got, np.mean(expected), rtol=1e-5)


def test_set_idf(tiny_config):
    bag = _bag(tiny_config.replace(bow_weight=0.5, bow_idf=True))
    ids = np.array([[5, 5, 6, 3, 0], [5, 7, 3, 0, 0], [8, 3, 0, 0, 0]])
    bag.set_idf(ids)
    weights = keras.ops.convert_to_numpy(bag.bow_token_weights)
    # token 5 is in 2 of 3 texts (twice in one: still one document); 9 in none.
    np.testing.assert_allclose(weights[[5, 6, 9]], [np.log(4 / 3) + 1, np.log(4 / 2) + 1, np.log(4) + 1], rtol=1e-6)
    assert not BagOfTokens.is_active(tiny_config.objectives) and BagOfTokens.is_active(
        tiny_config.replace(bow_weight=0.5).objectives)
