"""Op-level evidence for the per-sample conv on TensorFlow's CPU default path (oneDNN off).

Times several formulations of the same per-sample 1D conv (forward+backward, gradients for the input and the
kernels), each interleaved round by round with a shared `keras.layers.Conv1D` on the same shapes, and the single ops
they are made of. Run it with oneDNN really unset, as a user's own program gets it:

    env -u TF_ENABLE_ONEDNN_OPTS KERAS_BACKEND=tensorflow python benchmarks/onednn_off_formulations.py --json PATH

Formulations (x `(B, L, C)`, kernel `(B, O, K, C)`):

- `unfold_einsum`: patches `(B, L, K*C)` (concatenated taps) contracted with the kernel reshaped to `(B, O, K*C)`
  by `einsum("blf,bof->blo")`: what `hypertext.ops` shipped before (TF lowers it to BatchMatMulV2 with adj_y).
- `unfold_matmul`: the same patches against the kernel transposed once to `(B, K*C, O)`, a plain `matmul`.
- `taps_sum`: sum over taps of `tap_j @ W_j`, K batched matmuls of `(L, C) @ (C, O)`, no patches.
- `scatter`: one batched matmul `x @ (B, C, K*O)`, then the K column blocks shifted and added (col2im, the
  transposed conv's trick): the patches are never built, the output side is shifted instead.
- `depthwise`: the batched matmul as one depthwise conv whose channels are the samples (its backward never finished
  within minutes here).
- `map_matmul`: `tf.map_fn` of one `MatMul` per sample, iterations in parallel (TensorFlow only).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
from onednn_flag import write_json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from timing import (  # noqa: E402
    compile_fn, device_description, interleaved_median_seconds, random_cotangent, value_and_grad)


def _padded_taps(x, k):
    # "same", stride 1, dilation 1: pad (k-1)//2 left, the rest right.
    left = (k - 1) // 2
    x = ops.pad(x, [[0, 0], [left, k - 1 - left], [0, 0]])
    b, length, c = ops.shape(x)[0], ops.shape(x)[1] - (k - 1), x.shape[2]
    return [ops.slice(x, (0, j, 0), (b, length, c)) for j in range(k)]


def unfold_einsum(x, kernel):
    b, o, k, c = kernel.shape
    patches = ops.concatenate(_padded_taps(x, k), axis=-1)
    return ops.einsum("blf,bof->blo", patches, ops.reshape(kernel, (-1, o, k * c)))


def unfold_matmul(x, kernel):
    b, o, k, c = kernel.shape
    patches = ops.concatenate(_padded_taps(x, k), axis=-1)
    return ops.matmul(patches, ops.reshape(ops.transpose(kernel, (0, 2, 3, 1)), (-1, k * c, o)))


def taps_sum(x, kernel):
    b, o, k, c = kernel.shape
    w = ops.transpose(kernel, (0, 2, 3, 1))  # (B, K, C, O)
    y = None
    for j, tap in enumerate(_padded_taps(x, k)):
        term = ops.matmul(tap, w[:, j])
        y = term if y is None else y + term
    return y


def scatter(x, kernel):
    b, o, k, c = kernel.shape
    length = ops.shape(x)[1]
    w = ops.reshape(ops.transpose(kernel, (0, 3, 2, 1)), (-1, c, k * o))  # (B, C, K*O)
    z = ops.matmul(x, w)  # (B, L, K*O): y[t] = sum_j z[t + j - left, block j]
    left = (k - 1) // 2
    z = ops.pad(z, [[0, 0], [left, k - 1 - left], [0, 0]])
    batch = ops.shape(x)[0]
    y = None
    for j in range(k):
        term = ops.slice(z, (0, j, j * o), (batch, length, o))
        y = term if y is None else y + term
    return y


def depthwise(x, kernel):
    # The batched GEMM as ONE depthwise conv: the samples are its channels, the patch features its spatial width and
    # the output channels its channel multiplier: (1, L, K*C, B) * (1, K*C, B, O) -> (1, L, 1, B*O).
    b, o, k, c = kernel.shape
    patches = ops.concatenate(_padded_taps(x, k), axis=-1)  # (B, L, KC)
    image = ops.expand_dims(ops.transpose(patches, (1, 2, 0)), 0)  # (1, L, KC, B)
    weights = ops.expand_dims(ops.transpose(ops.reshape(kernel, (-1, o, k * c)), (2, 0, 1)), 0)  # (1, KC, B, O)
    y = ops.depthwise_conv(image, weights, padding="valid")  # (1, L, 1, B*O)
    return ops.transpose(ops.reshape(y, (ops.shape(y)[1], -1, o)), (1, 0, 2))


def map_matmul(x, kernel):
    # One MatMul per sample in a tf.map_fn (TensorFlow only), its iterations run in parallel.
    import tensorflow as tf

    b, o, k, c = kernel.shape
    patches = ops.concatenate(_padded_taps(x, k), axis=-1)
    weights = ops.reshape(kernel, (-1, o, k * c))
    return tf.map_fn(lambda a: tf.matmul(a[0], a[1], transpose_b=True), (patches, weights),
                     fn_output_signature=tf.float32, parallel_iterations=32)


def split_batch(x, kernel, parts=2):
    # The patches' batched matmul as `parts` independent batched matmuls over slices of the batch, which TensorFlow's
    # executor may run at the same time (each of its BatchMatMulV2 kernels loops over its samples one by one).
    b, o, k, c = kernel.shape
    patches = ops.concatenate(_padded_taps(x, k), axis=-1)
    weights = ops.reshape(kernel, (-1, o, k * c))
    batch = ops.shape(x)[0]
    bounds = [batch * i // parts for i in range(parts + 1)]
    outs = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        p = ops.slice(patches, (start, 0, 0), (stop - start, ops.shape(patches)[1], k * c))
        w = ops.slice(weights, (start, 0, 0), (stop - start, o, k * c))
        outs.append(ops.einsum("blf,bof->blo", p, w))
    return ops.concatenate(outs, axis=0)


FORMULATIONS = {f.__name__: f for f in (unfold_einsum, unfold_matmul, taps_sum, scatter, depthwise, map_matmul,
                                        split_batch)}


def _time_ops(s, repeats):
    """The single ops: the patches' batched matmul forward and its two gradient matmuls vs the shared conv's."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    f = s["K"] * s["C"]
    p = tf.constant(rng.normal(size=(s["B"], s["L"], f)).astype("float32"))
    w_of = tf.constant(rng.normal(size=(s["B"], s["O"], f)).astype("float32"))
    w_fo = tf.constant(rng.normal(size=(s["B"], f, s["O"])).astype("float32"))
    g = tf.constant(rng.normal(size=(s["B"], s["L"], s["O"])).astype("float32"))
    x = tf.constant(rng.normal(size=(s["B"], s["L"], s["C"])).astype("float32"))
    wk = tf.constant(rng.normal(size=(s["K"], s["C"], s["O"])).astype("float32"))
    flat_p = tf.reshape(p, (-1, f))
    shared_w = tf.constant(rng.normal(size=(f, s["O"])).astype("float32"))
    calls = {
        "BatchMatMulV2 (B,L,KC)@(B,KC,O)": (tf.function(lambda a, b: tf.matmul(a, b)), (p, w_fo)),
        "BatchMatMulV2 adj_y (B,L,KC)@(B,O,KC)^T": (tf.function(lambda a, b: tf.matmul(a, b, adjoint_b=True)),
                                                    (p, w_of)),
        "BatchMatMulV2 dW adj_x (B,L,KC)^T@(B,L,O)": (tf.function(lambda a, b: tf.matmul(a, b, adjoint_a=True)),
                                                      (p, g)),
        "BatchMatMulV2 dX adj_y (B,L,O)@(B,KC,O)^T": (tf.function(lambda a, b: tf.matmul(a, b, adjoint_b=True)),
                                                      (g, w_fo)),
        "MatMul (B*L,KC)@(KC,O) (a shared conv's GEMM)": (tf.function(lambda a, b: tf.matmul(a, b)),
                                                          (flat_p, shared_w)),
        "Conv1D forward (tf.nn.conv1d)": (tf.function(lambda a, b: tf.nn.conv1d(a, b, 1, "SAME")), (x, wk)),
    }
    times = interleaved_median_seconds(list(calls.values()), repeats, 3)
    return {name: t for name, t in zip(calls, times)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="32,64,128,128,3", help="B,L,C,O,K")
    parser.add_argument("--formulations", default=",".join(FORMULATIONS))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", help="write the measurements to this JSON file")
    args = parser.parse_args()
    s = dict(zip("BLCOK", (int(v) for v in args.shape.split(","))))
    device = device_description()
    print(f"# {device}, TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    rng = np.random.default_rng(0)
    x = ops.convert_to_tensor(rng.normal(size=(s["B"], s["L"], s["C"])).astype("float32"))
    kernel = ops.convert_to_tensor(rng.normal(size=(s["B"], s["O"], s["K"], s["C"])).astype("float32") * 0.05)
    conv = keras.layers.Conv1D(s["O"], s["K"], padding="same", use_bias=False)
    conv.build(x.shape)
    cotangent = random_cotangent(conv(x))

    def shared(x, w, cot):
        return ops.sum(conv.stateless_call([w], [], x)[0] * cot)

    calls = [(compile_fn(value_and_grad(shared, 2)), (x, conv.kernel.value, cotangent))]
    names = list(args.formulations.split(","))
    shared_kernel = np.broadcast_to(np.transpose(ops.convert_to_numpy(conv.kernel), (2, 0, 1)), kernel.shape)
    for name in names:
        fn = FORMULATIONS[name]
        np.testing.assert_allclose(ops.convert_to_numpy(fn(x, ops.convert_to_tensor(shared_kernel))),
                                   ops.convert_to_numpy(conv(x)), atol=1e-4)

        def loss(x, kernel, cot, fn=fn):
            return ops.sum(fn(x, kernel) * cot)

        calls.append((compile_fn(value_and_grad(loss, 2)), (x, kernel, cotangent)))
    times = interleaved_median_seconds(calls, args.repeats, 2)
    results = {"device": device, "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"), "shape": s,
               "conv1d_fwd_bwd_s": times[0], "formulations": {}}
    print(f"Conv1D fwd+bwd {times[0] * 1e3:.2f} ms")
    for name, t in zip(names, times[1:]):
        results["formulations"][name] = {"fwd_bwd_s": t, "ratio": t / times[0]}
        print(f"{name:16s} fwd+bwd {t * 1e3:8.2f} ms  {t / times[0]:.2f}x Conv1D")
    if keras.backend.backend() == "tensorflow":
        results["ops_s"] = _time_ops(s, args.repeats)
        print("single ops (median, interleaved):")
        for name, t in results["ops_s"].items():
            print(f"  {name:50s} {t * 1e3:8.3f} ms")
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
