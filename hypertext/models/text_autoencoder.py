import math
import warnings

import keras
import numpy as np
from keras import ops

from hypertext.configs import Config, validate
from hypertext.layers import HyperConv1D, HyperConv1DTranspose
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID


class DecoderBlock(keras.layers.Layer):
    """Pre-norm residual block: `h + dropout(up(conv(down(layer_norm(h)))))`, the conv a HyperConv1D driven by z or,
    in the ablation, a plain Conv1D of the same shape. `down`/`up` are Dense layers, present only when
    `block_channels` narrows the conv."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.hyper = config.hyper
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy)
        width = config.block_channels or config.channels
        self.down = keras.layers.Dense(width, dtype=self.dtype_policy) if width != config.channels else None
        self.up = keras.layers.Dense(config.channels, dtype=self.dtype_policy) if width != config.channels else None
        if config.hyper:
            self.conv = HyperConv1D(width, config.kernel_size, padding="same", activation="gelu",
                                    mode=config.generator_mode, num_bases=config.num_bases, rank=config.rank,
                                    dtype=self.dtype_policy)
        else:
            self.conv = keras.layers.Conv1D(width, config.kernel_size, padding="same", activation="gelu",
                                            dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.dropout)

    def call(self, h, context, training=False):
        branch = self.norm(h)
        if self.down is not None:
            branch = self.down(branch)
        branch = self.conv(branch, context) if self.hyper else self.conv(branch)
        if self.up is not None:
            branch = self.up(branch)
        return h + self.dropout(branch, training=training)


def _real_tokens(token_ids, dtype):
    """`(batch, length, 1)` mask: 1 on real tokens, 0 on pad, unk, bos and eos (the ids up to EOS_ID)."""
    return ops.cast(token_ids > EOS_ID, dtype)[..., None]


@keras.saving.register_keras_serializable(package="hypertext")
class TextAutoencoder(keras.Model):
    """A hypernetwork text autoencoder: a conv encoder to a sentence vector `z`, and a deconvolutional decoder whose
    conv kernels are generated from `z`.

    - Encoder: token embedding, `num_stages` strided `Conv1D` blocks (each halves the length), then a Dense layer to
      `z` of size `latent_dim`.
    - Hypernetwork: `LayerNormalization(z)` (unit variance, as hyperfan-in assumes) is the context of every hyper
      layer of the decoder.
    - Decoder: `z` → Dense → reshape to `max_length / 2**num_stages` steps, then per stage a `Conv1DTranspose`
      (or `HyperConv1DTranspose`) that doubles the length and `blocks_per_stage` residual `HyperConv1D` blocks with
      pre-layer-normalisation; `block_channels` runs each block's conv at a narrower width between two Dense layers,
      which keeps the per-sample kernels small (the `small` config uses 64 of 192). Logits over the vocabulary, optionally tied to the token embedding.
    - `hyper=False` swaps every `HyperConv1D` for a `Conv1D` of the same shape: the ablation twin.

    The tokenizer lives inside the model and is saved into the `.keras` file as an asset, so `hypertext.load(path)`
    gives back a model that reads and writes text.

    Args:
        config: a `hypertext.configs.Config` or its dict.
        tokenizer: a `SentencePieceTokenizer` (optional for the array API, required for the text API).
        metadata: JSON-able dict saved with the model (train.py records the corpus it trained on).

    Call arguments:
        token_ids: int `(batch, max_length)`.

    Returns:
        float32 logits `(batch, max_length, vocab_size)`.
    """

    def __init__(self, config, tokenizer=None, metadata=None, **kwargs):
        super().__init__(**kwargs)
        config = validate(Config(**config) if isinstance(config, dict) else config)
        self.config = config
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        c = config
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(c.vocab_size, c.embed_dim, name="embedding", dtype=policy)
        self.encoder_convs = [keras.layers.Conv1D(c.channels, c.kernel_size, strides=2, padding="same",
                                                  activation="gelu", name=f"encoder_conv_{i}", dtype=policy)
                              for i in range(c.num_stages)]
        self.encoder_norms = [keras.layers.LayerNormalization(epsilon=1e-5, name=f"encoder_norm_{i}", dtype=policy)
                              for i in range(c.num_stages)]
        self.to_latent = keras.layers.Dense(c.latent_dim, name="to_latent", dtype=policy)
        self.pooled_to_latent = (keras.layers.Dense(c.latent_dim, name="pooled_to_latent", dtype=policy)
                                 if c.pooled_latent else None)
        # The hypernetworks' context; the plain twin (hyper=False, hyper_transpose=False) has no use for it.
        self.context_norm = (keras.layers.LayerNormalization(epsilon=1e-5, name="context_norm", dtype=policy)
                             if c.hyper or c.hyper_transpose else None)
        self.short_length = c.max_length // 2**c.num_stages
        self.from_latent = keras.layers.Dense(self.short_length * c.channels, name="from_latent", dtype=policy)
        self.upsamplers, self.upsample_norms, self.blocks = [], [], []
        for i in range(c.num_stages):
            if c.hyper_transpose:
                up = HyperConv1DTranspose(c.channels, c.kernel_size, strides=2, padding="same",
                                          mode=c.generator_mode, num_bases=c.num_bases, rank=c.rank,
                                          name=f"upsample_{i}", dtype=policy)
            else:
                up = keras.layers.Conv1DTranspose(c.channels, c.kernel_size, strides=2, padding="same",
                                                  name=f"upsample_{i}", dtype=policy)
            self.upsamplers.append(up)
            self.upsample_norms.append(keras.layers.LayerNormalization(epsilon=1e-5, name=f"upsample_norm_{i}",
                                                                       dtype=policy))
            self.blocks.append([DecoderBlock(c, name=f"block_{i}_{j}", dtype=policy)
                                for j in range(c.blocks_per_stage)])
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="output_norm", dtype=policy)
        if c.tie_embeddings:
            self.output_projection = keras.layers.Dense(c.embed_dim, name="output_projection", dtype=policy)
            self.output_bias = self.add_weight(name="output_bias", shape=(c.vocab_size,), initializer="zeros")
        else:
            self.output_projection = keras.layers.Dense(c.vocab_size, name="output_projection", dtype=policy)
        # Training-only auxiliary head, z -> the text's bag of tokens (see `bag_of_tokens_loss`).
        self.bow_head = (keras.layers.Dense(c.vocab_size, name="bow_head", dtype=policy) if c.bow_weight > 0
                         else None)
        # Per-token weights of the bag (inverse document frequencies with `bow_idf`, set by `set_bag_of_tokens_idf`).
        self.bow_token_weights = (self.add_weight(name="bow_token_weights", shape=(c.vocab_size,),
                                                  initializer="ones", trainable=False)
                                  if self.bow_head is not None else None)

    # ---- the network ------------------------------------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        # Build every sublayer with one forward pass on a dummy batch (all backends, eager).
        self.call(ops.ones((1, self.config.max_length), dtype="int32"))
        if self.bow_head is not None:
            self.bow_head.build((None, self.config.latent_dim))
        self.built = True

    def encode_ids(self, token_ids, training=False):
        """int `(batch, max_length)` → the sentence embedding `z`, `(batch, latent_dim)`."""
        embedded = h = self.embedding(token_ids)
        for conv, norm in zip(self.encoder_convs, self.encoder_norms):
            h = norm(conv(h))
        h = ops.reshape(h, (-1, self.short_length * self.config.channels))
        z = self.to_latent(h)
        if self.pooled_to_latent is not None:
            # The mean embedding of the real tokens (pad, bos and eos left out), the same wherever a word sits.
            real = _real_tokens(token_ids, embedded.dtype)
            pooled = ops.sum(embedded * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
            z = z + self.pooled_to_latent(pooled)
        return z

    def decode_latent(self, z, training=False, context=None):
        """`z (batch, latent_dim)` → float32 logits `(batch, max_length, vocab_size)`.

        `context`, optional: what the hyper layers read instead of `LayerNormalization(z)` (for ablations)."""
        c = self.config
        if context is None and self.context_norm is not None:
            context = self.context_norm(z)
        h = ops.reshape(self.from_latent(z), (-1, self.short_length, c.channels))
        for up, norm, blocks in zip(self.upsamplers, self.upsample_norms, self.blocks):
            h = up(h, context) if c.hyper_transpose else up(h)
            h = keras.activations.gelu(norm(h))
            for block in blocks:
                h = block(h, context, training=training)
        h = self.output_projection(self.output_norm(h))
        if c.tie_embeddings:
            embeddings = ops.cast(self.embedding.embeddings, h.dtype)
            h = ops.einsum("ble,ve->blv", h, embeddings) / math.sqrt(c.embed_dim) + ops.cast(self.output_bias,
                                                                                                h.dtype)
        return ops.cast(h, "float32")

    def bag_of_tokens_loss(self, token_ids, z):
        """The auxiliary loss of `bow_weight`: the cross-entropy between the text's token frequencies (pad, unk, bos
        and eos left out; each token weighted by `bow_token_weights`) and a softmax over the vocabulary read linearly
        from `z`, averaged over the batch. It asks z to hold *which* tokens a text has in a position-free, linear
        subspace, which reconstruction alone does not (there, the same word at another offset is another direction).
        """
        real = _real_tokens(token_ids, "float32")
        counts = ops.sum(ops.one_hot(token_ids, self.config.vocab_size, dtype="float32") * real, axis=1)
        weighted = counts * ops.cast(self.bow_token_weights, "float32")
        frequencies = weighted / ops.maximum(ops.sum(weighted, axis=-1, keepdims=True), 1e-9)
        log_probs = ops.log_softmax(ops.cast(self.bow_head(z), "float32"), axis=-1)
        return -ops.mean(ops.sum(frequencies * log_probs, axis=-1))

    def set_bag_of_tokens_idf(self, token_ids):
        """Sets `bow_token_weights` to the inverse document frequencies of `token_ids` (N, max_length): the weights
        that `bow_idf=True` asks for. `train()` calls it with the training split."""
        if self.bow_token_weights is None:
            raise ValueError("This model has no bag-of-tokens head: set `bow_weight` > 0 in its config.")
        ids = np.sort(np.asarray(token_ids), axis=1)
        first = np.ones(ids.shape, bool)  # each id once per text: the first of its run in the sorted row
        first[:, 1:] = ids[:, 1:] != ids[:, :-1]
        document_frequency = np.bincount(ids[first], minlength=self.config.vocab_size)
        self.bow_token_weights.assign(
            (np.log((1 + len(token_ids)) / (1 + document_frequency)) + 1).astype("float32"))

    def call(self, token_ids, training=False):
        z = self.encode_ids(token_ids, training=training)
        if training and self.bow_head is not None:
            self.add_loss(self.config.bow_weight * self.bag_of_tokens_loss(token_ids, z))
        return self.decode_latent(z, training=training)

    # ---- the text API -----------------------------------------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None or self.tokenizer._processor is None:
            raise ValueError("This model has no tokenizer: the text API (encode, reconstruct, decode) needs one.")
        return self.tokenizer

    def texts_to_ids(self, texts):
        """Tokenizes to `(N, max_length)` ids (eos-terminated, padded), warning when texts are truncated."""
        if isinstance(texts, str):
            raise ValueError("Pass a list of texts, not a single string. Received: a str")
        texts = list(texts)
        ids, truncated = self._require_tokenizer().encode_padded(texts, self.config.max_length, add_eos=True)
        if truncated:
            warnings.warn(f"{truncated} of {len(texts)} texts were longer than max_length={self.config.max_length} "
                          "tokens and were truncated.", stacklevel=3)
        return ids

    def _batched(self, fn, array, batch_size, width):
        if len(array) == 0:
            return np.zeros((0, *width), "float32")
        outputs = [keras.ops.convert_to_numpy(fn(array[i:i + batch_size]))
                   for i in range(0, len(array), batch_size)]
        return np.concatenate(outputs).astype("float32")

    def encode(self, texts, batch_size=256):
        """Sentence embeddings: `list[str]` → float32 `(N, latent_dim)`. Deterministic; any N, including 0."""
        ids = self.texts_to_ids(texts)
        return self._batched(lambda b: self.encode_ids(b), ids, batch_size, (self.config.latent_dim,))

    def decode(self, z, batch_size=256):
        """`(N, latent_dim)` vectors → `list[str]`, the greedy (argmax) reconstruction of each."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"`z` must have shape (N, {self.config.latent_dim}). Received: z.shape={z.shape}")
        tokenizer = self._require_tokenizer()
        if len(z) == 0:
            return []
        ids = [np.argmax(keras.ops.convert_to_numpy(self.decode_latent(z[i:i + batch_size])), axis=-1)
               for i in range(0, len(z), batch_size)]
        return tokenizer.decode(np.concatenate(ids))

    def reconstruct_ids(self, ids, batch_size=256):
        """`(N, max_length)` ids → the argmax reconstruction ids `(N, max_length)`."""
        if len(ids) == 0:
            return np.zeros((0, self.config.max_length), "int32")
        out = [np.argmax(keras.ops.convert_to_numpy(self(ids[i:i + batch_size])), axis=-1)
               for i in range(0, len(ids), batch_size)]
        return np.concatenate(out).astype("int32")

    def reconstruct(self, texts, batch_size=256):
        """Encodes then decodes: `list[str]` → `list[str]`."""
        ids = self.texts_to_ids(texts)
        return self._require_tokenizer().decode(self.reconstruct_ids(ids, batch_size)) if len(ids) else []

    def interpolate(self, first, second, steps=5):
        """Decodes `steps` points on the straight line from `encode(first)` to `encode(second)`, ends included."""
        if steps < 2:
            raise ValueError(f"`steps` must be an integer >= 2. Received: steps={steps!r}")
        z = self.encode([first, second])
        weights = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        return self.decode((1 - weights) * z[0] + weights * z[1])

    # ---- serialisation ----------------------------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "tokenizer": None if self.tokenizer is None else keras.saving.serialize_keras_object(self.tokenizer),
            "metadata": self.metadata,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("tokenizer") is not None:
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)

