"""Backend-neutral per-sample convolution ops.

Every function here uses `keras.ops` only, so it runs on the TensorFlow, JAX and PyTorch backends. The layers in
`hypertext.layers` wrap these functions; call them directly when you do not need a layer.

Kernel layout is always `(batch, out_channels, kernel_size, in_channels)` in 1D and
`(batch, out_channels, kernel_height, kernel_width, in_channels)` in 2D, the layout a hypernetwork emits.
"""

import itertools
import math

from keras import ops

PADDINGS = ("valid", "same", "causal")
PADDINGS_2D = ("valid", "same")
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
# The forward per-sample convolution, for any number of spatial axes (1D and 2D share every line).
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
    return _per_sample_conv(x, kernel, bias, (strides,), padding, (dilation_rate,), implementation)


def per_sample_conv2d(
    x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, implementation="auto"
):
    """Convolves each sample of `x` with its own 2D kernel, with `keras.layers.Conv2D`'s semantics (channels last).

    Args:
        x: `(batch, height, width, in_channels)`.
        kernel: `(batch, out_channels, kernel_height, kernel_width, in_channels)`.
        bias: optional `(batch, out_channels)`.
        strides, dilation_rate: an int or a tuple of 2 ints.
        padding: "valid" or "same".
        implementation: "auto", "unfold", "fold", "grouped" or "loop" (see `hypertext.layers.PerSampleConv2D`).

    Returns:
        `(batch, output_height, output_width, out_channels)`.
    """
    return _per_sample_conv(x, kernel, bias, _pair(strides), padding, _pair(dilation_rate), implementation)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _per_sample_conv(x, kernel, bias, strides, padding, dilation_rate, implementation):
    """The N-d op: `x` is `(batch, *spatial, in_channels)`, `kernel` `(batch, out_channels, *kernel_shape, in_channels)`
    and `strides`, `dilation_rate` tuples with one entry per spatial axis."""
    if implementation == "auto":
        implementation = AUTO_IMPLEMENTATION
    kernel_shape = tuple(kernel.shape[2:-1])
    pads, output_shape = [[0, 0]], []
    for axis, (k, s, d) in enumerate(zip(kernel_shape, strides, dilation_rate)):
        left, right, size = conv_padding(ops.shape(x)[axis + 1], k, s, padding, d)
        pads.append([left, right])
        output_shape.append(size)
    pads.append([0, 0])
    if not all(isinstance(p, int) and p == 0 for pad in pads for p in pad):
        x = ops.pad(x, pads)
    fn = _IMPLEMENTATION_FNS[implementation]
    y = fn(x, kernel, strides, dilation_rate, output_shape)
    return _add_bias(y, bias)


def _add_bias(y, bias):
    """Adds a per-sample `(batch, out_channels)` bias to `(batch, *spatial, out_channels)`, or returns `y` unchanged."""
    if bias is None:
        return y
    for _ in range(y.ndim - 2):
        bias = ops.expand_dims(bias, 1)
    return y + bias


def _taps(x, kernel_shape, strides, dilation_rate, output_shape):
    """The `prod(kernel_shape)` shifted, strided views of an already padded `x`, in row-major tap order, each
    `(batch, *output_shape, channels)`.

    Built from `ops.slice` and reshapes rather than strided indexing: TensorFlow's gradient of a strided slice
    (`StridedSliceGrad`) was a fifth of the unfold path's forward+backward op time on CPU (the step took 31.9 ms with
    it, 21.9 ms without), where a slice's gradient is a pad.
    A stride `s` is taken by slicing `s * output_length` steps, reshaping them to `(output_length, s)` and keeping
    index 0, so `x` is first padded by up to `s - 1` steps at the end of each strided axis to make room for the last
    tap.
    """
    batch, channels = ops.shape(x)[0], x.shape[-1]
    strided = any(s > 1 for s in strides)
    if strided:
        x = ops.pad(x, [[0, 0], *[[0, s - 1] for s in strides], [0, 0]])
    spans = [n * s for n, s in zip(output_shape, strides)]
    split = [dim for n, s in zip(output_shape, strides) for dim in (n, s)]
    taps = []
    for offsets in itertools.product(*(range(k) for k in kernel_shape)):
        start = (0, *(j * d for j, d in zip(offsets, dilation_rate)), 0)
        tap = ops.slice(x, start, (batch, *spans, channels))
        if strided:
            tap = ops.reshape(tap, (batch, *split, channels))
            tap = ops.slice(tap, (0,) * len(split) + (0, 0), (batch, *[dim if i % 2 == 0 else 1
                                                                       for i, dim in enumerate(split)], channels))
            tap = ops.reshape(tap, (batch, *output_shape, channels))
        taps.append(tap)
    return taps


def _unfold(x, kernel, strides, dilation_rate, output_shape):
    # Patches (batch, positions, taps*C) against kernels (batch, O, taps*C): one batched matmul, whose FLOPs equal a
    # shared conv's. The kernel is only reshaped (never transposed), and the patches concatenate taps in the same
    # row-major (taps, C) order.
    kernel_shape, in_channels, out_channels = tuple(kernel.shape[2:-1]), kernel.shape[-1], kernel.shape[1]
    taps = _taps(x, kernel_shape, strides, dilation_rate, output_shape)
    patches = taps[0] if len(taps) == 1 else ops.concatenate(taps, axis=-1)
    features = len(taps) * in_channels
    weights = ops.reshape(kernel, (-1, out_channels, features))
    if len(output_shape) == 1:
        return ops.einsum("blf,bof->blo", patches, weights)
    batch = ops.shape(x)[0]
    y = ops.einsum("blf,bof->blo", ops.reshape(patches, (batch, -1, features)), weights)
    return ops.reshape(y, (batch, *output_shape, out_channels))


def _fold(x, kernel, strides, dilation_rate, output_shape):
    # The classic answer: samples become channels of ONE depthwise conv, x -> (1, *spatial, B*C) and the kernel ->
    # (*K, B*C, O). Correct, but every output channel convolves a single input channel and the sum over C comes
    # afterwards: B*C*O one-channel convolutions. Its forward+backward measured 41x a shared conv on TF's CPU graph
    # mode and over 4,000x under XLA and on JAX (benchmarks/per_sample_conv.py).
    del output_shape
    rank, (_, out_channels, *_, in_channels) = kernel.ndim - 3, kernel.shape
    folded = _fold_batch(x)
    weights = ops.transpose(kernel, (*range(2, rank + 2), 0, rank + 2, 1))  # (*K, B, C, O)
    weights = ops.reshape(weights, (*kernel.shape[2:-1], -1, out_channels))
    y = _conv_then_stride(ops.depthwise_conv, folded, weights, strides, dilation_rate)
    y = ops.reshape(y[0], (*ops.shape(y)[1:-1], -1, in_channels, out_channels))
    return _unfold_batch(ops.sum(y, axis=-2))


def _grouped(x, kernel, strides, dilation_rate, output_shape):
    # Samples become the groups of one grouped conv (feature_group_count = batch). TF's CPU kernel has no gradient
    # for this; XLA and the GPU backends do.
    del output_shape
    rank, out_channels = kernel.ndim - 3, kernel.shape[1]
    folded = _fold_batch(x)
    weights = ops.transpose(kernel, (*range(2, rank + 2), rank + 2, 0, 1))  # (*K, C, B, O)
    weights = ops.reshape(weights, (*kernel.shape[2:], -1))
    y = _conv_then_stride(ops.conv, folded, weights, strides, dilation_rate)
    return _unfold_batch(ops.reshape(y[0], (*ops.shape(y)[1:-1], -1, out_channels)))


def _fold_batch(x):
    """`(B, *spatial, C)` -> `(1, *spatial, B*C)`: the samples side by side as channels."""
    rank = x.ndim - 2
    folded = ops.transpose(x, (*range(1, rank + 1), 0, rank + 1))
    return ops.expand_dims(ops.reshape(folded, (*ops.shape(x)[1:-1], -1)), 0)


def _unfold_batch(y):
    """`(*spatial, B, O)` -> `(B, *spatial, O)`, the inverse layout of `_fold_batch`'s."""
    rank = y.ndim - 2
    return ops.transpose(y, (rank, *range(rank), rank + 1))


def _loop(x, kernel, strides, dilation_rate, output_shape):
    # One ordinary conv per sample, mapped over the batch: the readable reference.
    del output_shape
    rank = kernel.ndim - 3
    perm = (*range(1, rank + 1), rank + 1, 0)  # (O, *K, C) -> (*K, C, O)

    def one(args):
        xi, ki = args
        return _conv_then_stride(ops.conv, xi[None], ops.transpose(ki, perm), strides, dilation_rate)[0]

    return ops.map(one, (x, kernel))


def _conv_then_stride(conv, x, weights, strides, dilation_rate):
    """Runs a backend conv op with valid padding. TensorFlow refuses strides > 1 together with dilation > 1, and its
    own CPU depthwise kernel (oneDNN off: the default on CPUs without AVX-512) refuses unequal strides, so in those
    cases the conv runs at stride 1 and is subsampled after: with valid padding, the same output positions."""
    if any(s > 1 for s in strides) and (any(d > 1 for d in dilation_rate) or len(set(strides)) > 1):
        y = conv(x, weights, strides=1, padding="valid", dilation_rate=dilation_rate)
        return y[(slice(None), *(slice(None, None, s) for s in strides))]
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
    output_padding = None if output_padding is None else (output_padding,)
    return _per_sample_conv_transpose(x, kernel, bias, (strides,), padding, output_padding, (dilation_rate,))


def per_sample_conv2d_transpose(
    x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation_rate=1
):
    """The per-sample counterpart of `keras.layers.Conv2DTranspose` (channels last).

    The 1D op's formulation on two axes: one batched matmul `(batch, H*W, C) @ (batch, C, KH*KW*O)` gives every
    tap's contribution, and the taps are overlap-added at their strided offsets (col2im).

    Args:
        x: `(batch, height, width, in_channels)`; the height and width may be unknown in a traced graph.
        kernel: `(batch, out_channels, kernel_height, kernel_width, in_channels)`.
        bias: optional `(batch, out_channels)`.
        strides, dilation_rate: an int or a tuple of 2 ints.
        padding: "valid" or "same".
        output_padding: None, or an int or a tuple of 2 ints, each smaller than the stride along its axis.

    Returns:
        `(batch, output_height, output_width, out_channels)`, the sizes as for `keras.layers.Conv2DTranspose`.
    """
    output_padding = None if output_padding is None else _pair(output_padding)
    return _per_sample_conv_transpose(x, kernel, bias, _pair(strides), padding, output_padding, _pair(dilation_rate))


def _per_sample_conv_transpose(x, kernel, bias, strides, padding, output_padding, dilation_rate):
    """The N-d transposed op; `strides`, `dilation_rate` and `output_padding` (or None) are tuples with one entry per
    spatial axis."""
    rank = len(strides)
    kernel_shape, out_channels, in_channels = tuple(kernel.shape[2:-1]), kernel.shape[1], kernel.shape[-1]
    taps = math.prod(kernel_shape)
    batch = ops.shape(x)[0]
    sizes = [x.shape[axis] if x.shape[axis] is not None else ops.shape(x)[axis] for axis in range(1, rank + 1)]
    output_padding = output_padding or (None,) * rank
    crops, extras = zip(*(_transpose_crop(k, s, padding, p, d)
                          for k, s, p, d in zip(kernel_shape, strides, output_padding, dilation_rate)))
    spread_shape = [n * s for n, s in zip(sizes, strides)]
    output_shape = [n + extra for n, extra in zip(spread_shape, extras)]
    # (batch, O, *K, C) -> (batch, C, *K, O) -> (batch, C, taps*O): taps in row-major order, O fastest.
    weights = ops.transpose(kernel, (0, rank + 2, *range(2, rank + 2), 1))
    weights = ops.reshape(weights, (-1, in_channels, taps * out_channels))
    positions = x if rank == 1 else ops.reshape(x, (batch, -1, in_channels))
    contributions = ops.matmul(positions, weights)  # (batch, positions, taps*O)
    # Spread the positions `strides` apart: (batch, n1, 1, n2, 1, taps*O) padded to (batch, n1, s1, n2, s2, taps*O),
    # then merged to (batch, n1*s1, n2*s2, taps*O).
    if any(s > 1 for s in strides):
        contributions = ops.reshape(contributions, (batch, *[d for n in sizes for d in (n, 1)], taps * out_channels))
        contributions = ops.pad(contributions, [[0, 0], *[p for s in strides for p in ([0, 0], [0, s - 1])], [0, 0]])
    spread = ops.reshape(contributions, (batch, *spread_shape, taps * out_channels))
    # Tap j lands at offset j * dilation - crop along each axis; shift each tap into place and add.
    y = None
    for tap_index, offsets in enumerate(itertools.product(*(range(k) for k in kernel_shape))):
        # `ops.slice`, not strided indexing: its TensorFlow gradient is a cheap pad (see `_taps`).
        tap = ops.slice(spread, (0, *[0] * rank, tap_index * out_channels), (batch, *spread_shape, out_channels))
        tap = ops.pad(tap, [[0, 0], *[[j * d, d * (k - 1 - j)] for j, k, d in
                                      zip(offsets, kernel_shape, dilation_rate)], [0, 0]])
        y = tap if y is None else y + tap
    # y spans spread_shape + dilation * (kernel - 1) per axis; crop (or zero-extend) to [crop, crop + output_size).
    beyond = [c + e - d * (k - 1) for c, e, d, k in zip(crops, extras, dilation_rate, kernel_shape)]
    if any(b > 0 for b in beyond):
        y = ops.pad(y, [[0, 0], *[[0, max(b, 0)] for b in beyond], [0, 0]])
    y = ops.slice(y, (0, *crops, 0), (batch, *output_shape, out_channels))
    return _add_bias(y, bias)
