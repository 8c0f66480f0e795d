"""Backend-aware timing helpers shared by the benchmark scripts.

Each benchmark compares functions measured in the same run, so it prints ratios that survive a noisy, shared machine.
"""

import time

import keras
import numpy as np

from hypertext.backend_utils import device_description, value_and_grad  # noqa: F401  (re-exported)


def compile_fn(fn, jit=False):
    """Wraps `fn(*arrays)` for the current backend: `tf.function` (XLA with `jit`), `jax.jit` (always), or on torch
    `torch.compile` with `jit` and `fn` itself (eager) without."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if jit:
        import torch

        return torch.compile(fn)
    return fn


def block(result):
    """Waits for asynchronous backends (JAX, GPU torch) to finish computing `result`."""
    keras.tree.map_structure(lambda t: keras.ops.convert_to_numpy(keras.ops.sum(t)) if hasattr(t, "shape") else t,
                             result)


def interleaved_median_seconds(calls, repeats=10, warmup=2, max_seconds=None):
    """Median wall time of each `(fn, args)` in `calls`, measured in rounds that run every call once.

    Interleaving spreads a shared machine's changing load over all the calls alike, so the ratios between them are
    steadier than when each is timed in its own stretch. `warmup` rounds (compilation, caches) are not timed;
    `max_seconds` stops after the round that crosses it.
    """
    for _ in range(warmup):
        for fn, args in calls:
            block(fn(*args))
    times = [[] for _ in calls]
    budget_start = time.perf_counter()
    for _ in range(repeats):
        for fn_times, (fn, args) in zip(times, calls):
            start = time.perf_counter()
            block(fn(*args))
            fn_times.append(time.perf_counter() - start)
        if max_seconds is not None and time.perf_counter() - budget_start > max_seconds:
            break
    return [float(np.median(t)) for t in times]


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


def compare_fwd_and_fwd_bwd(baseline, candidate, num_grad_args, jit, repeats, max_seconds=None):
    """Times two losses, each a `(loss_fn, args)` pair, forward and forward plus the gradients of their first
    `num_grad_args` args; the two are interleaved round by round (`interleaved_median_seconds`).

    Returns `(baseline_fwd, baseline_fwd_bwd, candidate_fwd, candidate_fwd_bwd)` median seconds.
    """
    warmup = 1 if max_seconds else 2
    results = []
    for wrap in (lambda f: f, lambda f: value_and_grad(f, num_grad_args)):
        calls = [(compile_fn(wrap(fn), jit), args) for fn, args in (baseline, candidate)]
        results.append(interleaved_median_seconds(calls, repeats, warmup, max_seconds))
    (base_fwd, fwd), (base_bwd, bwd) = results
    return base_fwd, base_bwd, fwd, bwd


def compare_row(shape_label, shape, method, baseline, candidate, jit, repeats, max_seconds=None):
    """`compare_fwd_and_fwd_bwd` for one method, as a table row (times and ratios to the baseline) and a JSON record;
    a method that raises (e.g. TF CPU has no gradient for grouped convolutions) gets a "fails: ..." row."""
    record = dict(shape=shape, method=method)
    try:
        base_fwd, base_bwd, fwd, bwd = compare_fwd_and_fwd_bwd(baseline, candidate, 2, jit, repeats, max_seconds)
    except Exception as e:
        first_line = str(e).strip().splitlines()[0][:60] if str(e).strip() else type(e).__name__
        return [shape_label, method, "—", "—", "—", "—", "—", f"fails: {first_line}"], dict(record, error=first_line)
    row = [shape_label, method, f"{fwd * 1e3:.2f} ms", f"{bwd * 1e3:.2f} ms", f"{base_fwd * 1e3:.2f} ms",
           f"{base_bwd * 1e3:.2f} ms", f"{fwd / base_fwd:.2f}×", f"{bwd / base_bwd:.2f}×"]
    return row, dict(record, fwd_s=fwd, fwd_bwd_s=bwd, baseline_fwd_s=base_fwd, baseline_fwd_bwd_s=base_bwd,
                     fwd_ratio=fwd / base_fwd, fwd_bwd_ratio=bwd / base_bwd)


def print_table(title, header, rows):
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
