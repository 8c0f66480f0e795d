import math
import warnings

import keras
import numpy as np
from keras import ops

from hypertext.configs import Config, validate
from hypertext.layers import HyperConv1D, HyperConv1DTranspose
from hypertext.lengths import group_by_length, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID, PAD_ID


def _real_tokens(token_ids, dtype):
    """`(batch, length, 1)` mask: 1 on real tokens, 0 on pad, unk, bos and eos (the ids up to EOS_ID)."""
    return ops.cast(token_ids > EOS_ID, dtype)[..., None]


def _unit(v):
    """`v` in float32, each row scaled to unit length (rows of zeros stay zero)."""
    v = ops.cast(v, "float32")
    return v / ops.maximum(ops.sqrt(ops.sum(v * v, axis=-1, keepdims=True)), 1e-6)


def _downsample_mask(mask):
    """A `(batch, length, 1)` mask after one stride-2 "same" conv: a short position is real when either of its two
    inputs is."""
    return ops.max_pool(mask, pool_size=2, strides=2, padding="same")


class Film(keras.layers.Layer):
    """Feature-wise linear modulation, `h * (1 + scale(z)) + shift(z)`: how `z` enters the plain twin's convs in
    place of generated kernels. Both Dense heads start at zero, so the layer starts as the identity."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.to_scale_shift = keras.layers.Dense(2 * channels, kernel_initializer="zeros", name="scale_shift",
                                                 dtype=self.dtype_policy)

    def build(self, h_shape, context_shape):
        self.to_scale_shift.build(context_shape)
        self.built = True

    def call(self, h, context):
        scale, shift = ops.split(self.to_scale_shift(context)[:, None, :], 2, axis=-1)
        return h * (1.0 + scale) + shift


class ConditionedConv(keras.layers.Layer):
    """One conv (or transposed conv) that reads `z`: a `HyperConv1D`/`HyperConv1DTranspose` whose kernel and bias
    are generated from the context (`hyper=True`), or, in the plain twin, a shared `Conv1D`/`Conv1DTranspose`
    followed by FiLM from the same context. Either way `z` enters the decoder only here."""

    def __init__(self, filters, kernel_size, hyper, strides=1, transpose=False, activation=None, mode="basis",
                 num_bases=4, rank=4, **kwargs):
        super().__init__(**kwargs)
        self.hyper = hyper
        self.activation = keras.activations.get(activation)
        conv_args = dict(strides=strides, padding="same", dtype=self.dtype_policy, name="conv")
        if hyper:
            cls = HyperConv1DTranspose if transpose else HyperConv1D
            self.conv = cls(filters, kernel_size, mode=mode, num_bases=num_bases, rank=rank, **conv_args)
            self.film = None
        else:
            cls = keras.layers.Conv1DTranspose if transpose else keras.layers.Conv1D
            self.conv = cls(filters, kernel_size, **conv_args)
            self.film = Film(filters, name="film", dtype=self.dtype_policy)

    def call(self, h, context):
        if self.hyper:
            return self.activation(self.conv(h, context))
        return self.activation(self.film(self.conv(h), context))


class DecoderBlock(keras.layers.Layer):
    """Pre-norm residual block: `h + dropout(up(conv(down(layer_norm(h)), z)))`, the conv a `ConditionedConv`.
    `down`/`up` are Dense layers, present only when `block_channels` narrows the conv."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy)
        width = config.block_channels or config.channels
        narrow = width != config.channels
        self.down = keras.layers.Dense(width, dtype=self.dtype_policy) if narrow else None
        self.up = keras.layers.Dense(config.channels, dtype=self.dtype_policy) if narrow else None
        self.conv = ConditionedConv(width, config.kernel_size, config.hyper, activation="gelu",
                                    mode=config.generator_mode, num_bases=config.num_bases, rank=config.rank,
                                    dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.dropout)

    def call(self, h, context, training=False):
        branch = self.norm(h)
        if self.down is not None:
            branch = self.down(branch)
        branch = self.conv(branch, context)
        if self.up is not None:
            branch = self.up(branch)
        return h + self.dropout(branch, training=training)


class AttentionPooling(keras.layers.Layer):
    """Pools `(batch, length, channels)` over the real positions into `(batch, heads * head_dim)`: each of `heads`
    learned queries takes a softmax-weighted mean of per-position values. Queries read the position embeddings the
    encoder added to its input, so different heads can take different spans of the text; a text of any length
    gives the same kind of vector."""

    def __init__(self, heads, head_dim, **kwargs):
        super().__init__(**kwargs)
        self.heads = heads
        self.head_dim = head_dim
        self.keys = keras.layers.Dense(heads, name="keys", dtype=self.dtype_policy)  # one score per head
        self.values = keras.layers.Dense(heads * head_dim, name="values", dtype=self.dtype_policy)

    def call(self, h, mask):
        scores = ops.cast(self.keys(h), "float32") + (1.0 - ops.cast(mask, "float32")) * -1e9  # (b, L, heads)
        weights = ops.cast(ops.softmax(scores, axis=1), h.dtype)
        values = ops.reshape(self.values(h), (ops.shape(h)[0], ops.shape(h)[1], self.heads, self.head_dim))
        pooled = ops.einsum("blh,blhd->bhd", weights, values)
        return ops.reshape(pooled, (-1, self.heads * self.head_dim))


class EncoderBlock(keras.layers.Layer):
    """Pre-norm residual conv block of the encoder, `h + conv(layer_norm(h))`, with pads zeroed after it."""

    def __init__(self, channels, kernel_size, dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy)
        self.conv = keras.layers.Conv1D(channels, kernel_size, padding="same", dilation_rate=dilation_rate,
                                        activation="gelu", dtype=self.dtype_policy)

    def call(self, h, mask):
        return (h + self.conv(self.norm(h))) * mask


@keras.saving.register_keras_serializable(package="hypertext")
class TextAutoencoder(keras.Model):
    """A length-agnostic hypernetwork text autoencoder: a conv encoder pools a text of any length into a sentence
    vector `z`, and a deconvolutional decoder rebuilds the text with conv kernels generated from `z`.

    - Encoder: token embedding plus learned position embedding, `num_stages` strided `Conv1D` stages (each halves
      the length) and `encoder_blocks` residual convs, with pads zeroed after every layer; then a masked mean over
      positions and a Dense layer to `z` (`latent_dim`). The mean is over real positions only, so `z` does not depend
      on how much padding a batch adds, and it is the same kind of vector for a 5-piece and a 300-piece text.
      `pooled_latent` adds a second, order-free path: Dense(mean token embedding), and `semantic_width` a wider
      one for meaning: Dense(masked mean of gelu(Dense(encoder features))).
    - Decoder: starts from `seed`, learned vectors at the shortest resolution (`max_length / 2**num_stages`
      positions of `seed_channels`), which do not depend on `z`, in the way StyleGAN2 starts from a learned constant.
      A first `HyperConv1D` reads the seed with a kernel generated from `z` (`readout_mode`; the seed is the same for
      every text, so everything that makes the output this text comes through that kernel). Then per stage a
      `HyperConv1DTranspose` doubles the length and `blocks_per_stage` residual `HyperConv1D` blocks refine it.
      Logits over the vocabulary, tied to the token embedding if asked.
    - `z` reaches the tokens only through generated kernels and biases: the context of every hyper layer is
      `LayerNormalization(z)`. `hyper=False` is the plain twin of the same shape, in which each of those convs is
      a shared `Conv1D`/`Conv1DTranspose` followed by FiLM (per-channel scale and shift from the same context).
    - Length: one set of weights serves every length that is a multiple of `2**num_stages`, up to `max_length`:
      a text of `n` pieces is padded to a bucket length `L >= n + 1`, the decoder runs `L / 2**num_stages` seed
      positions, and the text ends at the first eos it predicts. `decode(z)` without a length runs at `max_length`.

    The tokenizer lives inside the model and is saved into the `.keras` file as an asset, so `hypertext.load(path)`
    gives back a model that reads and writes text.

    Args:
        config: a `hypertext.configs.Config` or its dict.
        tokenizer: a `SentencePieceTokenizer` (optional for the array API, required for the text API).
        metadata: JSON-able dict saved with the model (train.py records the corpus it trained on).

    Call arguments:
        token_ids: int `(batch, length)`, eos-terminated and padded with 0, `length` a multiple of
            `2**num_stages` and at most `max_length`.

    Returns:
        float32 logits `(batch, length, vocab_size)`.

    Example:

    >>> model = hypertext.load("wordnet")   # or a path to a model.keras
    >>> model.reconstruct(["a small domesticated carnivore"])
    ['a small domesticated carnivore']
    """

    def __init__(self, config, tokenizer=None, metadata=None, **kwargs):
        super().__init__(**kwargs)
        config = validate(Config(**config) if isinstance(config, dict) else config)
        self.config = config
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        c = config
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
                                                dtype=policy) if c.pool_heads else None)
        self.to_latent = keras.layers.Dense(c.latent_dim, name="to_latent", dtype=policy)
        # Position binding: each position's features, projected to latent_dim, are multiplied by that position's
        # learned code before the pool, so the pooled vector says which token sat where (an additive position
        # embedding alone survives a mean only weakly).
        self.binding = (self.add_weight(name="binding", shape=(c.max_length // self.length_multiple, c.latent_dim),
                                        initializer=keras.initializers.RandomNormal(stddev=1.0))
                        if c.bind_positions else None)
        self.pooled_to_latent = (keras.layers.Dense(c.latent_dim, name="pooled_to_latent", dtype=policy)
                                 if c.pooled_latent else None)
        # The semantic path (`semantic_width`): a per-position MLP layer, a masked mean, and a zero-initialised Dense.
        self.semantic_in = (keras.layers.Dense(c.semantic_width, activation="gelu", name="semantic_in", dtype=policy)
                            if c.semantic_width else None)
        self.semantic_out = (keras.layers.Dense(c.latent_dim, kernel_initializer="zeros", name="semantic_out",
                                                dtype=policy) if c.semantic_width else None)
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
        # Training-only auxiliary head, z -> the text's bag of tokens (see `bag_of_tokens_loss`).
        self.bow_head = (keras.layers.Dense(c.vocab_size, name="bow_head", dtype=policy) if c.bow_weight > 0
                         else None)
        # Per-token weights of the bag (inverse document frequencies with `bow_idf`, set by `set_bag_of_tokens_idf`).
        self.bow_token_weights = (self.add_weight(name="bow_token_weights", shape=(c.vocab_size,),
                                                  initializer="ones", trainable=False)
                                  if self.bow_head is not None else None)
        # Training-only head of `distill_mode="projection"`: z -> the teacher's vector.
        self.distill_head = (keras.layers.Dense(c.teacher_dim, name="distill_head", dtype=policy)
                             if c.distill_weight > 0 and c.distill_mode == "projection" else None)

    # ---- the network ------------------------------------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        # Build every sublayer with one forward pass on a dummy batch (all backends, eager).
        self.call(ops.ones((1, self.length_multiple), dtype="int32"))
        for head in (self.bow_head, self.distill_head):
            if head is not None:
                head.build((None, self.config.latent_dim))
        self.built = True

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' `Model.export`, whose input here defaults to int32 token ids `(batch, length)`. (Keras infers a
        subclassed model's signature only from a first call that also built it; `build` builds this one itself.)"""
        if input_signature is None:
            input_signature = [keras.InputSpec(shape=(None, None), dtype="int32", name="token_ids")]
        if format == "onnx":
            from hypertext.export import register_tf2onnx_erfc  # TF's gelu needs it

            register_tf2onnx_erfc()
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def _check_length(self, length):
        if length is not None and (length % self.length_multiple or length > self.config.max_length or length < 1):
            raise ValueError(
                f"`token_ids` must have a length that is a multiple of {self.length_multiple} (2**num_stages) and at "
                f"most max_length={self.config.max_length}. Received: length={length}")

    def encode_ids(self, token_ids, training=False):
        """int `(batch, length)` → the sentence embedding `z`, `(batch, latent_dim)`."""
        self._check_length(token_ids.shape[1])
        length = ops.shape(token_ids)[1]
        embedded = self.embedding(token_ids)
        mask = ops.cast(token_ids != PAD_ID, embedded.dtype)[..., None]
        positions = self.position_embedding(ops.arange(length)[None, :])
        h = (embedded + positions) * mask
        if self.encoder_input is not None:
            h = self.encoder_input(h) * mask
        for conv, norm in zip(self.encoder_convs, self.encoder_norms):
            mask = _downsample_mask(mask)
            h = norm(conv(h)) * mask
        for block in self.encoder_blocks:
            h = block(h, mask)
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
            real = _real_tokens(token_ids, embedded.dtype)
            pooled = ops.sum(embedded * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
            z = z + self.pooled_to_latent(pooled)
        return z if semantic is None else z + semantic

    def decode_latent(self, z, length=None, training=False, context=None):
        """`z (batch, latent_dim)` → float32 logits `(batch, length, vocab_size)`; `length` defaults to `max_length`.

        `context`, optional: what the conditioned convs read instead of `LayerNormalization(z)` (for ablations)."""
        c = self.config
        length = c.max_length if length is None else length
        if isinstance(length, int):
            self._check_length(length)
        if context is None:
            context = self.context_norm(z)
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

    def set_bag_of_tokens_idf(self, sequences):
        """Sets `bow_token_weights` to the inverse document frequencies of `sequences` (token-id sequences, ragged
        or a padded 2-D array): the weights that `bow_idf=True` asks for. `train()` calls it with the training
        split."""
        if self.bow_token_weights is None:
            raise ValueError("This model has no bag-of-tokens head: set `bow_weight` > 0 in its config.")
        lengths = [len(seq) for seq in sequences]
        tokens = np.concatenate([np.asarray(seq, "int64").reshape(-1) for seq in sequences]) if lengths else []
        rows = np.repeat(np.arange(len(lengths), dtype="int64"), lengths)
        # Each (text, token) pair once: a token's document frequency counts texts, not occurrences.
        pairs = np.unique(rows * self.config.vocab_size + tokens)
        document_frequency = np.bincount(pairs % self.config.vocab_size, minlength=self.config.vocab_size)
        self.bow_token_weights.assign(
            (np.log((1 + len(sequences)) / (1 + document_frequency)) + 1).astype("float32"))

    def training_head_variables(self):
        """The variables that only training uses (the bag-of-tokens head and its token weights, the distillation
        head), in `weights` order; `encode`, `decode` and `reconstruct` do not read them."""
        heads = [*self.bow_head.weights, self.bow_token_weights] if self.bow_head is not None else []
        return heads + (self.distill_head.weights if self.distill_head is not None else [])

    def contrastive_loss(self, z, z_positive):
        """The loss of `contrastive_weight`: symmetric InfoNCE with in-batch negatives. Row `i` of `z` and row `i` of
        `z_positive` (a text and a positive of it: another text of the same meaning, or a noisy view of itself) are
        the pair; every other row of the batch is a negative. With cosine similarities `s_ij / contrastive_temperature`
        as logits, the loss is the mean of the cross-entropies of picking `i` from row `i` and from column `i`.
        It is what makes cosine similarity between `encode()` vectors mean "says the same thing".
        """
        logits = ops.matmul(_unit(z), ops.transpose(_unit(z_positive))) / self.config.contrastive_temperature
        rows = ops.mean(ops.logsumexp(logits, axis=1) - ops.diagonal(logits))
        columns = ops.mean(ops.logsumexp(logits, axis=0) - ops.diagonal(logits))
        return (rows + columns) / 2

    def distill_loss(self, z, teacher):
        """The loss of `distill_weight`; `teacher` holds a teacher encoder's vectors of the same texts.

        - `distill_mode="similarity"`: `z`'s in-batch cosine similarities are made to match the teacher's. For each
          row `i`, both encoders' cosine similarities to the other rows of the batch (`j != i`), divided by
          `distill_temperature`, become softmax distributions, and the loss is the KL divergence from the teacher's
          to `z`'s, averaged over rows (0 when they agree). Only similarities are compared, so `z` keeps its own
          width and basis, and what it learns is what cosine similarity between `encode()` vectors means.
        - `distill_mode="projection"`: 1 - the cosine between `distill_head(z)` and the teacher's vector, averaged
          over the batch (`teacher` must be `(batch, teacher_dim)`). It asks only that the teacher's vector be
          linearly readable from `z`, as a linear probe reads it.
        """
        if self.distill_head is not None:
            return 1.0 - ops.mean(ops.sum(_unit(self.distill_head(z)) * _unit(teacher), axis=-1))

        def similarities(v):
            """Row-wise log-softmax of the cosine similarities / temperature, the diagonal masked out (its
            probability is exactly 0, so it adds nothing to the KL sum below)."""
            v = _unit(v)
            logits = ops.matmul(v, ops.transpose(v)) / self.config.distill_temperature
            return ops.log_softmax(logits - 1e9 * ops.eye(ops.shape(v)[0], dtype="float32"), axis=-1)

        target = similarities(teacher)
        return ops.mean(ops.sum(ops.exp(target) * (target - similarities(z)), axis=-1))

    def call(self, inputs, training=False):
        """`inputs`: int token ids `(batch, length)`, or a dict of them (`"token_ids"`), of a positive of each text
        (`"positive_ids"`, `(batch, any length)`) for the contrastive loss, and of a teacher's vectors of the texts
        (`"teacher_vectors"`, `(batch, any width)`) for the distillation loss. Each loss is added whenever its
        input comes and its weight is > 0."""
        token_ids, positive_ids, teacher = inputs, None, None
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - {"token_ids", "positive_ids", "teacher_vectors"})
            if unknown or "token_ids" not in inputs:
                raise ValueError("A dict input must have the key 'token_ids' and optionally 'positive_ids' and "
                                 f"'teacher_vectors'. Received: keys={sorted(inputs)}")
            token_ids, positive_ids, teacher = (inputs["token_ids"], inputs.get("positive_ids"),
                                                inputs.get("teacher_vectors"))
        z = self.encode_ids(token_ids, training=training)
        if training and self.bow_head is not None:
            self.add_loss(self.config.bow_weight * self.bag_of_tokens_loss(token_ids, z))
        if positive_ids is not None and self.config.contrastive_weight > 0:
            z_positive = self.encode_ids(positive_ids, training=training)
            self.add_loss(self.config.contrastive_weight * self.contrastive_loss(z, z_positive))
        if teacher is not None and self.config.distill_weight > 0:
            self.add_loss(self.config.distill_weight * self.distill_loss(z, teacher))
        length = token_ids.shape[1]  # None inside a tf.function traced for every length (reduce_retracing)
        return self.decode_latent(z, length=ops.shape(token_ids)[1] if length is None else length, training=training)

    # ---- the text API -----------------------------------------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None or self.tokenizer._processor is None:
            raise ValueError("This model has no tokenizer: the text API (encode, reconstruct, decode) needs one.")
        return self.tokenizer

    def _pieces(self, texts):
        if isinstance(texts, str):
            raise ValueError("Pass a list of texts, not a single string. Received: a str")
        return self._require_tokenizer().encode(list(texts))

    def texts_to_ids(self, texts):
        """Tokenizes to `(N, max_length)` ids (eos-terminated, padded), warning when texts are truncated."""
        pieces = self._pieces(texts)
        self._warn_long(pieces, "truncated")
        return pad_batch(self.first_windows(pieces), self.config.max_length)

    def first_windows(self, pieces):
        """What the model reads of each token-id sequence (no eos): its first `max_length - 1` pieces, then eos."""
        return [list(p[:self.config.max_length - 1]) + [EOS_ID] for p in pieces]

    def _warn_long(self, pieces, action):
        long = sum(len(p) + 1 > self.config.max_length for p in pieces)
        if long:
            warnings.warn(f"{long} of {len(pieces)} texts were longer than max_length={self.config.max_length} "
                          f"tokens (eos included) and were {action}.", stacklevel=3)

    def _compiled(self, name, fn):
        """`fn` compiled once per model for inference: on TensorFlow a `tf.function` (it reads the variables at every
        call, and relaxes to an unknown batch and length after a few shapes); on JAX and PyTorch `fn` itself, run
        eagerly, since a jitted closure would freeze the weights it read."""
        cache = self.__dict__.setdefault("_inference_functions", {})  # not a tracked Keras attribute
        if name not in cache:
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                fn = tf.function(fn, reduce_retracing=True)
            cache[name] = fn
        return cache[name]

    def _map_by_length(self, fn, sequences, batch_size):
        """Runs `fn(ids (n, L)) -> array (n, ...)` over `sequences` (eos-terminated, each at most `max_length`) in
        batches of texts of similar length, each padded to its bucket length `L`; returns the per-text results in
        input order."""
        lengths = [len(s) for s in sequences]
        results = [None] * len(sequences)
        for indices, length in group_by_length(lengths, batch_size, self.length_multiple, self.config.max_length):
            out = keras.ops.convert_to_numpy(fn(pad_batch([sequences[i] for i in indices], length)))
            for i, row in zip(indices, out):
                results[i] = row
        return results

    def encode(self, texts, batch_size=256, normalize=False):
        """Sentence embeddings: `list[str]` → float32 `(N, latent_dim)`. Deterministic; any N, including 0.

        Compare vectors by cosine similarity (what `evaluate.py --noise` uses); `normalize=True` returns them scaled
        to unit L2 norm, so that a dot product is the cosine. `decode` wants the raw, unnormalised vectors.

        Texts are grouped by length, so the cost follows their length. A text longer than `max_length` pieces (eos
        included) is encoded from its first `max_length - 1` pieces, with one warning per call giving the count."""
        pieces = self._pieces(texts)
        self._warn_long(pieces, "encoded from their first max_length - 1 pieces")
        sequences = self.first_windows(pieces)
        if not sequences:
            return np.zeros((0, self.config.latent_dim), "float32")
        encode = self._compiled("encode", self.encode_ids)
        z = np.stack(self._map_by_length(encode, sequences, batch_size)).astype("float32")
        if normalize:
            z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return z

    def decode(self, z, batch_size=256):
        """`(N, latent_dim)` vectors → `list[str]`, the greedy (argmax) reconstruction of each, decoded at
        `max_length` and cut at the first eos."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"`z` must have shape (N, {self.config.latent_dim}). Received: z.shape={z.shape}")
        tokenizer = self._require_tokenizer()
        if len(z) == 0:
            return []
        decode = self._compiled("decode", lambda z: ops.argmax(self.decode_latent(z), axis=-1))
        ids = [keras.ops.convert_to_numpy(decode(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
        return tokenizer.decode(np.concatenate(ids))

    def reconstruct_pieces(self, pieces, batch_size=256, window=None):
        """Token-id sequences (no eos) → their greedy reconstructions (no eos), each as long as the model made it.

        A sequence of at most `window` pieces (default: the config's `reconstruct_window`, capped at
        `max_length - 1`) is encoded and decoded at its bucket
        length. A longer one of n pieces is cut into `k = ceil(n / window)` consecutive windows of nearly equal size
        (their lengths differ by at most one); each window is reconstructed on its own, as a text of its own ending
        in eos, and the windows' outputs are joined in order, so the whole text comes back. A smaller `window`
        trades more windows for shorter ones, which these models reconstruct more accurately."""
        if window is None:
            window = min(self.config.reconstruct_window, self.config.max_length - 1)
        if not isinstance(window, int) or not 1 <= window <= self.config.max_length - 1:
            raise ValueError(f"`window` must be an integer in [1, max_length - 1 = {self.config.max_length - 1}]. "
                             f"Received: window={window!r}")
        sequences, owner = [], []
        for i, p in enumerate(pieces):
            count = max(1, -(-len(p) // window))
            bounds = [round(j * len(p) / count) for j in range(count + 1)]
            for start, end in zip(bounds, bounds[1:]):
                sequences.append(list(p[start:end]) + [EOS_ID])
                owner.append(i)
        if not sequences:
            return []
        predicted = self._map_by_length(self._compiled("reconstruct", lambda ids: ops.argmax(self(ids), axis=-1)),
                                        sequences, batch_size)
        out = [[] for _ in pieces]
        for i, row in zip(owner, predicted):
            row = row.tolist()
            out[i].extend(row[:row.index(EOS_ID)] if EOS_ID in row else row)
        return out

    def reconstruct(self, texts, batch_size=256):
        """Encodes then decodes: `list[str]` → `list[str]`, texts of any length (longer ones window by window,
        see `reconstruct_pieces`)."""
        pieces = self._pieces(texts)
        return self.tokenizer.decode(self.reconstruct_pieces(pieces, batch_size)) if pieces else []

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
