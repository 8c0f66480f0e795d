"""Property tests: random layer configurations against the float64 references in `tests/references.py`.

The three tests draw 1,000 examples in all (400 + 300 + 300) on TensorFlow, the home backend, a third of that on
PyTorch and a tenth on JAX, whose eager mode compiles every op anew for each new shape (minutes for 1,000 random
shapes on CI's 2 cores): the float64 references are the same on every backend, so the other backends check that the
layers run their ops the same way, not the whole space again. For a longer run, scale every count with an
environment variable, e.g. `HYPERTEXT_PROPERTY_SCALE=20 pytest tests/layers/test_properties.py`; the thorough mode
(`HYPERTEXT_THOROUGH=1`) draws 5 times each backend's count, at random (5,000 examples on TensorFlow). `implementation="auto"` is not drawn: it resolves to
"unfold" (tests/layers/test_per_sample_conv1d.py checks that), which is drawn.

The 2D tests compare `PerSampleConv2D` and `HyperConv2D` with one `keras.ops.conv` per sample (and the float64
reference) on random grids, and `PerSampleConv2DTranspose` with its float64 reference: 120 + 80 + 40 examples by
default, scaled like the 1D tests.
"""

import os

import keras
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hypertext.layers import (
    HyperConv1D,
    HyperConv1DTranspose,
    HyperConv2D,
    PerSampleConv1D,
    PerSampleConv2D,
    PerSampleConv2DTranspose,
)
from tests import references
from tests.layer_checks import randomize_weights

_THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"
_BACKEND_SCALE = {"tensorflow": "1", "torch": "0.34", "jax": "0.1"}
SCALE = float(os.environ.get("HYPERTEXT_PROPERTY_SCALE", _BACKEND_SCALE.get(keras.backend.backend(), "1"))) * (
    5 if _THOROUGH and "HYPERTEXT_PROPERTY_SCALE" not in os.environ else 1)


def examples(count):
    randomize = _THOROUGH or "HYPERTEXT_PROPERTY_SCALE" in os.environ
    return settings(max_examples=max(1, int(count * SCALE)), deadline=None, derandomize=not randomize,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _span(kernel_size, dilation):
    return dilation * (kernel_size - 1) + 1


def _randomize_weights(layer, rng):
    randomize_weights(layer, rng, 0.4)


def _masks(rng, draw_kernel_mask, draw_sample_mask, batch, filters, kernel_size, channels):
    """Random 0/1 masks, or None; `kernel_size` is an int (1D) or a tuple (2D)."""
    taps = tuple(kernel_size) if isinstance(kernel_size, tuple) else (kernel_size,)
    kernel_mask = (rng.random((filters, *taps, 1)) < 0.7).astype("float32") if draw_kernel_mask else None
    sample_mask = (rng.random((batch, 1, *taps, channels)) < 0.7).astype("float32") if draw_sample_mask else None
    return kernel_mask, sample_mask


conv_cases = dict(
    batch=st.integers(1, 3),
    length=st.integers(1, 11),
    channels=st.integers(1, 4),
    filters=st.integers(1, 4),
    kernel_size=st.integers(1, 5),
    strides=st.integers(1, 3),
    dilation=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
generator_cases = dict(
    context_dim=st.integers(1, 5),
    mode=st.sampled_from(["basis", "low_rank", "dense"]),
    factors=st.integers(1, 3),
    use_bias=st.booleans(),
    kernel_mask=st.booleans(),
    sample_mask=st.booleans(),
)


@examples(400)
@given(padding=st.sampled_from(["valid", "same", "causal"]),
       implementation=st.sampled_from(["unfold", "loop"]), use_bias=st.booleans(), **conv_cases)
def test_per_sample_conv1d(batch, length, channels, filters, kernel_size, strides, dilation, seed, padding,
                           implementation, use_bias):
    assume(padding != "valid" or length >= _span(kernel_size, dilation))  # else a tested error
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, length, channels)).astype("float32")
    kernel = rng.normal(size=(batch, filters, kernel_size, channels)).astype("float32")
    bias = rng.normal(size=(batch, filters)).astype("float32") if use_bias else None
    layer = PerSampleConv1D(strides, padding, dilation, implementation=implementation)
    want = references.per_sample_conv1d(x, kernel, bias, strides, padding, dilation)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, kernel, bias)), want, atol=1e-4)
    assert layer.compute_output_shape(x.shape, kernel.shape) == want.shape


@examples(300)
@given(padding=st.sampled_from(["valid", "same", "causal"]), **conv_cases, **generator_cases)
def test_hyper_conv1d(batch, length, channels, filters, kernel_size, strides, dilation, seed, padding, context_dim,
                      mode, factors, use_bias, kernel_mask, sample_mask):
    assume(padding != "valid" or length >= _span(kernel_size, dilation))
    rng = np.random.default_rng(seed)
    kernel_mask, sample_mask = _masks(rng, kernel_mask, sample_mask, batch, filters, kernel_size, channels)
    x = rng.normal(size=(batch, length, channels)).astype("float32")
    context = rng.normal(size=(batch, context_dim)).astype("float32")
    layer = HyperConv1D(filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                        use_bias=use_bias, mode=mode, num_bases=factors, rank=factors, kernel_mask=kernel_mask)
    layer.build(x.shape, context.shape)
    _randomize_weights(layer, rng)
    kernel, bias = references.generated_kernel(layer.generator, context, sample_mask)
    want = references.per_sample_conv1d(x, kernel, bias, strides, padding, dilation)
    got = layer(x, context, sample_mask=sample_mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=2e-4, rtol=1e-4)


@examples(300)
@given(padding=st.sampled_from(["valid", "same"]), output_padding=st.integers(-1, 2), **conv_cases,
       **generator_cases)
def test_hyper_conv1d_transpose(batch, length, channels, filters, kernel_size, strides, dilation, seed, padding,
                                output_padding, context_dim, mode, factors, use_bias, kernel_mask, sample_mask):
    if strides > 1 and dilation > 1:
        dilation = 1  # Keras' Conv1DTranspose rejects strides > 1 with dilation > 1; so does the layer
    output_padding = None if output_padding < 0 or output_padding >= strides else output_padding
    rng = np.random.default_rng(seed)
    kernel_mask, sample_mask = _masks(rng, kernel_mask, sample_mask, batch, filters, kernel_size, channels)
    x = rng.normal(size=(batch, length, channels)).astype("float32")
    context = rng.normal(size=(batch, context_dim)).astype("float32")
    layer = HyperConv1DTranspose(filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                                 output_padding=output_padding, use_bias=use_bias, mode=mode, num_bases=factors,
                                 rank=factors, kernel_mask=kernel_mask)
    layer.build(x.shape, context.shape)
    _randomize_weights(layer, rng)
    kernel, bias = references.generated_kernel(layer.generator, context, sample_mask)
    want = references.per_sample_conv1d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)
    assume(want.shape[1] >= 1)
    got = layer(x, context, sample_mask=sample_mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=2e-4, rtol=1e-4)


conv2d_cases = dict(
    batch=st.integers(1, 3),
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    channels=st.integers(1, 3),
    filters=st.integers(1, 3),
    kernel_shape=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**31 - 1),
)


def _conv2d_fits(height, width, kernel_shape, dilation, padding):
    return padding != "valid" or (height >= _span(kernel_shape[0], dilation[0])
                                  and width >= _span(kernel_shape[1], dilation[1]))


def _keras_conv_per_sample(x, kernel, bias, strides, padding, dilation):
    """One `keras.ops.conv` per sample, each with that sample's kernel, or None where the backend's conv refuses the
    arguments (TensorFlow: strides > 1 together with dilation > 1)."""
    if max(strides) > 1 and max(dilation) > 1:
        return None
    outputs = []
    for b in range(len(x)):
        weights = np.transpose(kernel[b], (1, 2, 3, 0))  # (O, kh, kw, C) -> (kh, kw, C, O)
        y = keras.ops.conv(x[b:b + 1], weights, strides=strides, padding=padding, dilation_rate=dilation)
        y = keras.ops.convert_to_numpy(y)
        outputs.append(y if bias is None else y + bias[b])
    return np.concatenate(outputs)


@examples(120)
@given(implementation=st.sampled_from(["unfold", "loop"]), use_bias=st.booleans(), **conv2d_cases)
def test_per_sample_conv2d_against_keras_conv(batch, height, width, channels, filters, kernel_shape, strides,
                                              dilation, padding, seed, implementation, use_bias):
    assume(_conv2d_fits(height, width, kernel_shape, dilation, padding))  # else a tested error
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    kernel = rng.normal(size=(batch, filters, *kernel_shape, channels)).astype("float32")
    bias = rng.normal(size=(batch, filters)).astype("float32") if use_bias else None
    layer = PerSampleConv2D(strides, padding, dilation, implementation=implementation)
    got = keras.ops.convert_to_numpy(layer(x, kernel, bias))
    want = references.per_sample_conv2d(x, kernel, bias, strides, padding, dilation)
    np.testing.assert_allclose(got, want, atol=1e-4)
    keras_want = _keras_conv_per_sample(x, kernel, bias, strides, padding, dilation)
    if keras_want is not None:
        np.testing.assert_allclose(got, keras_want, atol=1e-4)
    assert layer.compute_output_shape(x.shape, kernel.shape) == want.shape


@examples(80)
@given(**conv2d_cases, **generator_cases)
def test_hyper_conv2d(batch, height, width, channels, filters, kernel_shape, strides, dilation, padding, seed,
                      context_dim, mode, factors, use_bias, kernel_mask, sample_mask):
    assume(_conv2d_fits(height, width, kernel_shape, dilation, padding))
    rng = np.random.default_rng(seed)
    kernel_mask, sample_mask = _masks(rng, kernel_mask, sample_mask, batch, filters, kernel_shape, channels)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    context = rng.normal(size=(batch, context_dim)).astype("float32")
    layer = HyperConv2D(filters, kernel_shape, strides=strides, padding=padding, dilation_rate=dilation,
                        use_bias=use_bias, mode=mode, num_bases=factors, rank=factors, kernel_mask=kernel_mask)
    layer.build(x.shape, context.shape)
    _randomize_weights(layer, rng)
    kernel, bias = references.generated_kernel(layer.generator, context, sample_mask)
    got = keras.ops.convert_to_numpy(layer(x, context, sample_mask=sample_mask))
    want = _keras_conv_per_sample(x.astype("float32"), kernel.astype("float32"),
                                  None if bias is None else bias.astype("float32"), strides, padding, dilation)
    if want is None:
        want = references.per_sample_conv2d(x, kernel, bias, strides, padding, dilation)
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=1e-4)


@examples(40)
@given(output_padding=st.tuples(st.integers(-1, 2), st.integers(-1, 2)), use_bias=st.booleans(), **conv2d_cases)
def test_per_sample_conv2d_transpose(batch, height, width, channels, filters, kernel_shape, strides, dilation,
                                     padding, seed, output_padding, use_bias):
    # One output_padding entry < 0 means None (Keras takes None or a pair); each must be smaller than its stride.
    output_padding = None if min(output_padding) < 0 else tuple(min(p, s - 1) for p, s in zip(output_padding, strides))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    kernel = rng.normal(size=(batch, filters, *kernel_shape, channels)).astype("float32")
    bias = rng.normal(size=(batch, filters)).astype("float32") if use_bias else None
    want = references.per_sample_conv2d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)
    assume(min(want.shape[1:3]) >= 1)  # else a tested error
    layer = PerSampleConv2DTranspose(strides, padding, output_padding, dilation)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, kernel, bias)), want, atol=1e-4)
    assert layer.compute_output_shape(x.shape, kernel.shape) == want.shape
