import itertools

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import PerSampleConv2DTranspose
from tests import references
from tests.conftest import backend
from tests.grids import grid
from tests.layer_checks import run_layer_checks
from tests.layers.gradient_checks import numeric_gradients

# (padding, strides, dilation_rate, kernel shape, output_padding)
GRID = [case for case in itertools.product(["valid", "same"], [(1, 1), (2, 2), (2, 1), (3, 2)], [(1, 1), (1, 2)],
                                           [(1, 1), (3, 2), (2, 3)], [None, (0, 0), (1, 0)])
        if (case[4] is None or all(p < s for p, s in zip(case[4], case[1])))]


def _random_case(rng, batch=2, height=4, width=5, in_channels=3, out_channels=4, kernel_shape=(3, 3)):
    x = rng.normal(size=(batch, height, width, in_channels)).astype("float32")
    kernel = rng.normal(size=(batch, out_channels, *kernel_shape, in_channels)).astype("float32")
    bias = rng.normal(size=(batch, out_channels)).astype("float32")
    return x, kernel, bias


def test_matches_float64_reference_on_grid(rng):
    for padding, strides, dilation, kernel_shape, output_padding in grid(GRID):
        x, kernel, bias = _random_case(rng, kernel_shape=kernel_shape)
        layer = PerSampleConv2DTranspose(strides, padding, output_padding, dilation)
        want = references.per_sample_conv2d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)
        case = str((padding, strides, dilation, kernel_shape, output_padding))
        got = keras.ops.convert_to_numpy(layer(x, kernel, bias))
        assert got.shape == want.shape, case
        assert layer.compute_output_shape(x.shape, kernel.shape, bias.shape) == want.shape, case
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=case)


def _keras_can(padding, strides, dilation, kernel_shape, output_padding):
    if max(strides) > 1 and max(dilation) > 1:
        return False  # Keras refuses the combination
    if backend() == "tensorflow" and max(dilation) > 1:
        return False  # TF's CPU kernel has no dilated transposed conv
    # TF's op rejects "same" with an even kernel and an explicit output_padding (Keras' size formula disagrees).
    return not (backend() == "tensorflow" and padding == "same" and output_padding is not None
                and any(k % 2 == 0 for k in kernel_shape))


def test_matches_keras_conv2d_transpose_run_per_sample(rng):
    """Each sample's output equals `keras.layers.Conv2DTranspose` run on that sample alone, with its kernel."""
    cases = grid([case for case in GRID if _keras_can(*case)])
    for padding, strides, dilation, kernel_shape, output_padding in cases:
        x, kernel, bias = _random_case(rng, kernel_shape=kernel_shape)
        got = keras.ops.convert_to_numpy(
            PerSampleConv2DTranspose(strides, padding, output_padding, dilation)(x, kernel, bias))
        for b in range(len(x)):
            conv = keras.layers.Conv2DTranspose(4, kernel_shape, strides, padding, output_padding=output_padding,
                                                dilation_rate=dilation)
            conv.build(x[b:b + 1].shape)
            conv.kernel.assign(np.transpose(kernel[b], (1, 2, 0, 3)))  # ours (O, kh, kw, C); Keras (kh, kw, O, C)
            conv.bias.assign(bias[b])
            want = keras.ops.convert_to_numpy(conv(x[b:b + 1]))[0]
            case = str((padding, strides, dilation, kernel_shape, output_padding, b))
            np.testing.assert_allclose(got[b], want, atol=1e-4, err_msg=case)
    assert len(cases) >= 8  # Keras can run most of the grid on every backend (78 of 132 cells on TensorFlow)


@pytest.mark.parametrize("padding,strides,output_padding", [("same", 2, None), ("valid", (2, 1), (1, 0)),
                                                            ("same", 1, None), ("valid", 3, (2, 1))])
def test_shared_kernel_equals_keras_conv2d_transpose(padding, strides, output_padding, rng):
    x = rng.normal(size=(3, 4, 5, 2)).astype("float32")
    conv = keras.layers.Conv2DTranspose(5, (3, 2), strides, padding, output_padding=output_padding)
    want = keras.ops.convert_to_numpy(conv(x))
    keras_kernel = keras.ops.convert_to_numpy(conv.kernel)  # (kh, kw, out, in)
    per_sample = np.broadcast_to(np.transpose(keras_kernel, (2, 0, 1, 3)), (3, 5, 3, 2, 2))
    bias = np.broadcast_to(keras.ops.convert_to_numpy(conv.bias), (3, 5))
    got = PerSampleConv2DTranspose(strides, padding, output_padding)(x, per_sample, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)


def test_gradients_match_finite_differences(rng):
    x, kernel, bias = _random_case(rng, batch=2, height=2, width=3, in_channels=2, out_channels=2, kernel_shape=(2, 3))
    kwargs = dict(strides=(2, 1), padding="same", output_padding=(1, 0))
    weights = rng.normal(size=(2, 3, 3, 2))

    def f64_loss(x, kernel, bias):
        return float(np.sum(references.per_sample_conv2d_transpose(x, kernel, bias, (2, 1), "same", (1, 0), (1, 1))
                            * weights))

    def loss(x, kernel, bias):
        y = PerSampleConv2DTranspose(**kwargs)(x, kernel, bias)
        return keras.ops.sum(keras.ops.multiply(y, weights.astype("float32")))

    _, grads = value_and_grad(loss, 3)(x, kernel, bias)
    for got, numeric in zip(grads, numeric_gradients(f64_loss, (x, kernel, bias))):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), numeric, atol=1e-3)


def test_standard_layer_checks(rng, tmp_path):
    x, kernel, bias = _random_case(rng, batch=3, height=3, width=4, kernel_shape=(3, 2))
    run_layer_checks(PerSampleConv2DTranspose, dict(strides=(2, 1), padding="same", output_padding=(1, 0),
                                                    dilation_rate=(1, 1)), [x, kernel, bias], (3, 6, 3, 4), tmp_path)


def test_config_normalises_ints_to_pairs():
    config = PerSampleConv2DTranspose(strides=2, output_padding=1).get_config()
    assert (config["strides"], config["output_padding"], config["dilation_rate"]) == ((2, 2), (1, 1), (1, 1))
    assert PerSampleConv2DTranspose().get_config()["output_padding"] is None


@pytest.mark.backends("tensorflow")  # tf.function / XLA are TensorFlow's
@pytest.mark.parametrize("jit_compile", [False, True])
def test_inside_tf_function_with_unknown_batch_and_size(jit_compile, rng):
    import tensorflow as tf

    layer = PerSampleConv2DTranspose(strides=(2, 1), padding="same", output_padding=(1, 0))
    spec = (None, None, None, 3) if not jit_compile else (None, 4, 5, 3)
    fn = tf.function(layer, jit_compile=jit_compile, input_signature=[
        tf.TensorSpec(spec), tf.TensorSpec((None, 4, 3, 3, 3)), tf.TensorSpec((None, 4))])
    for batch, height, width in ((1, 4, 5), (3, 4, 5) if jit_compile else (3, 2, 6)):
        x, kernel, bias = _random_case(rng, batch, height=height, width=width)
        np.testing.assert_allclose(
            fn(x, kernel, bias).numpy(),
            references.per_sample_conv2d_transpose(x, kernel, bias, (2, 1), "same", (1, 0), (1, 1)), atol=1e-4)


@pytest.mark.backends("jax")  # jax.jit
def test_under_jax_jit(rng):
    import jax

    layer = PerSampleConv2DTranspose(padding="same", strides=2)
    x, kernel, bias = _random_case(rng)
    got = jax.jit(lambda *a: layer(*a))(x, kernel, bias)
    np.testing.assert_allclose(
        np.asarray(got), references.per_sample_conv2d_transpose(x, kernel, bias, (2, 2), "same"), atol=1e-4)


@pytest.mark.parametrize("policy,dtype,atol", [("mixed_float16", "float16", 0.08), ("mixed_bfloat16", "bfloat16", 0.5)])
def test_mixed_precision_policies(policy, dtype, atol, rng):
    keras.config.set_dtype_policy(policy)
    x, kernel, bias = _random_case(rng)
    y = PerSampleConv2DTranspose(strides=2, padding="same")(x, kernel, bias)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    want = references.per_sample_conv2d_transpose(x, kernel, bias, (2, 2), "same")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")), want, atol=atol, rtol=0.02)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(padding="causal"), r"`padding` must be one of 'valid', 'same'. Received: padding='causal'"),
        (dict(strides=0), r"`strides` must be an integer >= 1 or a tuple of 2 such integers. Received: strides=0"),
        (dict(strides=(1, 2, 3)), r"`strides` must be .*tuple of 2.* Received: strides=\(1, 2, 3\)"),
        (dict(dilation_rate=(1, 0)), r"`dilation_rate` must be .* Received: dilation_rate=\(1, 0\)"),
        (dict(output_padding=-1), r"`output_padding` must be an integer >= 0 or a tuple of 2 such integers. "
                                  r"Received: output_padding=-1"),
        (dict(strides=(2, 1), output_padding=(1, 1)),
         r"`output_padding` must be smaller than `strides` on each axis. "
         r"Received: output_padding=\(1, 1\), strides=\(2, 1\)"),
        (dict(implementation="unfold"), r"implementation"),  # the transposed layers have no implementations
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PerSampleConv2DTranspose(**kwargs)


@pytest.mark.parametrize(
    "x_shape,k_shape,b_shape,kwargs,match",
    [
        ((2, 4, 4, 3), (2, 4, 3, 3), None, {},  # a 1D kernel
         r"`kernel` must have rank 5, \(batch, out_channels, kernel_height, kernel_width, in_channels\)"),
        ((2, 4, 4, 3), (2, 4, 3, 3, 5), None, {}, r"in_channels.*Received: kernel.shape=\(2, 4, 3, 3, 5\)"),
        ((2, 4, 4, 3), (3, 4, 3, 3, 3), None, {}, r"batch size.*Received: kernel.shape=\(3, 4, 3, 3, 3\)"),
        ((2, 4, 4, 3), (2, 4, 3, 3, 3), (2, 5), {},
         r"`bias` must have shape .*\(2, 4\).*Received: bias.shape=\(2, 5\)"),
        ((2, 4, 3), (2, 4, 3, 3, 3), None, {},
         r"`inputs` must have rank 4, \(batch, height, width, in_channels\). Received: inputs.shape=\(2, 4, 3\)"),
        ((2, 1, 3, 3), (2, 4, 2, 1, 3), None, dict(padding="same", output_padding=0),
         r"The output would be empty \(height 0, width 3\) for this kernel size and padding. "
         r"Received: inputs.shape=\(2, 1, 3, 3\), kernel.shape=\(2, 4, 2, 1, 3\)"),
    ],
)
def test_bad_shapes(x_shape, k_shape, b_shape, kwargs, match, rng):
    x = rng.normal(size=x_shape).astype("float32")
    kernel = rng.normal(size=k_shape).astype("float32")
    bias = None if b_shape is None else rng.normal(size=b_shape).astype("float32")
    with pytest.raises(ValueError, match=match):
        PerSampleConv2DTranspose(**kwargs)(x, kernel, bias)


def test_bad_shapes_are_caught_symbolically():
    with pytest.raises(ValueError, match=r"in_channels"):
        PerSampleConv2DTranspose()(keras.Input((4, 4, 3)), keras.Input((4, 3, 3, 2)))
