import warnings

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import KernelGenerator, PerSampleConv1D
from tests import references
from tests.layer_checks import run_layer_checks

MODES = ["basis", "low_rank", "dense"]


def _randomize(layer, rng):
    """Replace every weight (zeros at init for some) with random values, so the references see all terms."""
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("taps", [dict(), dict(tap_pattern=(0, 0, 1, 2, 2)), dict(tap_tiling=5), dict(tap_tiling=1)])
def test_modes_and_tap_layouts_match_numpy(mode, taps, rng):
    layer = KernelGenerator(4, 5, 3, mode=mode, rank=2, num_bases=3, **taps)
    context = rng.normal(size=(6, 7)).astype("float32")
    layer.build(context.shape)
    _randomize(layer, rng)
    kernel, bias = layer(context)
    want_kernel, want_bias = references.generated_kernel(layer, context)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), want_kernel, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), want_bias, rtol=1e-4, atol=1e-4)
    assert layer.count_params() == layer.count_params_for(7)


def test_tap_pattern_expansion_is_numpy_indexing(rng):
    layer = KernelGenerator(2, 5, 3, mode="dense", tap_pattern=(0, 0, 1, 2, 2), use_bias=False)
    context = rng.normal(size=(2, 4)).astype("float32")
    layer.build(context.shape)
    _randomize(layer, rng)
    generated = (context @ keras.ops.convert_to_numpy(layer.projection_kernel)
                 + keras.ops.convert_to_numpy(layer.projection_bias)).reshape(2, 2, 3, 3)
    kernel = keras.ops.convert_to_numpy(layer(context))
    np.testing.assert_allclose(kernel, generated[:, :, [0, 0, 1, 2, 2], :], atol=1e-5)
    assert layer.projection_kernel.shape == (4, 2 * 3 * 3)  # 3 generated taps, not 5


def test_tiling_one_tap_into_k(rng):
    layer = KernelGenerator(2, 4, 3, mode="dense", tap_tiling=4, use_bias=False)
    kernel = keras.ops.convert_to_numpy(layer(rng.normal(size=(2, 4)).astype("float32")))
    for j in range(1, 4):
        np.testing.assert_array_equal(kernel[:, :, j], kernel[:, :, 0])


@pytest.mark.parametrize("mode", MODES)
def test_hyperfan_in_initialisation_std(mode, rng):
    filters, kernel_size, in_channels, context_dim = 64, 5, 48, 256
    layer = KernelGenerator(filters, kernel_size, in_channels, mode=mode, rank=8, num_bases=8, init_scale=2.0)
    kernel, _ = layer(rng.normal(size=(64, context_dim)).astype("float32"))
    measured = float(np.std(keras.ops.convert_to_numpy(kernel)))
    target = np.sqrt(2.0 / (kernel_size * in_channels))
    assert layer.target_std == pytest.approx(target)
    assert abs(measured / target - 1) < 0.2, (mode, measured, target)


@pytest.mark.parametrize("mode", MODES)
def test_static_and_sample_masks_silence_taps(mode, rng):
    context = rng.normal(size=(3, 5)).astype("float32")
    x = rng.normal(size=(3, 9, 4)).astype("float32")
    static = np.ones((1, 3, 1), "float32")
    static[0, 1, 0] = 0.0  # the middle tap, for every filter and channel
    sample = np.ones((3, 2, 1, 4), "float32")
    sample[1, 0] = 0.0  # sample 1, filter 0: every tap
    layer = KernelGenerator(2, 3, 4, mode=mode, rank=2, num_bases=3, use_bias=False, kernel_mask=static)
    layer.build(context.shape)
    _randomize(layer, rng)
    conv = PerSampleConv1D(padding="same")

    kernel = keras.ops.convert_to_numpy(layer(context, sample_mask=sample))
    want, _ = references.generated_kernel(layer, context, sample)
    np.testing.assert_allclose(kernel, want, rtol=1e-4, atol=1e-5)
    assert np.all(kernel[:, :, 1, :] == 0) and np.all(kernel[1, 0] == 0)

    # Matches the float64 reference conv with the masked kernel...
    y = keras.ops.convert_to_numpy(conv(x, layer(context, sample_mask=sample)))
    np.testing.assert_allclose(y, references.per_sample_conv1d(x, want, None, 1, "same", 1), atol=1e-4)
    # ...and the weights that feed only the masked tap have no effect on it.
    feeding = {"dense": "projection_kernel", "basis": "bases", "low_rank": "right_kernel"}[mode]
    variable = next(v for v in layer.weights if v.name == feeding)
    value = keras.ops.convert_to_numpy(variable.value).copy()
    view = value.reshape(value.shape[0], -1, 3, 4)  # (rows, filters or rank, taps, channels)
    view[:, :, 1, :] += rng.normal(size=view[:, :, 1, :].shape) * 5
    variable.assign(view.reshape(value.shape))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(conv(x, layer(context, sample_mask=sample))), y, atol=1e-5)

    # Zero gradient: the generator weights that only feed masked entries get none.
    variables = [v.value for v in layer.trainable_weights]

    def loss(*weights_and_inputs):
        values = weights_and_inputs[: len(variables)]
        kernel = layer.stateless_call(values, [], context, sample_mask=sample)[0]
        return keras.ops.sum(conv(x, kernel) ** 2)

    _, grads = value_and_grad(loss, len(variables))(*variables)
    grads = {v.name: keras.ops.convert_to_numpy(g) for v, g in zip(layer.trainable_weights, grads)}
    per_entry = grads[feeding].reshape(grads[feeding].shape[0], -1, 3, 4)
    assert np.all(per_entry[:, :, 1, :] == 0)
    assert np.any(per_entry[:, :, 0, :] != 0)


def test_dense_mode_warns_when_large():
    layer = KernelGenerator(64, 5, 64, mode="dense", use_bias=False)  # 513 * 64 * 5 * 64 = 10,506,240 > 10M
    with pytest.warns(UserWarning, match=r"10,506,240 parameters"):
        layer.build((None, 512))


def test_basis_mode_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KernelGenerator(256, 5, 256).build((None, 512))


def test_parameter_counts_for_the_reference_shape():
    counts = {}
    for mode, extra in [("basis", dict(num_bases=8)), ("low_rank", dict(rank=8)), ("dense", {})]:
        counts[mode] = KernelGenerator(256, 5, 256, mode=mode, use_bias=False, **extra).count_params_for(512)
    assert counts == {"basis": 2_625_544, "low_rank": 6_303_744, "dense": 168_099_840}


def test_standard_layer_checks(rng, tmp_path):
    context = rng.normal(size=(3, 6)).astype("float32")
    # The fit check needs one output: use the kernel-only generator with a static mask and a tap pattern.
    run_layer_checks(KernelGenerator, dict(filters=4, kernel_size=3, in_channels=2, mode="low_rank", rank=2,
                                           use_bias=False, tap_pattern=[0, 1, 0], kernel_mask=[[[1.0], [0.0], [1.0]]]),
                     [context], (3, 4, 3, 2), tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mode="huge"), r"`mode` must be one of 'basis', 'low_rank', 'dense'. Received: mode='huge'"),
        (dict(rank=0), r"`rank` must be an integer >= 1. Received: rank=0"),
        (dict(num_bases=0), r"`num_bases` must be an integer >= 1. Received: num_bases=0"),
        (dict(kernel_mask=np.ones((2, 3))), r"`kernel_mask` must broadcast to \(4, 3, 2\). Received: kernel_mask.shape=\(2, 3\)"),
        (dict(tap_pattern=(0, 2, 2)), r"`tap_pattern` must .* every generated tap 0..n-1. Received: tap_pattern=\(0, 2, 2\)"),
        (dict(tap_pattern=(0, 1)), r"`tap_pattern` must have `kernel_size` \(3\) entries"),
        (dict(tap_tiling=2), r"`tap_tiling` must divide `kernel_size` \(3\). Received: tap_tiling=2"),
        (dict(tap_tiling=3, tap_pattern=(0, 0, 0)), r"not both"),
        (dict(init_scale=0), r"`init_scale` must be a number > 0. Received: init_scale=0"),
        (dict(in_channels=0), r"`in_channels` must be an integer >= 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(filters=4, kernel_size=3, in_channels=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        KernelGenerator(**args)


def test_context_must_have_rank_2(rng):
    with pytest.raises(ValueError, match=r"`context` must have rank 2.*Received: context.shape=\(2, 3, 4\)"):
        KernelGenerator(4, 3, 2)(rng.normal(size=(2, 3, 4)).astype("float32"))


def test_sample_mask_must_broadcast(rng):
    with pytest.raises(ValueError, match=r"`sample_mask` must broadcast to \(None, 4, 3, 2\). Received: sample_mask.shape=\(2, 4, 5, 2\)"):
        KernelGenerator(4, 3, 2)(rng.normal(size=(2, 6)).astype("float32"), sample_mask=np.ones((2, 4, 5, 2), "float32"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("taps", [dict(), dict(tap_pattern=(0, 1, 0, 2, 3, 2)), dict(tap_tiling=3)])
def test_2d_kernels_match_numpy(mode, taps, rng):
    layer = KernelGenerator(4, (2, 3), 3, mode=mode, rank=2, num_bases=3, kernel_mask=np.ones((1, 2, 3, 1)), **taps)
    context = rng.normal(size=(5, 7)).astype("float32")
    layer.build(context.shape)
    _randomize(layer, rng)
    sample_mask = (rng.random((5, 1, 2, 3, 3)) < 0.6).astype("float32")
    kernel, bias = layer(context, sample_mask=sample_mask)
    want_kernel, want_bias = references.generated_kernel(layer, context, sample_mask)
    assert tuple(kernel.shape) == (5, 4, 2, 3, 3) == layer.compute_output_shape(context.shape)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), want_kernel, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), want_bias, rtol=1e-4, atol=1e-4)
    assert layer.count_params() == layer.count_params_for(7)


def test_2d_row_major_taps_and_hyperfan_in(rng):
    # Row-major taps: tap_pattern entry j is kernel position (j // kw, j % kw).
    layer = KernelGenerator(2, (2, 2), 3, mode="dense", tap_pattern=(0, 1, 1, 0), use_bias=False)
    kernel = keras.ops.convert_to_numpy(layer(rng.normal(size=(2, 4)).astype("float32")))
    np.testing.assert_array_equal(kernel[:, :, 0, 0], kernel[:, :, 1, 1])
    np.testing.assert_array_equal(kernel[:, :, 0, 1], kernel[:, :, 1, 0])
    assert not np.allclose(kernel[:, :, 0, 0], kernel[:, :, 0, 1])
    # Hyperfan-in counts all kh * kw taps: the std is sqrt(scale / (kh * kw * C)).
    layer = KernelGenerator(64, (3, 3), 32, init_scale=2.0)
    kernel, _ = layer(rng.normal(size=(64, 256)).astype("float32"))
    target = np.sqrt(2.0 / (9 * 32))
    assert layer.target_std == pytest.approx(target)
    assert abs(float(np.std(keras.ops.convert_to_numpy(kernel))) / target - 1) < 0.2
