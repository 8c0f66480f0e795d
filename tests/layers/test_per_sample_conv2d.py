import itertools
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from hypertext.backend_utils import value_and_grad
from hypertext.layers import PerSampleConv2D
from tests import references
from tests.layers.gradient_checks import numeric_gradients
from tests.conftest import backend
from tests.grids import grid
from tests.layer_checks import run_layer_checks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GRID = list(itertools.product(["valid", "same"], [(1, 1), (2, 1), (2, 3)], [(1, 1), (1, 2), (2, 2)],
                              [(1, 1), (3, 2), (3, 3)]))


def _random_case(rng, batch=2, height=7, width=8, in_channels=3, out_channels=4, kernel_shape=(3, 3)):
    x = rng.normal(size=(batch, height, width, in_channels)).astype("float32")
    kernel = rng.normal(size=(batch, out_channels, *kernel_shape, in_channels)).astype("float32")
    bias = rng.normal(size=(batch, out_channels)).astype("float32")
    return x, kernel, bias


@pytest.mark.parametrize("implementation", ["unfold", "loop", "fold", "grouped"])
def test_matches_float64_reference_on_full_grid(implementation, rng):
    cases = grid(GRID) if implementation == "unfold" else GRID[::5]  # the slow implementations get a fifth of it
    for padding, strides, dilation, kernel_shape in cases:
        x, kernel, bias = _random_case(rng, kernel_shape=kernel_shape)
        layer = PerSampleConv2D(strides, padding, dilation, implementation)
        got = keras.ops.convert_to_numpy(layer(x, kernel, bias))
        want = references.per_sample_conv2d(x, kernel, bias, strides, padding, dilation)
        case = str((padding, strides, dilation, kernel_shape))
        assert got.shape == want.shape, case
        assert layer.compute_output_shape(x.shape, kernel.shape, bias.shape) == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=case)


@pytest.mark.backends("tensorflow")
def test_every_implementation_on_tensorflows_own_cpu_kernels(rng, tmp_path):
    """With oneDNN off (TensorFlow's default on CPUs without AVX-512), TensorFlow's own kernels have limits of their
    own (its depthwise conv refuses unequal strides): every implementation, on every case with unequal strides or a
    dilation, in a process with `TF_ENABLE_ONEDNN_OPTS=0`, against the float64 reference."""
    cases = [c for c in GRID if len(set(c[1])) > 1 or c[2] != (1, 1)]
    arrays = {}
    for i, (padding, strides, dilation, kernel_shape) in enumerate(cases):
        arrays.update(zip((f"x{i}", f"k{i}", f"b{i}"), _random_case(rng, kernel_shape=kernel_shape)))
    np.savez(tmp_path / "in.npz", **arrays)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        from hypertext.layers import PerSampleConv2D, slow_path
        assert slow_path.onednn_off_on_tf_cpu()
        a, out = np.load({str(tmp_path / "in.npz")!r}), {{}}
        for i, (padding, strides, dilation, _) in enumerate({cases!r}):
            for impl in ("unfold", "loop", "fold", "grouped"):
                layer = PerSampleConv2D(strides, padding, dilation, impl)
                out[f"{{impl}}{{i}}"] = keras.ops.convert_to_numpy(layer(a[f"x{{i}}"], a[f"k{{i}}"], a[f"b{{i}}"]))
        np.savez({str(tmp_path / "out.npz")!r}, **out)
    """)
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": ROOT, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    assert len(got.files) == 4 * len(cases) >= 4 * 20
    for i, (padding, strides, dilation, _) in enumerate(cases):
        want = references.per_sample_conv2d(arrays[f"x{i}"], arrays[f"k{i}"], arrays[f"b{i}"], strides, padding,
                                            dilation)
        for impl in ("unfold", "loop", "fold", "grouped"):
            np.testing.assert_allclose(got[f"{impl}{i}"], want, atol=1e-4, err_msg=f"{impl} {cases[i]}")


@pytest.mark.parametrize("padding,strides,dilation", [("same", 1, 1), ("same", 2, 1), ("valid", (2, 1), 1),
                                                      ("same", 1, (2, 1)), ("valid", 1, 2)])
def test_shared_kernel_equals_keras_conv2d(padding, strides, dilation, rng):
    x = rng.normal(size=(3, 9, 8, 2)).astype("float32")
    conv = keras.layers.Conv2D(5, (3, 2), strides, padding, dilation_rate=dilation)
    want = keras.ops.convert_to_numpy(conv(x))
    keras_kernel = keras.ops.convert_to_numpy(conv.kernel)  # (kh, kw, in, out)
    per_sample = np.broadcast_to(np.transpose(keras_kernel, (3, 0, 1, 2)), (3, 5, 3, 2, 2))
    bias = np.broadcast_to(keras.ops.convert_to_numpy(conv.bias), (3, 5))
    got = PerSampleConv2D(strides, padding, dilation)(x, per_sample, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, atol=1e-5)


def _grads(implementation, x, kernel, bias, weights, **kwargs):
    def loss(x, kernel, bias):
        y = PerSampleConv2D(implementation=implementation, **kwargs)(x, kernel, bias)
        return keras.ops.sum(keras.ops.multiply(y, weights))

    _, grads = value_and_grad(loss, 3)(x, kernel, bias)
    return [keras.ops.convert_to_numpy(g).astype(np.float64) for g in grads]


def test_gradients_match_finite_differences_and_the_loop(rng):
    x, kernel, bias = _random_case(rng, batch=2, height=4, width=3, in_channels=2, out_channels=2, kernel_shape=(2, 2))
    kwargs = dict(padding="same", strides=(2, 1))
    weights = rng.normal(size=(2, 2, 3, 2))

    def f64_loss(x, kernel, bias):
        return float(np.sum(references.per_sample_conv2d(x, kernel, bias, (2, 1), "same", (1, 1)) * weights))

    analytic = _grads("unfold", x, kernel, bias, weights.astype("float32"), **kwargs)
    for got, want in zip(_grads("loop", x, kernel, bias, weights.astype("float32"), **kwargs), analytic):
        np.testing.assert_allclose(got, want, atol=1e-4)
    for got, numeric in zip(analytic, numeric_gradients(f64_loss, (x, kernel, bias))):
        np.testing.assert_allclose(got, numeric, atol=1e-3)


def test_standard_layer_checks(rng, tmp_path):
    x, kernel, bias = _random_case(rng, batch=3)
    run_layer_checks(PerSampleConv2D, dict(strides=(2, 1), padding="same", dilation_rate=(1, 2),
                                           implementation="unfold"), [x, kernel, bias], (3, 4, 8, 4), tmp_path)


@pytest.mark.backends("tensorflow")  # tf.function / XLA are TensorFlow's
@pytest.mark.parametrize("jit_compile", [False, True])
def test_inside_tf_function_with_unknown_batch_and_size(jit_compile, rng):
    import tensorflow as tf

    layer = PerSampleConv2D(padding="same", strides=2, dilation_rate=(1, 2))
    spec = (None, None, None, 3) if not jit_compile else (None, 7, 8, 3)
    fn = tf.function(layer, jit_compile=jit_compile, input_signature=[
        tf.TensorSpec(spec), tf.TensorSpec((None, 4, 3, 3, 3)), tf.TensorSpec((None, 4))])
    for batch, height in ((1, 7), (3, 7) if jit_compile else (3, 10)):
        x, kernel, bias = _random_case(rng, batch, height=height)
        np.testing.assert_allclose(fn(x, kernel, bias).numpy(),
                                   references.per_sample_conv2d(x, kernel, bias, (2, 2), "same", (1, 2)), atol=1e-4)


@pytest.mark.backends("jax")  # jax.jit
def test_under_jax_jit(rng):
    import jax

    layer = PerSampleConv2D(padding="same", strides=2)
    x, kernel, bias = _random_case(rng)
    got = jax.jit(lambda *a: layer(*a))(x, kernel, bias)
    np.testing.assert_allclose(np.asarray(got), references.per_sample_conv2d(x, kernel, bias, (2, 2), "same", (1, 1)),
                               atol=1e-4)


@pytest.mark.parametrize("policy,dtype,atol", [("mixed_float16", "float16", 0.08), ("mixed_bfloat16", "bfloat16", 0.5)])
def test_mixed_precision_policies(policy, dtype, atol, rng):
    keras.config.set_dtype_policy(policy)
    x, kernel, bias = _random_case(rng)
    y = PerSampleConv2D(padding="same")(x, kernel, bias)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    want = references.per_sample_conv2d(x, kernel, bias, (1, 1), "same", (1, 1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")), want, atol=atol, rtol=0.02)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(padding="causal"), r"`padding` must be one of 'valid', 'same'. Received: padding='causal'"),
        (dict(implementation="magic"), r"`implementation` must be one of .* Received: implementation='magic'"),
        (dict(strides=0), r"`strides` must be an integer >= 1 or a tuple of 2 such integers. Received: strides=0"),
        (dict(strides=(1, 2, 3)), r"`strides` must be .*tuple of 2.* Received: strides=\(1, 2, 3\)"),
        (dict(dilation_rate=(1, 0)), r"`dilation_rate` must be .* Received: dilation_rate=\(1, 0\)"),
        (dict(strides=1.5), r"`strides` must be .* Received: strides=1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PerSampleConv2D(**kwargs)


@pytest.mark.parametrize(
    "x_shape,k_shape,b_shape,kwargs,match",
    [
        ((2, 8, 8, 3), (2, 4, 3, 3), None, {},  # a 1D kernel
         r"`kernel` must have rank 5, \(batch, out_channels, kernel_height, kernel_width, in_channels\)"),
        ((2, 8, 8, 3), (2, 4, 3, 3, 5), None, {}, r"in_channels.*Received: kernel.shape=\(2, 4, 3, 3, 5\)"),
        ((2, 8, 8, 3), (3, 4, 3, 3, 3), None, {}, r"batch size.*Received: kernel.shape=\(3, 4, 3, 3, 3\)"),
        ((2, 8, 8, 3), (2, 4, 3, 3, 3), (2, 5), {}, r"`bias` must have shape .*\(2, 4\).*Received: bias.shape=\(2, 5\)"),
        ((2, 8, 4, 3), (2, 4, 3, 3, 3), None, dict(dilation_rate=2),
         r"padding='valid'.*dilated kernel.*= 5\). Received: inputs.shape=\(2, 8, 4, 3\)"),
        ((2, 8, 3), (2, 4, 3, 3, 3), None, {},
         r"`inputs` must have rank 4, \(batch, height, width, in_channels\). Received: inputs.shape=\(2, 8, 3\)"),
    ],
)
def test_bad_shapes(x_shape, k_shape, b_shape, kwargs, match, rng):
    x = rng.normal(size=x_shape).astype("float32")
    kernel = rng.normal(size=k_shape).astype("float32")
    bias = None if b_shape is None else rng.normal(size=b_shape).astype("float32")
    with pytest.raises(ValueError, match=match):
        PerSampleConv2D(**kwargs)(x, kernel, bias)


def test_bad_shapes_are_caught_symbolically():
    with pytest.raises(ValueError, match=r"in_channels"):
        PerSampleConv2D()(keras.Input((8, 8, 3)), keras.Input((4, 3, 3, 2)))
