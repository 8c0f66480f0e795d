import itertools

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import PerSampleConv1DTranspose
from tests import references
from tests.conftest import backend
from tests.grids import grid
from tests.layer_checks import run_layer_checks

GRID = [(p, s, d, k, op) for p, s, d, k, op in itertools.product(
    ["valid", "same"], [1, 2, 3], [1, 2], [1, 2, 3, 5], [None, 0, 1]) if op is None or op < s]


@pytest.mark.parametrize("padding,strides,dilation,kernel_size,output_padding", grid(GRID))
def test_matches_float64_reference(padding, strides, dilation, kernel_size, output_padding, rng):
    x = rng.normal(size=(2, 7, 3)).astype("float32")
    kernel = rng.normal(size=(2, 4, kernel_size, 3)).astype("float32")
    bias = rng.normal(size=(2, 4)).astype("float32")
    layer = PerSampleConv1DTranspose(strides, padding, output_padding, dilation)
    want = references.per_sample_conv1d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)
    got = keras.ops.convert_to_numpy(layer(x, kernel, bias))
    assert layer.compute_output_shape(x.shape, kernel.shape) == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4)


def _keras_can(padding, strides, dilation, kernel_size, output_padding):
    if strides > 1 and dilation > 1:
        return False  # Keras refuses the combination
    if backend() == "tensorflow" and dilation > 1:
        return False  # TF's CPU kernel has no dilated transposed conv
    # TF's op rejects "same" with an even kernel and an explicit output_padding (Keras' length formula disagrees).
    return not (backend() == "tensorflow" and padding == "same" and kernel_size % 2 == 0 and output_padding is not None)


@pytest.mark.parametrize("padding,strides,dilation,kernel_size,output_padding",
                         grid(c for c in GRID if _keras_can(*c)))
def test_shared_kernel_equals_keras_conv1d_transpose(padding, strides, dilation, kernel_size, output_padding, rng):
    """Only the cells Keras can run on this backend are collected."""
    x = rng.normal(size=(3, 7, 5)).astype("float32")
    layer = keras.layers.Conv1DTranspose(6, kernel_size, strides, padding, output_padding=output_padding,
                                         dilation_rate=dilation)
    want = keras.ops.convert_to_numpy(layer(x))
    keras_kernel = keras.ops.convert_to_numpy(layer.kernel)  # (k, out, in)
    kernel = np.broadcast_to(np.transpose(keras_kernel, (1, 0, 2)), (3, 6, kernel_size, 5))
    bias = np.broadcast_to(keras.ops.convert_to_numpy(layer.bias), (3, 6))
    got = PerSampleConv1DTranspose(strides, padding, output_padding, dilation)(x, kernel, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)


def test_gradients_match_finite_differences(rng):
    x = rng.normal(size=(2, 3, 2))
    kernel = rng.normal(size=(2, 2, 3, 2))
    weights = rng.normal(size=(2, 6, 2))

    def f64(x, kernel):
        return float(np.sum(references.per_sample_conv1d_transpose(x, kernel, None, 2, "same") * weights))

    def loss(x, kernel):
        y = PerSampleConv1DTranspose(2, "same")(x, kernel)
        return keras.ops.sum(keras.ops.multiply(y, weights.astype("float32")))

    _, grads = value_and_grad(loss, 2)(x.astype("float32"), kernel.astype("float32"))
    eps = 1e-5
    for i, array in enumerate((x, kernel)):
        numeric = np.zeros(array.shape)
        for idx in np.ndindex(array.shape):
            args = [x.copy(), kernel.copy()]
            args[i][idx] += eps
            up = f64(*args)
            args[i][idx] -= 2 * eps
            numeric[idx] = (up - f64(*args)) / (2 * eps)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(grads[i]), numeric, atol=1e-3)


def test_standard_layer_checks(rng, tmp_path):
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    kernel = rng.normal(size=(3, 4, 3, 2)).astype("float32")
    run_layer_checks(PerSampleConv1DTranspose, dict(strides=2, padding="same", output_padding=1, dilation_rate=1),
                     [x, kernel], (3, 10, 4), tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(padding="causal"), r"`padding` must be one of 'valid', 'same'. Received: padding='causal'"),
        (dict(strides=0), r"`strides` must be an integer >= 1. Received: strides=0"),
        (dict(strides=2, output_padding=2), r"`output_padding` must be smaller than `strides`"),
        (dict(output_padding=-1), r"`output_padding` must be an integer >= 0. Received: output_padding=-1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PerSampleConv1DTranspose(**kwargs)


def test_bad_kernel_shape(rng):
    with pytest.raises(ValueError, match=r"in_channels.*Received: kernel.shape=\(2, 4, 3, 5\)"):
        PerSampleConv1DTranspose()(rng.normal(size=(2, 6, 3)).astype("float32"),
                                   rng.normal(size=(2, 4, 3, 5)).astype("float32"))
