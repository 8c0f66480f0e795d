import keras
import numpy as np
import pytest

from hypertext.layers import HyperConv2DTranspose
from tests import references
from tests.layer_checks import check_config_and_weights_round_trip, randomize_weights, run_layer_checks

MODES = ["basis", "low_rank", "dense"]


@pytest.mark.parametrize("mode", MODES)
def test_matches_reference_generator_then_conv(mode, rng):
    x = rng.normal(size=(3, 3, 4, 4)).astype("float32")
    context = rng.normal(size=(3, 6)).astype("float32")
    layer = HyperConv2DTranspose(5, (3, 2), strides=(2, 1), padding="same", output_padding=(1, 0),
                                 activation="tanh", mode=mode, rank=2, num_bases=3)
    layer.build(x.shape, context.shape)
    randomize_weights(layer, rng, 0.3)
    kernel, bias = references.generated_kernel(layer.generator, context)
    assert kernel.shape == (3, 5, 3, 2, 4)
    want = np.tanh(references.per_sample_conv2d_transpose(x, kernel, bias, (2, 1), "same", (1, 0), (1, 1)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, context)), want, atol=1e-4)
    assert layer.compute_output_shape(x.shape, context.shape) == want.shape


@pytest.mark.parametrize("mode", MODES)
def test_constant_context_equals_keras_conv2d_transpose(mode, rng):
    """Zero context: the generator emits a fixed kernel (its biases), so the layer must equal a Conv2DTranspose."""
    x = rng.normal(size=(4, 3, 4, 3)).astype("float32")
    context = np.zeros((4, 5), "float32")
    layer = HyperConv2DTranspose(6, 3, strides=2, padding="same", activation="relu", mode=mode, rank=2, num_bases=3)
    layer.build(x.shape, context.shape)
    randomize_weights(layer, rng, 0.5)
    kernel, bias = references.generated_kernel(layer.generator, context)
    np.testing.assert_array_equal(kernel, kernel[:1].repeat(4, axis=0))  # the same kernel for every sample
    conv = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu")
    conv.build(x.shape)
    conv.kernel.assign(np.transpose(kernel[0], (1, 2, 0, 3)))  # ours (out, kh, kw, in); Keras (kh, kw, out, in)
    conv.bias.assign(bias[0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, context)),
                               keras.ops.convert_to_numpy(conv(x)), atol=1e-5)


@pytest.mark.parametrize("kwargs,out_shape", [
    (dict(filters=4, kernel_size=(4, 2), strides=(2, 2), padding="same", activation="gelu", mode="basis", num_bases=2,
          tap_pattern=[0, 1, 1, 2, 3, 3, 2, 0]), (3, 6, 8, 4)),
    (dict(filters=4, kernel_size=(2, 2), strides=(2, 1), output_padding=(1, 0), mode="low_rank", rank=2,
          use_bias=False), (3, 7, 5, 4)),
    (dict(filters=4, kernel_size=(3, 3), padding="same", dilation_rate=(1, 2), mode="dense", tap_tiling=3,
          kernel_mask=[[[[1.0], [0.0], [1.0]]] * 3]), (3, 3, 4, 4)),
])
def test_standard_layer_checks(kwargs, out_shape, rng, tmp_path):
    x = rng.normal(size=(3, 3, 4, 2)).astype("float32")
    context = rng.normal(size=(3, 5)).astype("float32")
    run_layer_checks(HyperConv2DTranspose, kwargs, [x, context], out_shape, tmp_path)


def test_int_arguments_build_run_and_round_trip(rng):
    x = rng.normal(size=(2, 3, 2, 3)).astype("float32")
    context = rng.normal(size=(2, 7)).astype("float32")
    layer = HyperConv2DTranspose(8, 3, strides=2, output_padding=1)
    assert keras.ops.convert_to_numpy(layer(x, context)).shape == (2, 8, 6, 8)  # (n - 1) * 2 + 3 + 1
    config = check_config_and_weights_round_trip(layer, [x, context])
    assert (config["kernel_size"], config["strides"], config["output_padding"]) == ((3, 3), (2, 2), (1, 1))


def test_sample_mask_silences_taps(rng):
    x = rng.normal(size=(2, 3, 3, 3)).astype("float32")
    context = rng.normal(size=(2, 4)).astype("float32")
    layer = HyperConv2DTranspose(3, (3, 3), strides=2, padding="same", use_bias=False)
    sample_mask = (rng.random((2, 1, 3, 3, 1)) < 0.5).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, context, sample_mask=sample_mask))
    kernel, _ = references.generated_kernel(layer.generator, context, sample_mask)
    np.testing.assert_allclose(y, references.per_sample_conv2d_transpose(x, kernel, None, (2, 2), "same"), atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(padding="causal"), r"`padding` must be one of 'valid', 'same'. Received: padding='causal'"),
    (dict(kernel_size=(3, 0)), r"`kernel_size` must be an integer >= 1 or a tuple of 2 such integers. "
                               r"Received: kernel_size=\(3, 0\)"),
    (dict(strides=(1, 1, 1)), r"`strides` must be .* Received: strides=\(1, 1, 1\)"),
    (dict(strides=2, output_padding=(0, 2)), r"`output_padding` must be smaller than `strides` on each axis. "
                                             r"Received: output_padding=\(0, 2\), strides=\(2, 2\)"),
    (dict(tap_tiling=2), r"`tap_tiling` must divide `kernel_size` \(3x3=9\). Received: tap_tiling=2"),
    (dict(kernel_mask=np.ones((4, 2, 1))), r"`kernel_mask` must broadcast to \(4, 3, 3, None\)"),
])
def test_bad_arguments(kwargs, match):
    args = dict(filters=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        HyperConv2DTranspose(**args)


def test_inputs_of_wrong_rank(rng):
    with pytest.raises(ValueError, match=r"`inputs` must have rank 4, \(batch, height, width, channels\)"):
        HyperConv2DTranspose(4, 3)(rng.normal(size=(2, 6, 2)).astype("float32"),
                                   rng.normal(size=(2, 3)).astype("float32"))
