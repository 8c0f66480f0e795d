"""The building blocks of the hypertext backbone: the conditioned convs of the decoder (`ConditionedConv`, with
`Film` for the plain twin), its residual `DecoderBlock`, the encoder's `EncoderBlock` and `AttentionPooling`, and
small tensor helpers.

The class names and attribute names here are part of the checkpoint format: Keras names the weights of a list of
layers by their class names, so renaming a class would orphan the weights of older `.keras` files."""

import keras
from keras import ops

from hypertext.layers import HyperConv1D, HyperConv1DTranspose
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID


def real_tokens(token_ids, dtype):
    """`(batch, length, 1)` mask: 1 on real tokens, 0 on pad, unk, bos and eos (the ids up to EOS_ID)."""
    return ops.cast(token_ids > EOS_ID, dtype)[..., None]


def unit(v):
    """`v` in float32, each row scaled to unit length (rows of zeros stay zero)."""
    v = ops.cast(v, "float32")
    return v / ops.maximum(ops.sqrt(ops.sum(v * v, axis=-1, keepdims=True)), 1e-6)


def downsample_mask(mask):
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
    """Pre-norm residual conv block of the encoder, `h + conv(layer_norm(h) * mask)`, with pads zeroed after it.

    The norm's output is masked before the conv: `LayerNormalization` maps a zeroed pad to its `beta`, not to zero,
    and the "same" conv reads up to `dilation_rate * (kernel_size // 2)` positions past a text's end, where it would
    see `beta` on pads of the batch and zeros past the array's end. Masked, it sees zeros either way, so the block's
    output on real positions does not depend on how much padding follows."""

    def __init__(self, channels, kernel_size, dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy)
        self.conv = keras.layers.Conv1D(channels, kernel_size, padding="same", dilation_rate=dilation_rate,
                                        activation="gelu", dtype=self.dtype_policy)

    def call(self, h, mask):
        return (h + self.conv(self.norm(h) * mask)) * mask
