"""Backend-aware timing helpers shared by the benchmark scripts.

Each benchmark compares functions measured in the same run, so it prints ratios that survive a noisy, shared machine.
"""

import os
import time

import keras
import numpy as np

from hypertext.backend_utils import value_and_grad  # noqa: F401  (re-exported for the scripts)


def compile_fn(fn, jit=False):
    """Wraps `fn(*arrays)` for the current backend: `tf.function` (XLA with `jit`), `jax.jit`, or torch as is."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def block(result):
    """Waits for asynchronous backends (JAX, GPU torch) to finish computing `result`."""
    keras.tree.map_structure(lambda t: keras.ops.convert_to_numpy(keras.ops.sum(t)) if hasattr(t, "shape") else t,
                             result)


def median_seconds(fn, args, repeats=10, warmup=2, max_seconds=None):
    """Median wall time of `fn(*args)` over `repeats` runs, after `warmup` runs that compile and warm caches."""
    for _ in range(warmup):
        block(fn(*args))
    times = []
    budget_start = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn(*args))
        times.append(time.perf_counter() - start)
        if max_seconds is not None and time.perf_counter() - budget_start > max_seconds:
            break
    return float(np.median(times))


def device_description():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return f"jax {jax.__version__} on {jax.devices()[0].device_kind}"
    if backend == "torch":
        import torch

        dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        return f"torch {torch.__version__} on {dev}"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    return (f"tensorflow {tf.__version__} on {'GPU' if gpus else 'CPU'} ({os.cpu_count()} cores), "
            f"TF_ENABLE_ONEDNN_OPTS={onednn}")


def parse_shapes(text, names):
    """Parses "32,64,128,128,3;8,32,64,64,5" into dicts keyed by `names`."""
    shapes = []
    for chunk in text.split(";"):
        values = [int(v) for v in chunk.split(",")]
        if len(values) != len(names):
            raise SystemExit(f"--shapes wants {','.join(names)} per entry. Received: {chunk!r}")
        shapes.append(dict(zip(names, values)))
    return shapes


def random_cotangent(outputs, seed=1):
    """A fixed random tensor shaped like `outputs`, the upstream gradient the timed losses contract against.

    The losses are `sum(outputs * cotangent)` rather than `sum(outputs)`: an all-ones upstream gradient is a constant
    that TensorFlow's graph optimiser can fold into the backward pass, which real training never sees.
    """
    shape = tuple(outputs.shape)
    return keras.ops.convert_to_tensor(np.random.default_rng(seed).normal(size=shape).astype("float32"))


def fwd_and_fwd_bwd_seconds(loss_fn, args, num_grad_args, jit, repeats, max_seconds):
    """Times `loss_fn(*args)` forward, and forward plus gradients of the first `num_grad_args` args."""
    fwd = compile_fn(loss_fn, jit)
    fwd_bwd = compile_fn(value_and_grad(loss_fn, num_grad_args), jit)
    warmup = 1 if max_seconds else 2
    return (median_seconds(fwd, args, repeats, warmup, max_seconds),
            median_seconds(fwd_bwd, args, repeats, warmup, max_seconds))


def print_table(title, header, rows):
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
