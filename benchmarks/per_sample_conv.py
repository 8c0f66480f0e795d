"""Times every PerSampleConv1D implementation against keras.layers.Conv1D on the same shapes.

For each shape it measures the forward pass and forward+backward (gradients for the input and the kernels, against a
fixed random upstream gradient) in one run, and prints each as a multiple of a shared `keras.layers.Conv1D` on the same
shapes. Each method is timed in rounds interleaved with Conv1D, so a shared machine's changing load hits both alike.
On TensorFlow it turns oneDNN on unless TF_ENABLE_ONEDNN_OPTS is set, as train.py does (`--onednn on`, the default);
`--onednn off` sets it to 0 and `--onednn unset` removes it, as a user's own program has it. The header line says
which kernels TensorFlow then uses. Run under any backend:

    KERAS_BACKEND=tensorflow python benchmarks/per_sample_conv.py            # graph mode (tf.function), oneDNN on
    python benchmarks/per_sample_conv.py --onednn off --implementations unfold  # TF's own kernels (AVX2 CPUs' default)
    python benchmarks/per_sample_conv.py --onednn unset --json benchmarks/results/per_sample_conv_tf_unset.json
    KERAS_BACKEND=tensorflow python benchmarks/per_sample_conv.py --jit      # XLA
    KERAS_BACKEND=jax python benchmarks/per_sample_conv.py --shapes 128,128,256,256,5
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onednn_flag import add_onednn_argument, apply_onednn_flag, write_json  # noqa: E402

apply_onednn_flag()  # before TensorFlow is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from hypertext.layers import PerSampleConv1D  # noqa: E402
from timing import (  # noqa: E402
    compare_row, device_description, parse_shapes, print_table, random_cotangent)

SLOW = {"fold", "loop", "grouped"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="32,64,128,128,3", help="B,L,C,O,K entries separated by ';'")
    parser.add_argument("--implementations", default="unfold,loop,grouped,fold")
    parser.add_argument("--padding", default="same")
    parser.add_argument("--jit", action="store_true",
                        help="compile with XLA on TensorFlow (jit_compile=True), torch.compile on PyTorch; JAX always jits")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds (each runs Conv1D and the method)")
    parser.add_argument("--slow-seconds", type=float, default=60.0,
                        help="time budget per slow implementation (fold, loop, grouped); they stop early")
    parser.add_argument("--json", help="write the results to this JSON file")
    add_onednn_argument(parser)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    device = device_description()
    print(f"# {device}, jit={args.jit}, padding={args.padding}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    rows, records = [], []
    for s in parse_shapes(args.shapes, ["B", "L", "C", "O", "K"]):
        x = ops.convert_to_tensor(rng.normal(size=(s["B"], s["L"], s["C"])).astype("float32"))
        conv = keras.layers.Conv1D(s["O"], s["K"], padding=args.padding)
        conv.build(x.shape)

        def shared_loss(x, kernel, bias, cotangent):
            return ops.sum(conv.stateless_call([kernel, bias], [], x)[0] * cotangent)

        cotangent = random_cotangent(conv(x))
        baseline = (shared_loss, (x, conv.kernel.value, conv.bias.value, cotangent))
        shape = f"B{s['B']} L{s['L']} C{s['C']} O{s['O']} K{s['K']}"
        kernel = ops.convert_to_tensor(
            (rng.normal(size=(s["B"], s["O"], s["K"], s["C"])) / np.sqrt(s["K"] * s["C"])).astype("float32"))
        bias = ops.convert_to_tensor(np.zeros((s["B"], s["O"]), "float32"))
        for impl in args.implementations.split(","):
            layer = PerSampleConv1D(padding=args.padding, implementation=impl)

            def loss(x, kernel, bias, cotangent, layer=layer):
                return ops.sum(layer(x, kernel, bias) * cotangent)

            budget = args.slow_seconds if impl in SLOW else None
            row, record = compare_row(shape, s, impl, baseline, (loss, (x, kernel, bias, cotangent)), args.jit,
                                      args.repeats, budget)
            rows.append(row)
            records.append(record)
    print_table("PerSampleConv1D vs keras.layers.Conv1D (median times; each row's Conv1D timed interleaved with it)",
                ["shape", "method", "fwd", "fwd+bwd", "Conv1D fwd", "Conv1D fwd+bwd", "fwd ÷ Conv1D",
                 "fwd+bwd ÷ Conv1D"], rows)
    if args.json:
        write_json(args.json, dict(device=device, backend=keras.backend.backend(), jit=args.jit, padding=args.padding,
                                   onednn_env=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"), results=records))


if __name__ == "__main__":
    main()
