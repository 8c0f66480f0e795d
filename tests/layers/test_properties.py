"""Property tests: random layer configurations against the float64 references in `tests/references.py`.

The three tests draw 1,000 examples in all (400 + 300 + 300) on TensorFlow and PyTorch, and a tenth of that on JAX,
whose eager mode compiles every op anew for each new shape (minutes for 1,000 random shapes on CI's 2 cores). For a
longer, nightly-style run, scale every count with an environment variable, e.g.
`HYPERTEXT_PROPERTY_SCALE=20 pytest tests/layers/test_properties.py`.
"""

import os

import keras
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hypertext.layers import HyperConv1D, HyperConv1DTranspose, PerSampleConv1D
from tests import references

SCALE = float(os.environ.get("HYPERTEXT_PROPERTY_SCALE", "0.1" if keras.backend.backend() == "jax" else "1"))


def examples(count):
    return settings(max_examples=max(1, int(count * SCALE)), deadline=None, derandomize="HYPERTEXT_PROPERTY_SCALE" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _span(kernel_size, dilation):
    return dilation * (kernel_size - 1) + 1


def _randomize_weights(layer, rng):
    """Random weights everywhere (the bias heads start at zero), so every term of the reference is exercised."""
    for variable in layer.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.4)


def _masks(rng, draw_kernel_mask, draw_sample_mask, batch, filters, kernel_size, channels):
    kernel_mask = (rng.random((filters, kernel_size, 1)) < 0.7).astype("float32") if draw_kernel_mask else None
    sample_mask = (rng.random((batch, 1, kernel_size, channels)) < 0.7).astype("float32") if draw_sample_mask else None
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
       implementation=st.sampled_from(["auto", "unfold", "loop"]), use_bias=st.booleans(), **conv_cases)
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
