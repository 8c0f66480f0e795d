import keras
import numpy as np
import pytest

from hypertext.layers import HyperConv1D, HyperConv1DTranspose
from tests import references
from tests.layer_checks import run_layer_checks

MODES = ["basis", "low_rank", "dense"]


@pytest.mark.parametrize("layer_cls", [HyperConv1D, HyperConv1DTranspose])
@pytest.mark.parametrize("mode", MODES)
def test_matches_reference_generator_then_conv(layer_cls, mode, rng):
    x = rng.normal(size=(3, 8, 4)).astype("float32")
    context = rng.normal(size=(3, 6)).astype("float32")
    layer = layer_cls(5, 3, strides=2, padding="same", activation="tanh", mode=mode, rank=2, num_bases=3)
    layer.build(x.shape, context.shape)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.3)
    kernel, bias = references.generated_kernel(layer.generator, context)
    if layer_cls is HyperConv1D:
        want = references.per_sample_conv1d(x, kernel, bias, 2, "same", 1)
    else:
        want = references.per_sample_conv1d_transpose(x, kernel, bias, 2, "same")
    got = keras.ops.convert_to_numpy(layer(x, context))
    np.testing.assert_allclose(got, np.tanh(want), atol=1e-4)
    assert layer.compute_output_shape(x.shape, context.shape) == want.shape


@pytest.mark.parametrize("layer_cls,keras_cls", [(HyperConv1D, keras.layers.Conv1D),
                                                 (HyperConv1DTranspose, keras.layers.Conv1DTranspose)])
@pytest.mark.parametrize("mode", MODES)
def test_constant_context_equals_keras_conv(layer_cls, keras_cls, mode, rng):
    """Zero context: the generator emits a fixed kernel (its biases), so the layer must equal a Keras conv with it."""
    x = rng.normal(size=(4, 9, 3)).astype("float32")
    context = np.zeros((4, 5), "float32")
    layer = layer_cls(6, 3, strides=2, padding="same", activation="relu", mode=mode, rank=2, num_bases=3)
    layer.build(x.shape, context.shape)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.5)
    g = {v.name: keras.ops.convert_to_numpy(v.value) for v in layer.generator.weights}
    if mode == "dense":
        kernel = g["projection_bias"].reshape(6, 3, 3)
    elif mode == "low_rank":
        kernel = (g["left_bias"].reshape(6, 2) @ g["right_bias"].reshape(2, 9)).reshape(6, 3, 3)
    else:
        kernel = (g["mixing_bias"] @ g["bases"]).reshape(6, 3, 3)
    conv = keras_cls(6, 3, strides=2, padding="same", activation="relu")
    conv.build(x.shape)
    # Keras: Conv1D kernel (k, in, out); Conv1DTranspose kernel (k, out, in). Ours: (out, k, in).
    conv.kernel.assign(np.transpose(kernel, (1, 2, 0) if keras_cls is keras.layers.Conv1D else (1, 0, 2)))
    conv.bias.assign(g["bias_bias"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, context)),
                               keras.ops.convert_to_numpy(conv(x)), atol=1e-5)


@pytest.mark.parametrize("layer_cls,kwargs,out_shape", [
    (HyperConv1D, dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, activation="gelu",
                       mode="basis", num_bases=2, tap_pattern=[0, 1, 1]), (3, 8, 4)),
    (HyperConv1D, dict(filters=4, kernel_size=2, strides=2, mode="low_rank", rank=2, use_bias=False), (3, 4, 4)),
    (HyperConv1DTranspose, dict(filters=4, kernel_size=4, strides=2, padding="same", mode="dense",
                                kernel_mask=[[[1.0], [1.0], [0.0], [1.0]]]), (3, 16, 4)),
])
def test_standard_layer_checks(layer_cls, kwargs, out_shape, rng, tmp_path):
    x = rng.normal(size=(3, 8, 2)).astype("float32")
    context = rng.normal(size=(3, 5)).astype("float32")
    run_layer_checks(layer_cls, kwargs, [x, context], out_shape, tmp_path)


class SubclassedHyperModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.embed = keras.layers.Dense(6)
        self.hyper = HyperConv1D(4, 3, padding="same", activation="relu")
        self.up = HyperConv1DTranspose(2, 3, strides=2, padding="same")

    def call(self, inputs):
        x, context = inputs
        z = self.embed(context)
        return self.up(self.hyper(x, z), z)


def test_subclassed_model_trains(rng):
    model = SubclassedHyperModel()
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    context = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 10, 2)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    first = model.evaluate([x, context], y, verbose=0)
    model.fit([x, context], y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate([x, context], y, verbose=0) < first * 0.9


@pytest.mark.parametrize("kwargs,match", [
    (dict(mode="nope"), r"`mode` must be one of"),
    (dict(rank=0, mode="low_rank"), r"`rank` must be an integer >= 1. Received: rank=0"),
    (dict(padding="full"), r"`padding` must be one of 'valid', 'same', 'causal'. Received: padding='full'"),
    (dict(tap_pattern=(1, 1, 1)), r"`tap_pattern` must"),
    (dict(kernel_mask=np.ones((5, 3, 1))), r"`kernel_mask` must broadcast to \(4, 3, None\)"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HyperConv1D(4, 3, **kwargs)


def test_mask_channels_checked_in_build(rng):
    layer = HyperConv1D(4, 3, kernel_mask=np.ones((1, 1, 5)))
    with pytest.raises(ValueError, match=r"`kernel_mask` must broadcast to \(4, 3, 2\)"):
        layer(rng.normal(size=(2, 6, 2)).astype("float32"), rng.normal(size=(2, 3)).astype("float32"))


def test_context_of_wrong_rank(rng):
    with pytest.raises(ValueError, match=r"`context` must have rank 2.*Received: context.shape=\(2, 3, 1\)"):
        HyperConv1D(4, 3)(rng.normal(size=(2, 6, 2)).astype("float32"), rng.normal(size=(2, 3, 1)).astype("float32"))
