"""`HypertextBackbone`: the network alone, token ids -> `z` -> logits."""

import math

import keras
from keras import ops

from hypertext.configs import Config, ModelConfig
from hypertext.models.blocks import (AttentionPooling, ConditionedConv, DecoderBlock, EncoderBlock, downsample_mask,
                                     real_tokens)
from hypertext.tokenizers.sentencepiece_tokenizer import PAD_ID


def as_model_config(config):
    """A validated `ModelConfig` from a `ModelConfig`, a recipe (`Config`, whose `.model` is taken) or a dict (of a
    model config, or an older flat config: see `ModelConfig.from_dict`)."""
    if isinstance(config, Config):
        config = config.model
    elif isinstance(config, dict):
        return ModelConfig.from_dict(config)
    if not isinstance(config, ModelConfig):
        raise ValueError(f"`config` must be a ModelConfig, a Config or a dict. Received: config={config!r}")
    return config.validate()


@keras.saving.register_keras_serializable(package="hypertext")
class HypertextBackbone(keras.Model):
    """A length-agnostic hypernetwork text autoencoder network: a conv encoder pools a text of any length into a
    sentence vector `z`, and a deconvolutional decoder rebuilds the text with conv kernels generated from `z`.

    - Encoder: token embedding plus learned position embedding, `num_stages` strided `Conv1D` stages (each halves
      the length) and `encoder_blocks` residual convs, with pads zeroed after every layer; then the pool of
      `pooling` and a Dense layer to `z` (`latent_dim`). The pool reads real positions only, so `z` does not depend
      on how much padding a batch adds, and it is the same kind of vector for a 5-piece and a 300-piece text.
      `pooled_latent` adds a second, order-free path: Dense(mean token embedding), and `semantic_width` a wider
      one for meaning: Dense(masked mean of gelu(Dense(encoder features))).
    - Sentence-embedding head (`embedding_dim` > 0; `embed_ids`): the masked mean of per-piece vectors plus
      Dense(masked mean of gelu(Dense(encoder features))), a vector apart from `z` that distillation trains for
      similarity (`encode()` returns it). It reads the encoder and nothing reads it: `z` and the decoder are the
      same with or without it.
    - Decoder: starts from `seed`, learned vectors at the shortest resolution (`max_length / 2**num_stages`
      positions of `seed_channels`), which do not depend on `z`, in the way StyleGAN2 starts from a learned constant.
      A first `HyperConv1D` reads the seed with a kernel generated from `z` (`readout_mode`). Then per stage a
      `HyperConv1DTranspose` doubles the length and `blocks_per_stage` residual `HyperConv1D` blocks refine it.
      Logits over the vocabulary, tied to the token embedding if asked.
    - `z` reaches the tokens only through generated kernels and biases: the context of every hyper layer is
      `LayerNormalization(z)` (`latent_context`). `hyper=False` is the plain twin of the same shape, in which each
      of those convs is a shared `Conv1D`/`Conv1DTranspose` followed by FiLM from the same context.
    - Length: one set of weights serves every length that is a multiple of `2**num_stages`, up to `max_length`.

    The attribute names and the order in which layers and weights are created are the checkpoint format (they name
    the weights in a `.keras` file): they are those of the single-class model that wrote checkpoints up to v5.

    Args:
        config: a `hypertext.configs.ModelConfig`, a recipe `Config` (its model part is used) or a dict.

    Call arguments:
        token_ids: int `(batch, length)`, eos-terminated and padded with 0, `length` a multiple of
            `2**num_stages` and at most `max_length`.

    Returns:
        float32 logits `(batch, length, vocab_size)`.

    Example:

    >>> backbone = HypertextBackbone(get_config("tiny"))
    >>> z = backbone.encode_ids(token_ids)             # (batch, latent_dim)
    >>> logits = backbone.decode_latent(z, length=16)  # (batch, 16, vocab_size)
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        c = self.config = as_model_config(config)
        policy = self.dtype_policy
        self.length_multiple = 2 ** c.num_stages
        # ---- encoder
        self.embedding = keras.layers.Embedding(c.vocab_size, c.embed_dim, name="embedding", dtype=policy)
        self.position_embedding = keras.layers.Embedding(c.max_length, c.embed_dim, name="position_embedding",
                                                         dtype=policy)
        self.encoder_convs = [keras.layers.Conv1D(c.channels, c.kernel_size, strides=2, padding="same",
                                                  activation="gelu", name=f"encoder_conv_{i}", dtype=policy)
                              for i in range(c.num_stages)]
        self.encoder_norms = [keras.layers.LayerNormalization(epsilon=1e-5, name=f"encoder_norm_{i}", dtype=policy)
                              for i in range(c.num_stages)]
        self.encoder_input = (keras.layers.Dense(c.channels, name="encoder_input", dtype=policy)
                              if c.num_stages == 0 else None)
        self.encoder_blocks = [EncoderBlock(c.channels, c.kernel_size, dilation_rate=2 ** i,
                                            name=f"encoder_block_{i}", dtype=policy)
                               for i in range(c.encoder_blocks)]
        self.attention_pool = (AttentionPooling(c.pool_heads, c.channels // c.pool_heads, name="attention_pool",
                                                dtype=policy) if c.pooling == "attention" else None)
        self.to_latent = keras.layers.Dense(c.latent_dim, name="to_latent", dtype=policy)
        # Position binding: each position's features, projected to latent_dim, are multiplied by that position's
        # learned code before the pool, so the pooled vector says which token sat where (an additive position
        # embedding alone survives a mean only weakly).
        self.binding = (self.add_weight(name="binding", shape=(c.max_length // self.length_multiple, c.latent_dim),
                                        initializer=keras.initializers.RandomNormal(stddev=1.0))
                        if c.pooling == "bind_positions" else None)
        self.pooled_to_latent = (keras.layers.Dense(c.latent_dim, name="pooled_to_latent", dtype=policy)
                                 if c.pooled_latent else None)
        # The semantic path (`semantic_width`): a per-position MLP layer, a masked mean, and a zero-initialised Dense.
        self.semantic_in = (keras.layers.Dense(c.semantic_width, activation="gelu", name="semantic_in", dtype=policy)
                            if c.semantic_width else None)
        self.semantic_out = (keras.layers.Dense(c.latent_dim, kernel_initializer="zeros", name="semantic_out",
                                                dtype=policy) if c.semantic_width else None)
        # The sentence-embedding head (`embedding_dim`): per-piece vectors and a contextual path, both mean-pooled.
        # Its output layer starts at zero, so at first the head is the mean of the piece vectors.
        head = c.embedding_dim > 0
        self.embedding_pieces = (keras.layers.Embedding(c.vocab_size, c.embedding_dim, name="embedding_pieces",
                                                        dtype=policy) if head else None)
        self.embedding_in = (keras.layers.Dense(c.embedding_width, activation="gelu", name="embedding_in",
                                                dtype=policy) if head else None)
        self.embedding_out = (keras.layers.Dense(c.embedding_dim, kernel_initializer="zeros", name="embedding_out",
                                                 dtype=policy) if head else None)
        # ---- decoder
        self.context_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="context_norm", dtype=policy)
        self.short_max = c.max_length // self.length_multiple
        self.seed = self.add_weight(name="seed", shape=(self.short_max, c.seed_channels),
                                    initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.readout = ConditionedConv(c.readout_channels or c.channels, c.kernel_size, c.hyper, activation="gelu",
                                       mode=c.readout_mode, num_bases=c.num_bases, rank=c.readout_rank,
                                       name="readout", dtype=policy)
        self.readout_up = (keras.layers.Dense(c.channels, name="readout_up", dtype=policy)
                           if (c.readout_channels or c.channels) != c.channels else None)
        self.upsamplers, self.upsample_norms, self.blocks = [], [], []
        for i in range(c.num_stages):
            self.upsamplers.append(ConditionedConv(c.channels, c.kernel_size, c.hyper, strides=2, transpose=True,
                                                   mode=c.generator_mode, num_bases=c.num_bases, rank=c.rank,
                                                   name=f"upsample_{i}", dtype=policy))
            self.upsample_norms.append(keras.layers.LayerNormalization(epsilon=1e-5, name=f"upsample_norm_{i}",
                                                                       dtype=policy))
        for i in range(max(c.num_stages, 1)):
            self.blocks.append([DecoderBlock(c, name=f"block_{i}_{j}", dtype=policy)
                                for j in range(c.blocks_per_stage)])
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="output_norm", dtype=policy)
        if c.tie_embeddings:
            self.output_projection = keras.layers.Dense(c.embed_dim, name="output_projection", dtype=policy)
            self.output_bias = self.add_weight(name="output_bias", shape=(c.vocab_size,), initializer="zeros")
        else:
            self.output_projection = keras.layers.Dense(c.vocab_size, name="output_projection", dtype=policy)

    def build(self, input_shape=None):
        if self.built:
            return
        # Build every sublayer with one forward pass on a dummy batch (all backends, eager).
        self.call(ops.ones((1, self.length_multiple), dtype="int32"))
        if self.embedding_pieces is not None:
            self.embed_ids(ops.ones((1, self.length_multiple), dtype="int32"))
        self.built = True

    def check_length(self, length):
        """A ValueError unless `length` (an int, or None: unknown) is a multiple of `2**num_stages` in
        [1, max_length]."""
        if length is not None and (length % self.length_multiple or length > self.config.max_length or length < 1):
            raise ValueError(
                f"`token_ids` must have a length that is a multiple of {self.length_multiple} (2**num_stages) and at "
                f"most max_length={self.config.max_length}. Received: length={length}")

    def encoder_features(self, token_ids):
        """int `(batch, length)` → what the encoder makes of the text before pooling: its features `h`
        `(batch, short, channels)`, their mask `(batch, short, 1)` and the token embeddings
        `(batch, length, embed_dim)`. Both `encode_ids` and `embed_ids` pool them."""
        self.check_length(token_ids.shape[1])
        length = ops.shape(token_ids)[1]
        embedded = self.embedding(token_ids)
        mask = ops.cast(token_ids != PAD_ID, embedded.dtype)[..., None]
        positions = self.position_embedding(ops.arange(length)[None, :])
        h = (embedded + positions) * mask
        if self.encoder_input is not None:
            h = self.encoder_input(h) * mask
        for conv, norm in zip(self.encoder_convs, self.encoder_norms):
            mask = downsample_mask(mask)
            h = norm(conv(h)) * mask
        for block in self.encoder_blocks:
            h = block(h, mask)
        return h, mask, embedded

    def encode_ids(self, token_ids, training=False, features=None):
        """int `(batch, length)` → the sentence embedding `z`, `(batch, latent_dim)` (`features`: what
        `encoder_features` returned for these ids, when the caller has it)."""
        h, mask, embedded = self.encoder_features(token_ids) if features is None else features
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        semantic = (self.semantic_out(ops.sum(self.semantic_in(h) * mask, axis=1) / count)
                    if self.semantic_in is not None else None)
        if self.binding is not None:
            codes = self.to_latent(h) * ops.cast(self.binding[:ops.shape(h)[1]], h.dtype)[None] * mask
            z = ops.sum(codes, axis=1) / ops.sqrt(count)
        elif self.attention_pool is not None:
            z = self.to_latent(self.attention_pool(h, mask))
        else:
            z = self.to_latent(ops.sum(h, axis=1) / count)
        if self.pooled_to_latent is not None:
            # The mean embedding of the real tokens (pad, bos and eos left out), the same wherever a word sits.
            real = real_tokens(token_ids, embedded.dtype)
            pooled = ops.sum(embedded * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
            z = z + self.pooled_to_latent(pooled)
        return z if semantic is None else z + semantic

    def embed_ids(self, token_ids, training=False, features=None):
        """int `(batch, length)` → what `encode()` returns, float32: the sentence-embedding head's
        `(batch, embedding_dim)` when the model has one (`embedding_dim` > 0), else `z`."""
        features = self.encoder_features(token_ids) if features is None else features
        if self.embedding_pieces is None:
            return ops.cast(self.encode_ids(token_ids, features=features), "float32")
        h, mask, _ = features
        real = real_tokens(token_ids, "float32")
        pieces = ops.cast(self.embedding_pieces(token_ids), "float32")
        static = ops.sum(pieces * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
        context = self.embedding_out(ops.sum(self.embedding_in(h) * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1),
                                                                                                   1.0))
        return static + ops.cast(context, "float32")

    def latent_context(self, z):
        """What every conditioned conv of the decoder reads of `z`: `LayerNormalization(z)`."""
        return self.context_norm(z)

    def decode_latent(self, z, length=None, training=False, context=None):
        """`z (batch, latent_dim)` → float32 logits `(batch, length, vocab_size)`; `length` defaults to `max_length`.

        `context`, optional: what the conditioned convs read instead of `latent_context(z)` (for ablations)."""
        c = self.config
        length = c.max_length if length is None else length
        if isinstance(length, int):
            self.check_length(length)
        if context is None:
            context = self.latent_context(z)
        short = length // self.length_multiple
        seed = ops.cast(self.seed[:short], context.dtype)
        h = ops.broadcast_to(seed[None], (ops.shape(context)[0], short, c.seed_channels))
        h = self.readout(h, context)
        if self.readout_up is not None:
            h = self.readout_up(h)
        for i, blocks in enumerate(self.blocks):
            if i < len(self.upsamplers):
                h = keras.activations.gelu(self.upsample_norms[i](self.upsamplers[i](h, context)))
            for block in blocks:
                h = block(h, context, training=training)
        h = self.output_projection(self.output_norm(h))
        if c.tie_embeddings:
            embeddings = ops.cast(self.embedding.embeddings, h.dtype)
            h = ops.einsum("ble,ve->blv", h, embeddings) / math.sqrt(c.embed_dim) + ops.cast(self.output_bias,
                                                                                                h.dtype)
        return ops.cast(h, "float32")

    def call(self, token_ids, training=False):
        z = self.encode_ids(token_ids, training=training)
        length = token_ids.shape[1]  # None inside a tf.function traced for every length (reduce_retracing)
        return self.decode_latent(z, length=ops.shape(token_ids)[1] if length is None else length, training=training)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}
