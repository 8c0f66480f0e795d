"""Times PerSampleConv2D against one shared keras.layers.Conv2D and against the usual answers to "a different 2D
kernel per sample".

For each shape it measures the forward pass and forward+backward (gradients for the input and the kernels, against a
fixed random upstream gradient) and prints each as a multiple of a shared `keras.layers.Conv2D` on the same shapes,
timed interleaved round by round in one run. The methods, where the backend has them:

- `unfold`, `loop`, `grouped`: `PerSampleConv2D`'s implementations (`grouped` is the grouped conv with groups=B; on
  TensorFlow's CPU it has no gradient).
- `jax.vmap`: `jax.vmap` of `jax.lax.conv_general_dilated` over the batch (JAX backend).
- `torch.func.vmap`: `torch.func.vmap` of `torch.nn.functional.conv2d` over the batch (PyTorch backend).

    KERAS_BACKEND=jax python benchmarks/per_sample_conv2d.py --json benchmarks/results/per_sample_conv2d_jax_cpu.json
    KERAS_BACKEND=tensorflow python benchmarks/per_sample_conv2d.py --onednn unset
    KERAS_BACKEND=torch python benchmarks/per_sample_conv2d.py --shapes 32,32,32,64,64,3
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onednn_flag import add_onednn_argument, apply_onednn_flag, write_json  # noqa: E402

apply_onednn_flag()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from hypertext.layers import PerSampleConv2D  # noqa: E402
from timing import (  # noqa: E402
    compare_row, device_description, parse_shapes, print_table, random_cotangent)

SLOW = {"loop", "grouped", "fold"}


def vmap_conv():
    """The backend's own per-sample answer, `(x, kernel) -> y` with "same" padding and stride 1, or None."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def one(xi, ki):  # xi (H, W, C), ki (O, kh, kw, C)
            return jax.lax.conv_general_dilated(xi[None], ki, (1, 1), "SAME",
                                                dimension_numbers=("NHWC", "OHWI", "NHWC"))[0]

        return "jax.vmap", jax.vmap(one)
    if backend == "torch":
        import torch

        def one(xi, ki):
            y = torch.nn.functional.conv2d(xi.permute(2, 0, 1)[None], ki.permute(0, 3, 1, 2), padding="same")
            return y[0].permute(1, 2, 0)

        return "torch.func.vmap", torch.func.vmap(one)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="8,16,16,32,32,3", help="B,H,W,C,O,K entries separated by ';'")
    parser.add_argument("--methods", default="unfold,vmap,grouped,loop",
                        help="PerSampleConv2D implementations, and 'vmap' for the backend's vmap of a conv")
    parser.add_argument("--jit", action="store_true",
                        help="XLA on TensorFlow (jit_compile=True), torch.compile on PyTorch; JAX always jits")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (each runs Conv2D and the method)")
    parser.add_argument("--slow-seconds", type=float, default=30.0, help="time budget per slow method")
    parser.add_argument("--json", help="write the results to this JSON file")
    add_onednn_argument(parser)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    device = device_description()
    print(f"# {device}, jit={args.jit}, padding=same, TF_ENABLE_ONEDNN_OPTS="
          f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    rows, records = [], []
    for s in parse_shapes(args.shapes, ["B", "H", "W", "C", "O", "K"]):
        x = ops.convert_to_tensor(rng.normal(size=(s["B"], s["H"], s["W"], s["C"])).astype("float32"))
        conv = keras.layers.Conv2D(s["O"], s["K"], padding="same")
        conv.build(x.shape)

        def shared_loss(x, kernel, bias, cotangent):
            return ops.sum(conv.stateless_call([kernel, bias], [], x)[0] * cotangent)

        cotangent = random_cotangent(conv(x))
        baseline = (shared_loss, (x, conv.kernel.value, conv.bias.value, cotangent))
        shape = f"B{s['B']} H{s['H']} W{s['W']} C{s['C']} O{s['O']} K{s['K']}"
        kernel = ops.convert_to_tensor((rng.normal(size=(s["B"], s["O"], s["K"], s["K"], s["C"]))
                                        / np.sqrt(s["K"] * s["K"] * s["C"])).astype("float32"))
        bias = ops.convert_to_tensor(np.zeros((s["B"], s["O"]), "float32"))
        for method in args.methods.split(","):
            if method == "vmap":
                found = vmap_conv()
                if found is None:
                    continue  # TensorFlow has no vmap of a conv with per-sample kernels
                name, fn = found

                def loss(x, kernel, bias, cotangent, fn=fn):
                    return ops.sum((fn(x, kernel) + bias[:, None, None, :]) * cotangent)
            else:
                name, layer = method, PerSampleConv2D(padding="same", implementation=method)

                def loss(x, kernel, bias, cotangent, layer=layer):
                    return ops.sum(layer(x, kernel, bias) * cotangent)

            budget = args.slow_seconds if method in SLOW else None
            row, record = compare_row(shape, s, name, baseline, (loss, (x, kernel, bias, cotangent)), args.jit,
                                      args.repeats, budget)
            rows.append(row)
            records.append(record)
    print_table("Per-sample 2D conv vs keras.layers.Conv2D (median times; each row's Conv2D timed interleaved with it)",
                ["shape", "method", "fwd", "fwd+bwd", "Conv2D fwd", "Conv2D fwd+bwd", "fwd ÷ Conv2D",
                 "fwd+bwd ÷ Conv2D"], rows)
    if args.json:
        write_json(args.json, dict(device=device, backend=keras.backend.backend(), jit=args.jit,
                                   onednn_env=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"), results=records))


if __name__ == "__main__":
    main()
