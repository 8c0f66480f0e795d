"""Finite-difference gradient checks of the hyper layers: the backend's gradients of `sum(layer(x, context) * w)`
with respect to the input and to the context (through `KernelGenerator`, in every mode) against central differences
of the float64 reference (`tests.references.generated_kernel`, then the per-sample conv reference)."""

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import HyperConv1D, HyperConv1DTranspose, HyperConv2D, HyperConv2DTranspose
from tests import references
from tests.layer_checks import randomize_weights
from tests.layers.gradient_checks import numeric_gradients

CASES = [
    ("1d basis", HyperConv1D, dict(filters=2, kernel_size=3, strides=2, padding="same", mode="basis", num_bases=2),
     (2, 5, 2), lambda x, k, b: references.per_sample_conv1d(x, k, b, 2, "same", 1)),
    ("1d low_rank causal dilated", HyperConv1D, dict(filters=2, kernel_size=2, padding="causal", dilation_rate=2,
                                                     mode="low_rank", rank=2),
     (2, 5, 2), lambda x, k, b: references.per_sample_conv1d(x, k, b, 1, "causal", 2)),
    ("1d dense valid", HyperConv1D, dict(filters=2, kernel_size=2, padding="valid", mode="dense"),
     (2, 4, 2), lambda x, k, b: references.per_sample_conv1d(x, k, b, 1, "valid", 1)),
    ("1d transpose", HyperConv1DTranspose, dict(filters=2, kernel_size=3, strides=2, padding="same", mode="basis",
                                                num_bases=2),
     (2, 3, 2), lambda x, k, b: references.per_sample_conv1d_transpose(x, k, b, 2, "same")),
    ("2d", HyperConv2D, dict(filters=2, kernel_size=(2, 2), strides=(1, 2), padding="same", mode="basis",
                             num_bases=2),
     (2, 3, 4, 1), lambda x, k, b: references.per_sample_conv2d(x, k, b, (1, 2), "same", (1, 1))),
    ("2d transpose", HyperConv2DTranspose, dict(filters=2, kernel_size=(2, 2), strides=(2, 1), padding="valid",
                                                mode="basis", num_bases=2),
     (2, 2, 3, 1), lambda x, k, b: references.per_sample_conv2d_transpose(x, k, b, (2, 1), "valid")),
]


@pytest.mark.parametrize("name, layer_cls, kwargs, x_shape, reference", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_finite_differences(name, layer_cls, kwargs, x_shape, reference, rng):
    x = rng.normal(size=x_shape)
    context = rng.normal(size=(x_shape[0], 3))
    layer = layer_cls(**kwargs)
    layer.build(x.shape, context.shape)
    randomize_weights(layer, rng, 0.4)

    def f64_loss(x, context):
        kernel, bias = references.generated_kernel(layer.generator, context)
        return float(np.sum(reference(x, kernel, bias) * weights))

    kernel, bias = references.generated_kernel(layer.generator, context)
    weights = rng.normal(size=reference(x, kernel, bias).shape)

    def loss(x, context):
        return keras.ops.sum(keras.ops.multiply(layer(x, context), weights.astype("float32")))

    _, analytic = value_and_grad(loss, 2)(x.astype("float32"), context.astype("float32"))
    numeric = numeric_gradients(f64_loss, [x, context])
    for got, want, what in zip(analytic, numeric, ("inputs", "context")):
        got = keras.ops.convert_to_numpy(got).astype(np.float64)
        assert np.abs(want).max() > 1e-3, what  # the gradient is not trivially zero
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3, err_msg=what)
