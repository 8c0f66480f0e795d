import itertools

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import PerSampleConv1D
from tests import references
from tests.layers.gradient_checks import numeric_gradients
from tests.conftest import backend
from tests.grids import grid
from tests.layer_checks import run_layer_checks

IMPLEMENTATIONS = ["unfold", "fold", "grouped", "loop"]  # "auto": see test_auto_resolves_to_unfold
GRID = list(itertools.product(["valid", "same", "causal"], [1, 2, 3], [1, 2], [1, 2, 3, 5]))


def _random_case(rng, batch=2, length=11, in_channels=3, out_channels=4, kernel_size=3):
    x = rng.normal(size=(batch, length, in_channels)).astype("float32")
    kernel = rng.normal(size=(batch, out_channels, kernel_size, in_channels)).astype("float32")
    bias = rng.normal(size=(batch, out_channels)).astype("float32")
    return x, kernel, bias


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_matches_float64_reference_on_full_grid(implementation, rng):
    # Tiny shapes: "fold" and "loop" are slow, and the grid is 72 cases per implementation.
    for padding, strides, dilation, kernel_size in grid(GRID):
        x, kernel, bias = _random_case(rng, kernel_size=kernel_size)
        layer = PerSampleConv1D(strides, padding, dilation, implementation)
        got = keras.ops.convert_to_numpy(layer(x, kernel, bias))
        want = references.per_sample_conv1d(x, kernel, bias, strides, padding, dilation)
        assert got.shape == want.shape, (padding, strides, dilation, kernel_size)
        assert layer.compute_output_shape(x.shape, kernel.shape, bias.shape) == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=str((padding, strides, dilation, kernel_size)))


# keras.layers.Conv1D refuses strides > 1 with dilation_rate > 1: those cells are not collected.
KERAS_GRID = [(p, s, d, k) for p, s, d, k in GRID if not (s > 1 and d > 1)]


def test_auto_resolves_to_unfold(rng, monkeypatch):
    """"auto" is checked to resolve, once, not re-run through every grid: it dispatches to "unfold"."""
    from hypertext import ops as hops

    assert hops.AUTO_IMPLEMENTATION == "unfold" and PerSampleConv1D().implementation == "auto"
    called = []
    for name, fn in list(hops._IMPLEMENTATION_FNS.items()):
        monkeypatch.setitem(hops._IMPLEMENTATION_FNS, name,
                            lambda *args, _fn=fn, _name=name, **kwargs: called.append(_name) or _fn(*args, **kwargs))
    x, kernel, bias = _random_case(rng)
    auto = keras.ops.convert_to_numpy(PerSampleConv1D(2, "same", 1, "auto")(x, kernel, bias))
    assert called == ["unfold"]
    np.testing.assert_array_equal(auto, keras.ops.convert_to_numpy(PerSampleConv1D(2, "same", 1, "unfold")(x, kernel,
                                                                                                          bias)))


@pytest.mark.parametrize("padding,strides,dilation,kernel_size", grid(KERAS_GRID))
def test_shared_kernel_equals_keras_conv1d(padding, strides, dilation, kernel_size, rng):
    x = rng.normal(size=(3, 12, 5)).astype("float32")
    conv = keras.layers.Conv1D(6, kernel_size, strides, padding, dilation_rate=dilation)
    want = keras.ops.convert_to_numpy(conv(x))
    keras_kernel = keras.ops.convert_to_numpy(conv.kernel)  # (k, in, out)
    per_sample = np.broadcast_to(np.transpose(keras_kernel, (2, 0, 1)), (3, 6, kernel_size, 5))
    bias = np.broadcast_to(keras.ops.convert_to_numpy(conv.bias), (3, 6))
    got = PerSampleConv1D(strides, padding, dilation)(x, per_sample, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)


def _grads(implementation, x, kernel, bias, weights, **kwargs):
    def loss(x, kernel, bias):
        y = PerSampleConv1D(implementation=implementation, **kwargs)(x, kernel, bias)
        return keras.ops.sum(keras.ops.multiply(y, weights))

    _, grads = value_and_grad(loss, 3)(x, kernel, bias)
    return [keras.ops.convert_to_numpy(g).astype(np.float64) for g in grads]


@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(padding="valid", strides=2, dilation_rate=1),
                                    dict(padding="causal", dilation_rate=2)])
def test_gradients_agree_across_implementations(kwargs, rng):
    x, kernel, bias = _random_case(rng, length=9)
    out_len = PerSampleConv1D(**kwargs).compute_output_shape(x.shape, kernel.shape)[1]
    weights = rng.normal(size=(2, out_len, 4)).astype("float32")
    reference = _grads("unfold", x, kernel, bias, weights, **kwargs)
    implementations = ["fold", "loop"] + ([] if backend() == "tensorflow" else ["grouped"])
    for implementation in implementations:
        for got, want in zip(_grads(implementation, x, kernel, bias, weights, **kwargs), reference):
            np.testing.assert_allclose(got, want, atol=1e-4, err_msg=implementation)


def test_gradients_match_finite_differences(rng):
    x, kernel, bias = _random_case(rng, batch=2, length=6, in_channels=2, out_channels=2, kernel_size=2)
    kwargs = dict(padding="same", strides=2)
    weights = rng.normal(size=(2, 3, 2))

    def f64_loss(x, kernel, bias):
        return float(np.sum(references.per_sample_conv1d(x, kernel, bias, 2, "same", 1) * weights))

    analytic = _grads("unfold", x, kernel, bias, weights.astype("float32"), **kwargs)
    for got, numeric in zip(analytic, numeric_gradients(f64_loss, (x, kernel, bias))):
        np.testing.assert_allclose(got, numeric, atol=1e-3)


def test_unknown_batch_functional_model_saves_and_loads(rng, tmp_path):
    x_in = keras.Input(shape=(10, 3))
    k_in = keras.Input(shape=(4, 3, 3))
    b_in = keras.Input(shape=(4,))
    y = PerSampleConv1D(padding="causal", dilation_rate=2)(x_in, k_in, b_in)
    model = keras.Model([x_in, k_in, b_in], y)
    assert tuple(y.shape) == (None, 10, 4)
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    for batch in (1, 3, 7):
        x, kernel, bias = _random_case(rng, batch, 10, 3, 4, 3)
        want = references.per_sample_conv1d(x, kernel, bias, 1, "causal", 2)
        got = model.predict([x, kernel, bias], verbose=0)
        np.testing.assert_allclose(got, want, atol=1e-4)
        np.testing.assert_array_equal(restored.predict([x, kernel, bias], verbose=0), got)


def test_standard_layer_checks(rng, tmp_path):
    x, kernel, bias = _random_case(rng, batch=3, length=8)
    run_layer_checks(PerSampleConv1D, dict(strides=2, padding="same", dilation_rate=1, implementation="unfold"),
                     [x, kernel, bias], (3, 4, 4), tmp_path)


@pytest.mark.backends("tensorflow")  # tf.function / XLA are TensorFlow's
@pytest.mark.parametrize("jit_compile", [False, True])
def test_inside_tf_function_with_unknown_batch(jit_compile, rng):
    import tensorflow as tf

    layer = PerSampleConv1D(padding="same", strides=2)
    fn = tf.function(layer, jit_compile=jit_compile, input_signature=[
        tf.TensorSpec((None, 11, 3)), tf.TensorSpec((None, 4, 3, 3)), tf.TensorSpec((None, 4))])
    for batch in (1, 5):
        x, kernel, bias = _random_case(rng, batch)
        np.testing.assert_allclose(fn(x, kernel, bias).numpy(),
                                   references.per_sample_conv1d(x, kernel, bias, 2, "same", 1), atol=1e-4)


@pytest.mark.backends("tensorflow")  # an unknown length only exists in a TensorFlow graph
def test_unknown_length_in_tf_graph(rng):
    import tensorflow as tf

    layer = PerSampleConv1D(padding="same", strides=3, dilation_rate=2)
    fn = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 3)), tf.TensorSpec((None, 4, 3, 3))])
    for length in (5, 12):
        x, kernel, _ = _random_case(rng, 2, length)
        np.testing.assert_allclose(fn(x, kernel).numpy(),
                                   references.per_sample_conv1d(x, kernel, None, 3, "same", 2), atol=1e-4)


@pytest.mark.backends("jax")  # jax.jit
def test_under_jax_jit(rng):
    import jax

    layer = PerSampleConv1D(padding="causal", strides=2)
    x, kernel, bias = _random_case(rng)
    got = jax.jit(lambda *a: layer(*a))(x, kernel, bias)
    np.testing.assert_allclose(np.asarray(got), references.per_sample_conv1d(x, kernel, bias, 2, "causal", 1),
                               atol=1e-4)


@pytest.mark.parametrize("policy,dtype,atol", [("mixed_float16", "float16", 0.05), ("mixed_bfloat16", "bfloat16", 0.3)])
def test_mixed_precision_policies(policy, dtype, atol, rng):
    keras.config.set_dtype_policy(policy)
    x, kernel, bias = _random_case(rng, length=9)
    layer = PerSampleConv1D(padding="same")
    y = layer(x, kernel, bias)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    want = references.per_sample_conv1d(x, kernel, bias, 1, "same", 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")), want, atol=atol, rtol=0.02)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(padding="foo"), r"`padding` must be one of 'valid', 'same', 'causal'. Received: padding='foo'"),
        (dict(implementation="magic"), r"`implementation` must be one of .* Received: implementation='magic'"),
        (dict(strides=0), r"`strides` must be an integer >= 1. Received: strides=0"),
        (dict(dilation_rate=-1), r"`dilation_rate` must be an integer >= 1. Received: dilation_rate=-1"),
        (dict(strides=1.5), r"`strides` must be an integer >= 1. Received: strides=1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PerSampleConv1D(**kwargs)


@pytest.mark.parametrize(
    "x_shape,k_shape,b_shape,kwargs,match",
    [
        ((2, 8, 3), (2, 4, 3), None, {}, r"`kernel` must have rank 4.*Received: kernel.shape=\(2, 4, 3\)"),
        ((2, 8, 3), (2, 4, 3, 5), None, {}, r"in_channels.*Received: kernel.shape=\(2, 4, 3, 5\), inputs.shape=\(2, 8, 3\)"),
        ((2, 8, 3), (3, 4, 3, 3), None, {}, r"batch size.*Received: kernel.shape=\(3, 4, 3, 3\)"),
        ((2, 8, 3), (2, 4, 3, 3), (2, 5), {}, r"`bias` must have shape .*\(2, 4\).*Received: bias.shape=\(2, 5\)"),
        ((2, 8, 3), (2, 4, 3, 3), (4,), {}, r"Received: bias.shape=\(4,\)"),
        ((2, 4, 3), (2, 4, 3, 3), None, dict(dilation_rate=2),
         r"padding='valid'.*dilated kernel.*= 5\). Received: inputs.shape=\(2, 4, 3\)"),
        ((2, 8), (2, 4, 3, 3), None, {}, r"`inputs` must have rank 3.*Received: inputs.shape=\(2, 8\)"),
    ],
)
def test_bad_shapes(x_shape, k_shape, b_shape, kwargs, match, rng):
    x = rng.normal(size=x_shape).astype("float32")
    kernel = rng.normal(size=k_shape).astype("float32")
    bias = None if b_shape is None else rng.normal(size=b_shape).astype("float32")
    with pytest.raises(ValueError, match=match):
        PerSampleConv1D(**kwargs)(x, kernel, bias)


def test_bad_shapes_are_caught_symbolically():
    with pytest.raises(ValueError, match=r"in_channels"):
        PerSampleConv1D()(keras.Input((8, 3)), keras.Input((4, 3, 2)))
