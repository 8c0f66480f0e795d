"""The bag-of-tokens objective (`bow_weight`, `bow_idf`): a training-only linear head reads the text's tokens,
in any order, from `z`."""

import keras
import numpy as np
from keras import ops

from hypertext.models.blocks import real_tokens
from hypertext.models.objectives.objective import Objective, register_objective


@register_objective
class BagOfTokens(Objective):
    """The loss of `bow_weight`: the cross-entropy between the text's token frequencies (pad, unk, bos and eos left
    out; each token weighted by `bow_token_weights`) and a softmax over the vocabulary read linearly from `z` by
    `bow_head`, averaged over the batch. It asks z to hold *which* tokens a text has in a position-free, linear
    subspace, which reconstruction alone does not (there, the same word at another offset is another direction).
    Added in training only.

    Args:
        model_config, objectives: as `Objective`'s.

    Example:

    >>> bag = BagOfTokens(model_config, objective_config)
    >>> bag.set_idf(training_ids)     # with bow_idf
    >>> loss = bag.loss(token_ids, z)
    """

    objective_name = "bag_of_tokens"
    weight_field = "bow_weight"
    training_only = True

    def __init__(self, model_config, objectives, **kwargs):
        super().__init__(model_config, objectives, **kwargs)
        vocab_size = model_config.vocab_size
        self.bow_head = keras.layers.Dense(vocab_size, name="bow_head", dtype=self.dtype_policy)
        # Per-token weights of the bag (inverse document frequencies with `bow_idf`, set by `set_idf`).
        self.bow_token_weights = self.add_weight(name="bow_token_weights", shape=(vocab_size,), initializer="ones",
                                                 trainable=False)

    def build(self, z_shape=None):
        self.bow_head.build((None, self.model_config.latent_dim))
        self.built = True

    def loss(self, token_ids, z):
        real = real_tokens(token_ids, "float32")
        counts = ops.sum(ops.one_hot(token_ids, self.model_config.vocab_size, dtype="float32") * real, axis=1)
        weighted = counts * ops.cast(self.bow_token_weights, "float32")
        frequencies = weighted / ops.maximum(ops.sum(weighted, axis=-1, keepdims=True), 1e-9)
        log_probs = ops.log_softmax(ops.cast(self.bow_head(z), "float32"), axis=-1)
        return -ops.mean(ops.sum(frequencies * log_probs, axis=-1))

    def objective_loss(self, inputs, z, backbone, training=False, features=None):
        return self.loss(inputs["token_ids"], z)

    def set_idf(self, sequences):
        """Sets `bow_token_weights` to the inverse document frequencies of `sequences` (token-id sequences, ragged
        or a padded 2-D array): the weights that `bow_idf=True` asks for. `train()` calls it with the training
        split."""
        vocab_size = self.model_config.vocab_size
        lengths = [len(seq) for seq in sequences]
        tokens = np.concatenate([np.asarray(seq, "int64").reshape(-1) for seq in sequences]) if lengths else []
        rows = np.repeat(np.arange(len(lengths), dtype="int64"), lengths)
        # Each (text, token) pair once: a token's document frequency counts texts, not occurrences.
        pairs = np.unique(rows * vocab_size + tokens)
        document_frequency = np.bincount(pairs % vocab_size, minlength=vocab_size)
        self.bow_token_weights.assign((np.log((1 + len(sequences)) / (1 + document_frequency)) + 1).astype("float32"))
