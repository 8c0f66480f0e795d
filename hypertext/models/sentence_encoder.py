"""`SentenceEncoder`: a sentence-embedding network with a vocabulary of its own, for similarity vectors."""

import keras
import numpy as np
from keras import ops

from hypertext.checks import check_int
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID


@keras.saving.register_keras_serializable(package="hypertext")
class SentenceEncoder(keras.layers.Layer):
    """Texts → sentence vectors for cosine similarity, read through a tokenizer of its own.

    The autoencoder's tokenizer is small (a few thousand pieces), which suits reconstruction but splits most
    everyday words into fragments before any meaning is formed. This encoder has its own, larger SentencePiece
    vocabulary, and is trained by distillation from a sentence-transformer teacher; a `TextAutoencoder` holding one
    (`sentence_encoder=`) returns its vectors from `encode()`, while `encode_latent()`, `decode()` and
    `reconstruct()` keep using the backbone.

    The network, for the pieces `p_1 .. p_n` of a text (the ids up to eos, pad, unk, bos and eos, are left out
    exactly, so the ids may end in eos as the backbone's do):

    - a vector per piece, `e_i = E[p_i]` (`output_dim` wide);
    - a context path that reads word order: `c_i = W2 · gelu(Conv1D_k(e)_i)`, a `kernel_size`-tap conv of width
      `context_width` followed by a 1-tap conv back to `output_dim` (zero-initialised, so the encoder starts as a
      weighted mean of piece vectors);
    - a learned weight per piece, `w_i = exp(L[p_i])` (initialised from corpus frequencies, as in SIF weighting);
    - the output, `sum_i w_i (e_i + c_i) / sum_i w_i`.

    Pads are zeroed before every conv, and past the end of a text a "same" conv reads zeros too, so a text's vector
    does not depend on how much padding follows it or on the batch it is in. No position embedding: any length works.

    Args:
        vocabulary_size: the tokenizer's number of pieces.
        output_dim: the width of the vectors.
        context_width: the width of the context conv (0: no context path, a weighted mean of piece vectors).
        kernel_size: the taps of the context conv.
        max_length: the longest id sequence read, eos included: a longer text is encoded from its first
            `max_length - 1` pieces.
        matryoshka_dims: the leading widths the encoder was trained to be used at (`encode(truncate_dim=...)`);
            empty when it was not trained for truncation.
        pieces_dtype: the storage dtype of the piece vectors, e.g. "float16" to halve a checkpoint (they are read
            in the layer's compute dtype); None: the layer's dtype.
        tokenizer: its `SentencePieceTokenizer` (saved as an asset with the model).

    Call arguments:
        token_ids: int `(batch, length)`, padded with 0 (an eos, or none, at the end of each text).

    Returns:
        float32 `(batch, output_dim)`.

    Example:

    >>> encoder = SentenceEncoder(vocabulary_size=tokenizer.vocab_size, tokenizer=tokenizer)
    >>> vectors = encoder.encode(["a cat sat on the mat", "a dog lay on the rug"])   # (2, 384)
    """

    def __init__(self, vocabulary_size, output_dim=384, context_width=256, kernel_size=3, max_length=512,
                 matryoshka_dims=(), pieces_dtype=None, tokenizer=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = check_int("vocabulary_size", vocabulary_size, 2)
        self.output_dim = check_int("output_dim", output_dim)
        self.context_width = check_int("context_width", context_width, 0)
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.max_length = check_int("max_length", max_length, 2)
        dims = tuple(int(d) for d in matryoshka_dims)
        if any(not 1 <= d <= output_dim for d in dims) or list(dims) != sorted(set(dims)):
            raise ValueError(f"`matryoshka_dims` must be increasing widths in [1, output_dim={output_dim}]. "
                             f"Received: matryoshka_dims={matryoshka_dims!r}")
        self.matryoshka_dims = dims
        self.tokenizer = tokenizer
        self.pieces_dtype = pieces_dtype
        policy = self.dtype_policy
        self.pieces = keras.layers.Embedding(vocabulary_size, output_dim, name="pieces",
                                             dtype=pieces_dtype or policy)
        self.piece_weights = keras.layers.Embedding(vocabulary_size, 1, embeddings_initializer="zeros",
                                                    name="piece_weights", dtype=policy)
        self.context_in = (keras.layers.Conv1D(context_width, kernel_size, padding="same", activation="gelu",
                                               name="context_in", dtype=policy) if context_width else None)
        self.context_out = (keras.layers.Conv1D(output_dim, 1, kernel_initializer="zeros", name="context_out",
                                                dtype=policy) if context_width else None)

    def build(self, input_shape=None):
        if self.built:
            return
        self.pieces.build((None, None))
        self.piece_weights.build((None, None))
        if self.context_in is not None:
            self.context_in.build((None, None, self.output_dim))
            self.context_out.build((None, None, self.context_width))
        self.built = True

    def call(self, token_ids):
        mask = ops.cast(token_ids > EOS_ID, self.compute_dtype)[..., None]  # pieces only: no pad, unk, bos, eos
        e = ops.cast(self.pieces(token_ids), self.compute_dtype) * mask
        if self.context_in is not None:
            e = e + self.context_out(self.context_in(e) * mask) * mask
        w = ops.exp(self.piece_weights(token_ids)) * mask
        pooled = ops.sum(w * e, axis=1) / ops.maximum(ops.sum(w, axis=1), 1e-6)
        return ops.cast(pooled, "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    # ---- texts ------------------------------------------------------------------------------------------------------
    def require_tokenizer(self):
        if self.tokenizer is None or not self.tokenizer.has_model:
            raise ValueError("This SentenceEncoder has no tokenizer: pass `tokenizer=` to encode texts.")
        return self.tokenizer

    @property
    def preprocessor(self):
        """The `HypertextPreprocessor` of this encoder's tokenizer and `max_length` (no length multiple)."""
        from hypertext.models.hypertext_preprocessor import HypertextPreprocessor

        return HypertextPreprocessor(self.tokenizer, self.max_length, 1)

    def encode(self, texts, batch_size=256):
        """`list[str]` → float32 `(N, output_dim)`, texts grouped by length (so the cost follows their length)."""
        self.require_tokenizer()
        preprocessor = self.preprocessor
        sequences = preprocessor.first_windows(preprocessor.tokenize(texts))
        if not sequences:
            return np.zeros((0, self.output_dim), "float32")
        return np.stack(preprocessor.map_by_length(self, sequences, batch_size)).astype("float32")

    def with_pieces_dtype(self, dtype):
        """A copy of this encoder (same weights, same tokenizer) whose piece vectors are stored as `dtype`."""
        config = {**self.get_config(), "pieces_dtype": dtype, "tokenizer": None}
        copy = type(self).from_config(config)
        copy.tokenizer = self.tokenizer
        copy.build()
        for mine, theirs in zip(copy.weights, self.weights):
            mine.assign(ops.cast(theirs, mine.dtype))
        return copy

    # ---- serialisation ----------------------------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "output_dim": self.output_dim,
                "context_width": self.context_width, "kernel_size": self.kernel_size, "max_length": self.max_length,
                "matryoshka_dims": list(self.matryoshka_dims), "pieces_dtype": self.pieces_dtype,
                "tokenizer": None if self.tokenizer is None else keras.saving.serialize_keras_object(self.tokenizer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("tokenizer") is not None:
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)
