"""Backend-neutral per-sample convolution ops.

Every function here uses `keras.ops` only, so it runs on the TensorFlow, JAX and PyTorch backends. The layers in
`hypertext.layers` wrap these functions; call them directly when you do not need a layer.

Kernel layout is always `(batch, out_channels, kernel_size, in_channels)`, the layout a hypernetwork emits.
"""

from keras import ops

PADDINGS = ("valid", "same", "causal")
TRANSPOSE_PADDINGS = ("valid", "same")
IMPLEMENTATIONS = ("auto", "unfold", "fold", "grouped", "loop")

# What `implementation="auto"` resolves to. The measured table (README, `benchmarks/per_sample_conv.py`, and the
# anchors the project started from) has "unfold" fastest for training on every backend and device we measured,
# usually by orders of magnitude over "fold", so it is the choice everywhere.
AUTO_IMPLEMENTATION = "unfold"


# --------------------------------------------------------------------------------------------------------------------
# Shape arithmetic (shared by the ops and by the layers' `compute_output_shape`).
# --------------------------------------------------------------------------------------------------------------------
def _maximum(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    return ops.maximum(a, b)


def effective_kernel_size(kernel_size, dilation_rate):
    """Span of a dilated kernel: `dilation_rate * (kernel_size - 1) + 1`."""
    return dilation_rate * (kernel_size - 1) + 1


def conv_padding(length, kernel_size, strides, padding, dilation_rate):
    """Returns `(pad_left, pad_right, output_length)` for a 1D convolution with Keras `Conv1D` semantics.

    `length` may be a Python int or, inside a TensorFlow graph with an unknown length, a scalar tensor. "same" follows
    TensorFlow/XLA: the output has `ceil(length / strides)` steps and any odd padding goes on the right.
    """
    span = effective_kernel_size(kernel_size, dilation_rate)
    if padding == "valid":
        return 0, 0, (length - span) // strides + 1
    if padding == "causal":
        return span - 1, 0, (length - 1) // strides + 1
    output_length = (length + strides - 1) // strides
    total = _maximum((output_length - 1) * strides + span - length, 0)
    return total // 2, total - total // 2, output_length


def conv_output_length(length, kernel_size, strides, padding, dilation_rate):
    """Output length of a 1D convolution, or None when `length` is None."""
    if length is None:
        return None
    return conv_padding(length, kernel_size, strides, padding, dilation_rate)[2]


def conv_transpose_output_length(length, kernel_size, strides, padding, output_padding, dilation_rate):
    """Output length of a 1D transposed convolution, with `keras.layers.Conv1DTranspose` semantics."""
    if length is None:
        return None
    span = effective_kernel_size(kernel_size, dilation_rate)
    if output_padding is None:
        if padding == "valid":
            return length * strides + max(span - strides, 0)
        return length * strides
    pad = span // 2 if padding == "same" else 0
    return (length - 1) * strides + span - 2 * pad + output_padding


# --------------------------------------------------------------------------------------------------------------------
# The forward per-sample convolution.
# --------------------------------------------------------------------------------------------------------------------
def per_sample_conv1d(
    x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, implementation="auto"
):
    """Convolves each sample of `x` with its own kernel.

    Args:
        x: `(batch, length, in_channels)`.
        kernel: `(batch, out_channels, kernel_size, in_channels)`.
        bias: optional `(batch, out_channels)`.
        strides, padding, dilation_rate: as in `keras.layers.Conv1D` (padding "valid", "same" or "causal").
        implementation: "auto", "unfold", "fold", "grouped" or "loop" (see `hypertext.layers.PerSampleConv1D`).

    Returns:
        `(batch, output_length, out_channels)`.
    """
    if implementation == "auto":
        implementation = AUTO_IMPLEMENTATION
    kernel_size = kernel.shape[2]
    pad_left, pad_right, output_length = conv_padding(
        ops.shape(x)[1], kernel_size, strides, padding, dilation_rate
    )
    if not (isinstance(pad_left, int) and pad_left == 0 and pad_right == 0):
        x = ops.pad(x, [[0, 0], [pad_left, pad_right], [0, 0]])
    fn = _IMPLEMENTATION_FNS[implementation]
    y = fn(x, kernel, strides, dilation_rate, output_length)
    if bias is not None:
        y = y + ops.expand_dims(bias, 1)
    return y


def _taps(x, kernel_size, strides, dilation_rate, output_length):
    """The `kernel_size` shifted, strided views of an already padded `x`, each `(batch, output_length, channels)`.

    Built from `ops.slice` and reshapes rather than strided indexing: TensorFlow's gradient of a strided slice
    (`StridedSliceGrad`) was a fifth of the unfold path's forward+backward op time on CPU (the step took 31.9 ms with
    it, 21.9 ms without), where a slice's gradient is a pad.
    A stride `s` is taken by slicing `s * output_length` steps, reshaping them to `(output_length, s)` and keeping
    column 0, so `x` is first padded by up to `s - 1` steps on the right to make room for the last tap.
    """
    batch, channels = ops.shape(x)[0], x.shape[2]
    if strides > 1:
        x = ops.pad(x, [[0, 0], [0, strides - 1], [0, 0]])
    taps = []
    for j in range(kernel_size):
        tap = ops.slice(x, (0, j * dilation_rate, 0), (batch, output_length * strides, channels))
        if strides > 1:
            tap = ops.reshape(tap, (batch, output_length, strides, channels))
            tap = ops.reshape(ops.slice(tap, (0, 0, 0, 0), (batch, output_length, 1, channels)),
                              (batch, output_length, channels))
        taps.append(tap)
    return taps


def _unfold(x, kernel, strides, dilation_rate, output_length):
    # Patches (batch, L', K*C) against kernels (batch, O, K*C): one batched matmul, whose FLOPs equal a shared conv's.
    # The kernel is only reshaped (never transposed), and the patches concatenate taps in the same (K, C) order.
    kernel_size, in_channels, out_channels = kernel.shape[2], kernel.shape[3], kernel.shape[1]
    taps = _taps(x, kernel_size, strides, dilation_rate, output_length)
    patches = taps[0] if kernel_size == 1 else ops.concatenate(taps, axis=-1)
    weights = ops.reshape(kernel, (-1, out_channels, kernel_size * in_channels))
    return ops.einsum("blf,bof->blo", patches, weights)


def _fold(x, kernel, strides, dilation_rate, output_length):
    # The classic answer: samples become channels of ONE depthwise conv, x -> (1, L, B*C) and the kernel -> (K, B*C, O).
    # Correct, but every output channel convolves a single input channel and the sum over C comes afterwards: B*C*O
    # one-channel convolutions. Its forward+backward measured 41x a shared conv on TF's CPU graph mode and over
    # 4,000x under XLA and on JAX (benchmarks/per_sample_conv.py).
    del output_length
    _, out_channels, kernel_size, in_channels = kernel.shape
    folded = ops.reshape(ops.transpose(x, (1, 0, 2)), (1, ops.shape(x)[1], -1))
    weights = ops.reshape(ops.transpose(kernel, (2, 0, 3, 1)), (kernel_size, -1, out_channels))
    y = _conv_then_stride(ops.depthwise_conv, folded, weights, strides, dilation_rate)
    y = ops.reshape(y[0], (ops.shape(y)[1], -1, in_channels, out_channels))
    return ops.transpose(ops.sum(y, axis=2), (1, 0, 2))


def _grouped(x, kernel, strides, dilation_rate, output_length):
    # Samples become the groups of one grouped conv (feature_group_count = batch). TF's CPU kernel has no gradient
    # for this; XLA and the GPU backends do.
    del output_length
    _, out_channels, kernel_size, in_channels = kernel.shape
    folded = ops.reshape(ops.transpose(x, (1, 0, 2)), (1, ops.shape(x)[1], -1))
    weights = ops.reshape(ops.transpose(kernel, (2, 3, 0, 1)), (kernel_size, in_channels, -1))
    y = _conv_then_stride(ops.conv, folded, weights, strides, dilation_rate)
    y = ops.reshape(y[0], (ops.shape(y)[1], -1, out_channels))
    return ops.transpose(y, (1, 0, 2))


def _loop(x, kernel, strides, dilation_rate, output_length):
    # One ordinary conv per sample, mapped over the batch: the readable reference.
    del output_length

    def one(args):
        xi, ki = args
        yi = _conv_then_stride(ops.conv, xi[None], ops.transpose(ki, (1, 2, 0)), strides, dilation_rate)
        return yi[0]

    return ops.map(one, (x, kernel))


def _conv_then_stride(conv, x, weights, strides, dilation_rate):
    """Runs a backend conv op; TensorFlow refuses strides > 1 together with dilation > 1, so then subsample after."""
    if strides > 1 and dilation_rate > 1:
        return conv(x, weights, strides=1, padding="valid", dilation_rate=dilation_rate)[:, ::strides]
    return conv(x, weights, strides=strides, padding="valid", dilation_rate=dilation_rate)


_IMPLEMENTATION_FNS = {"unfold": _unfold, "fold": _fold, "grouped": _grouped, "loop": _loop}


# --------------------------------------------------------------------------------------------------------------------
# The per-sample transposed convolution.
# --------------------------------------------------------------------------------------------------------------------
def _transpose_crop(kernel_size, strides, padding, output_padding, dilation_rate):
    """Returns `(crop_left, extra)` for a transposed conv, with Keras/TensorFlow semantics: the output has
    `length * strides + extra` steps, and output position t receives input step i through tap j when
    `t = i * strides + j * dilation_rate - crop_left`. Neither depends on the input length, so the op also runs on
    an unknown length (a scalar tensor in a traced graph)."""
    span = effective_kernel_size(kernel_size, dilation_rate)
    extra = conv_transpose_output_length(1, kernel_size, strides, padding, output_padding, dilation_rate) - strides
    if padding == "valid":
        return 0, extra
    return max(span - strides - extra, 0) // 2, extra


def per_sample_conv1d_transpose(
    x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation_rate=1
):
    """The per-sample counterpart of `keras.ops.conv_transpose`.

    Computes every tap's contribution with one batched matmul, `(batch, L, C) @ (batch, C, K*O)`, then overlap-adds
    the taps at their strided offsets ("col2im"). Its FLOPs equal a shared `Conv1DTranspose`'s, unlike zero-insertion
    followed by a convolution, which wastes a factor of `strides`.

    Args:
        x: `(batch, length, in_channels)`; `length` may be unknown in a traced graph.
        kernel: `(batch, out_channels, kernel_size, in_channels)`.
        bias: optional `(batch, out_channels)`.
        strides, padding, output_padding, dilation_rate: as in `keras.layers.Conv1DTranspose`.

    Returns:
        `(batch, output_length, out_channels)`.
    """
    length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
    _, out_channels, kernel_size, in_channels = kernel.shape
    crop, extra = _transpose_crop(kernel_size, strides, padding, output_padding, dilation_rate)
    output_length = length * strides + extra
    weights = ops.reshape(ops.transpose(kernel, (0, 3, 2, 1)), (-1, in_channels, kernel_size * out_channels))
    contributions = ops.matmul(x, weights)  # (batch, L, K*O)
    # Spread the L steps `strides` apart: (batch, L, 1, K*O) padded to (batch, L, strides, K*O), then flattened.
    spread = ops.expand_dims(contributions, 2)
    if strides > 1:
        spread = ops.pad(spread, [[0, 0], [0, 0], [0, strides - 1], [0, 0]])
    spread = ops.reshape(spread, (-1, length * strides, kernel_size * out_channels))
    # Tap j lands at offset j * dilation - crop; shift each tap into place and add.
    full = length * strides + dilation_rate * (kernel_size - 1)
    batch = ops.shape(x)[0]
    y = None
    for j in range(kernel_size):
        # `ops.slice`, not strided indexing: its TensorFlow gradient is a cheap pad (see `_taps`).
        tap = ops.slice(spread, (0, 0, j * out_channels), (batch, length * strides, out_channels))
        tap = ops.pad(tap, [[0, 0], [j * dilation_rate, full - length * strides - j * dilation_rate], [0, 0]])
        y = tap if y is None else y + tap
    # Crop (or zero-extend) to [crop, crop + output_length).
    beyond = crop + extra - dilation_rate * (kernel_size - 1)  # (crop + output_length) - full
    if beyond > 0:
        y = ops.pad(y, [[0, 0], [0, beyond], [0, 0]])
    y = ops.slice(y, (0, crop, 0), (batch, output_length, out_channels))
    if bias is not None:
        y = y + ops.expand_dims(bias, 1)
    return y
