"""Float64 NumPy references that the layer tests compare against. Written for clarity, not speed."""

import math

import keras
import numpy as np


def per_sample_conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """Sample by sample, tap by tap: y[b, t, o] = sum_j sum_c xpad[b, t*s + j*d, c] * kernel[b, o, j, c]."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    batch, length, _ = x.shape
    out_channels, kernel_size = kernel.shape[1], kernel.shape[2]
    # Padding worked out independently of hypertext.ops, from the definitions in Keras' docs.
    span = dilation_rate * (kernel_size - 1) + 1
    if padding == "valid":
        left = right = 0
    elif padding == "causal":
        left, right = span - 1, 0
    else:  # "same": ceil(length / strides) outputs, the odd pad on the right
        total = max((-(-length // strides) - 1) * strides + span - length, 0)
        left, right = total // 2, total - total // 2
    out_len = (length + left + right - span) // strides + 1
    xp = np.pad(x, [(0, 0), (left, right), (0, 0)])
    y = np.zeros((batch, out_len, out_channels))
    for b in range(batch):
        for t in range(out_len):
            for j in range(kernel_size):
                y[b, t] += kernel[b, :, j, :] @ xp[b, t * strides + j * dilation_rate]
    if bias is not None:
        y += np.asarray(bias, np.float64)[:, None, :]
    return y


def _same_or_valid_pads(size, kernel_size, strides, dilation_rate, padding):
    """(left, right) padding of one spatial axis, from Keras' definitions (the odd "same" pad goes on the right)."""
    span = dilation_rate * (kernel_size - 1) + 1
    if padding == "valid":
        return 0, 0
    total = max((-(-size // strides) - 1) * strides + span - size, 0)
    return total // 2, total - total // 2


def per_sample_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)):
    """Sample by sample, tap by tap: y[b, i, j, o] = sum_{p,q,c} xpad[b, i*sh + p*dh, j*sw + q*dw, c] k[b, o, p, q, c]."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    batch, height, width, _ = x.shape
    out_channels, kh, kw = kernel.shape[1:4]
    (sh, sw), (dh, dw) = strides, dilation_rate
    top, bottom = _same_or_valid_pads(height, kh, sh, dh, padding)
    left, right = _same_or_valid_pads(width, kw, sw, dw, padding)
    out_h = (height + top + bottom - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + left + right - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)])
    y = np.zeros((batch, out_h, out_w, out_channels))
    for b in range(batch):
        for p in range(kh):
            for q in range(kw):
                window = xp[b, p * dh: p * dh + (out_h - 1) * sh + 1: sh, q * dw: q * dw + (out_w - 1) * sw + 1: sw]
                y[b] += window @ kernel[b, :, p, q, :].T
    if bias is not None:
        y += np.asarray(bias, np.float64)[:, None, None, :]
    return y


def _transpose_axis(length, kernel_size, strides, padding, output_padding, dilation_rate):
    """(output length, crop) of one axis of a transposed conv, from Keras' output-length formula; "same" crops the
    surplus of the full overlap-add, the odd step at the end (TensorFlow's convention)."""
    span = dilation_rate * (kernel_size - 1) + 1
    if output_padding is None:
        out_len = length * strides + (max(span - strides, 0) if padding == "valid" else 0)
    else:
        out_len = (length - 1) * strides + span - 2 * (span // 2 if padding == "same" else 0) + output_padding
    crop = max((length - 1) * strides + span - out_len, 0) // 2 if padding == "same" else 0
    return out_len, crop


def per_sample_conv1d_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                                dilation_rate=1):
    """Scatter form: input step i, through tap j, adds to output t = i*s + j*d - crop (TensorFlow's convention)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    batch, length, _ = x.shape
    out_channels, kernel_size = kernel.shape[1], kernel.shape[2]
    out_len, crop = _transpose_axis(length, kernel_size, strides, padding, output_padding, dilation_rate)
    y = np.zeros((batch, out_len, out_channels))
    for b in range(batch):
        for i in range(length):
            for j in range(kernel_size):
                t = i * strides + j * dilation_rate - crop
                if 0 <= t < out_len:
                    y[b, t] += kernel[b, :, j, :] @ x[b, i]
    if bias is not None:
        y += np.asarray(bias, np.float64)[:, None, :]
    return y


def per_sample_conv2d_transpose(x, kernel, bias=None, strides=(1, 1), padding="valid", output_padding=None,
                                dilation_rate=(1, 1)):
    """Scatter form: input pixel (i, j), through tap (p, q), adds kernel[b, :, p, q, :] @ x[b, i, j] to output pixel
    (i*sh + p*dh - crop_h, j*sw + q*dw - crop_w), where that lies inside the output."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    batch, height, width, _ = x.shape
    out_channels, kh, kw = kernel.shape[1:4]
    (sh, sw), (dh, dw) = strides, dilation_rate
    (oph, opw) = (None, None) if output_padding is None else output_padding
    out_h, crop_h = _transpose_axis(height, kh, sh, padding, oph, dh)
    out_w, crop_w = _transpose_axis(width, kw, sw, padding, opw, dw)
    y = np.zeros((batch, out_h, out_w, out_channels))
    for b, i, j, p, q in np.ndindex(batch, height, width, kh, kw):
        t, u = i * sh + p * dh - crop_h, j * sw + q * dw - crop_w
        if 0 <= t < out_h and 0 <= u < out_w:
            y[b, t, u] += kernel[b, :, p, q, :] @ x[b, i, j]
    if bias is not None:
        y += np.asarray(bias, np.float64)[:, None, None, :]
    return y


def generated_kernel(generator, context, sample_mask=None):
    """What a KernelGenerator must emit, recomputed in float64 from its weights: (kernel, bias or None)."""
    w = {v.name: np.asarray(keras.ops.convert_to_numpy(v.value), np.float64) for v in generator.weights}
    context = np.asarray(context, np.float64)
    o, c, k = generator.filters, generator.in_channels, generator.kernel_size
    if generator.mode == "dense":
        flat = context @ w["projection_kernel"] + w["projection_bias"]
    elif generator.mode == "low_rank":
        left = (context @ w["left_kernel"] + w["left_bias"]).reshape(len(context), o, generator.rank)
        right = (context @ w["right_kernel"] + w["right_bias"]).reshape(len(context), generator.rank, -1)
        flat = left @ right
    else:
        flat = (context @ w["mixing_kernel"] + w["mixing_bias"]) @ w["bases"]
    kernel = flat.reshape(len(context), o, -1, c)
    if generator.tap_pattern is not None:
        kernel = kernel[:, :, list(generator.tap_pattern), :]
    elif generator.tap_tiling is not None:
        kernel = np.tile(kernel, (1, 1, generator.tap_tiling, 1))
    # 1D: (kernel_size,); 2D: (kh, kw), whose taps are flattened row-major.
    kernel_shape = tuple(k) if isinstance(k, tuple) else (k,)
    assert kernel.shape[2] == np.prod(kernel_shape)
    kernel = kernel.reshape(len(context), o, *kernel_shape, c)
    if generator.kernel_mask is not None:
        kernel = kernel * generator.kernel_mask
    if sample_mask is not None:
        kernel = kernel * sample_mask
    bias = context @ w["bias_kernel"] + w["bias_bias"] if generator.use_bias else None
    return kernel, bias


# ---- the blocks of hypertext/models/blocks.py, from the formulas in their docstrings and Keras' layer definitions.


def values(variable):
    """A Keras variable's value as a float64 NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(variable.value), np.float64)


def dense(x, kernel, bias=None):
    """`keras.layers.Dense` without activation: x @ kernel + bias over the last axis."""
    y = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    return y if bias is None else y + np.asarray(bias, np.float64)


def gelu(x):
    """Exact GELU, x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)) (Keras' `gelu`, approximate=False)."""
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, epsilon):
    """`keras.layers.LayerNormalization` over the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta, with the
    biased (1/n) variance."""
    x = np.asarray(x, np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * np.asarray(gamma, np.float64) + np.asarray(beta, np.float64)


def conv1d(x, kernel, bias=None, strides=1, padding="same", dilation_rate=1):
    """`keras.layers.Conv1D` (kernel `(k, in, out)`), through `per_sample_conv1d` with the same kernel for every
    sample."""
    kernel = np.transpose(np.asarray(kernel, np.float64), (2, 0, 1))  # (out, k, in)
    batch = len(x)
    return per_sample_conv1d(x, np.broadcast_to(kernel, (batch, *kernel.shape)),
                             None if bias is None else np.broadcast_to(bias, (batch, len(bias))), strides, padding,
                             dilation_rate)


def conv1d_transpose(x, kernel, bias=None, strides=1, padding="same"):
    """`keras.layers.Conv1DTranspose` (kernel `(k, out, in)`), through `per_sample_conv1d_transpose` with the same
    kernel for every sample."""
    kernel = np.transpose(np.asarray(kernel, np.float64), (1, 0, 2))  # (out, k, in)
    batch = len(x)
    return per_sample_conv1d_transpose(x, np.broadcast_to(kernel, (batch, *kernel.shape)),
                                       None if bias is None else np.broadcast_to(bias, (batch, len(bias))), strides,
                                       padding)


def film(h, context, kernel, bias):
    """FiLM: `h * (1 + scale) + shift`, where `[scale, shift] = context @ kernel + bias` (the first `channels` outputs
    are the scale), the same at every position of a sample."""
    scale_shift = dense(context, kernel, bias)
    channels = scale_shift.shape[-1] // 2
    scale, shift = scale_shift[:, None, :channels], scale_shift[:, None, channels:]
    return np.asarray(h, np.float64) * (1.0 + scale) + shift


def attention_pooling(h, mask, keys_kernel, keys_bias, values_kernel, values_bias, heads):
    """Each head's softmax over the real positions (mask > 0) alone of its score `h @ keys_kernel + keys_bias`, as
    the weights of a mean of that head's slice of `h @ values_kernel + values_bias`; heads concatenated, head-major.
    Pads are dropped before the softmax, so they get exactly zero weight. `(batch, heads * head_dim)`."""
    h = np.asarray(h, np.float64)
    scores = dense(h, keys_kernel, keys_bias)  # (b, L, heads)
    per_position = dense(h, values_kernel, values_bias)
    head_dim = per_position.shape[-1] // heads
    per_position = per_position.reshape(*h.shape[:2], heads, head_dim)
    out = np.zeros((len(h), heads, head_dim))
    for b in range(len(h)):
        real = np.asarray(mask)[b, :, 0] > 0
        s = scores[b, real]
        weights = np.exp(s - s.max(axis=0))
        weights /= weights.sum(axis=0)
        for head in range(heads):
            out[b, head] = weights[:, head] @ per_position[b, real, head]
    return out.reshape(len(h), heads * head_dim)


def encoder_block(h, mask, gamma, beta, kernel, bias, dilation_rate, epsilon=1e-5):
    """`(h + gelu(conv(layer_norm(h) * mask))) * mask`, the conv "same" and dilated."""
    mask = np.asarray(mask, np.float64)
    branch = gelu(conv1d(layer_norm(h, gamma, beta, epsilon) * mask, kernel, bias, dilation_rate=dilation_rate))
    return (np.asarray(h, np.float64) + branch) * mask


def conditioned_conv(h, context, layer, hyper, strides=1, transpose=False, activation=gelu):
    """A `ConditionedConv`'s output, from its weights: with `hyper`, the per-sample conv (transposed or not, "same")
    with the kernel and bias its generator must emit (`generated_kernel`); else the shared conv, then FiLM from the
    same context; `activation` last."""
    if hyper:
        kernel, bias = generated_kernel(layer.conv.generator, context)
        if transpose:
            y = per_sample_conv1d_transpose(h, kernel, bias, strides, "same")
        else:
            y = per_sample_conv1d(h, kernel, bias, strides, "same")
    else:
        conv = conv1d_transpose if transpose else conv1d
        y = conv(h, values(layer.conv.kernel), values(layer.conv.bias), strides, "same")
        head = layer.film.to_scale_shift
        y = film(y, context, values(head.kernel), values(head.bias))
    return activation(y)


def decoder_block_branch(h, context, layer, hyper, narrow, epsilon=1e-5):
    """The residual branch of a `DecoderBlock` (dropout aside): `up(gelu(conv(down(layer_norm(h)), context)))`, with
    `down` and `up` Dense layers when `narrow`."""
    branch = layer_norm(h, values(layer.norm.gamma), values(layer.norm.beta), epsilon)
    if narrow:
        branch = dense(branch, values(layer.down.kernel), values(layer.down.bias))
    branch = conditioned_conv(branch, context, layer.conv, hyper)
    if narrow:
        branch = dense(branch, values(layer.up.kernel), values(layer.up.bias))
    return branch


def decoder_block(h, context, layer, hyper, narrow, epsilon=1e-5):
    """A `DecoderBlock` at inference: `h + decoder_block_branch(...)`."""
    return np.asarray(h, np.float64) + decoder_block_branch(h, context, layer, hyper, narrow, epsilon)


def downsample_mask(mask):
    """A `(batch, length, 1)` mask after a stride-2 "same" conv: short position i is real when input 2i or 2i+1 (where
    it exists) is."""
    mask = np.asarray(mask, np.float64)
    short = -(-mask.shape[1] // 2)
    return np.stack([mask[:, 2 * i: 2 * i + 2].max(axis=1) for i in range(short)], axis=1)
