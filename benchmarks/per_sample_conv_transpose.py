"""Times PerSampleConv1DTranspose (and HyperConv1DTranspose's conv) against keras.layers.Conv1DTranspose.

Forward and forward+backward (gradients for the input and the kernels), each as a multiple of a shared
`keras.layers.Conv1DTranspose` on the same shapes, timed interleaved round by round in one run:

    KERAS_BACKEND=tensorflow python benchmarks/per_sample_conv_transpose.py [--jit]
    KERAS_BACKEND=jax python benchmarks/per_sample_conv_transpose.py --shapes 128,32,256,256,4,2
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as train.py does; TF_ENABLE_ONEDNN_OPTS=0 times without

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from hypertext.layers import PerSampleConv1DTranspose  # noqa: E402
from timing import (  # noqa: E402
    compare_fwd_and_fwd_bwd, device_description, parse_shapes, print_table, random_cotangent)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="32,32,128,128,4,2;32,64,128,128,3,1",
                        help="B,L,C,O,K,strides entries separated by ';'")
    parser.add_argument("--padding", default="same")
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    print(f"# {device_description()}, jit={args.jit}, padding={args.padding}")
    rows = []
    for s in parse_shapes(args.shapes, ["B", "L", "C", "O", "K", "S"]):
        x = ops.convert_to_tensor(rng.normal(size=(s["B"], s["L"], s["C"])).astype("float32"))
        deconv = keras.layers.Conv1DTranspose(s["O"], s["K"], strides=s["S"], padding=args.padding)
        deconv.build(x.shape)

        def shared_loss(x, kernel, bias, cotangent):
            return ops.sum(deconv.stateless_call([kernel, bias], [], x)[0] * cotangent)

        cotangent = random_cotangent(deconv(x))
        baseline = (shared_loss, (x, deconv.kernel.value, deconv.bias.value, cotangent))
        layer = PerSampleConv1DTranspose(strides=s["S"], padding=args.padding)
        kernel = ops.convert_to_tensor(
            (rng.normal(size=(s["B"], s["O"], s["K"], s["C"])) / np.sqrt(s["K"] * s["C"])).astype("float32"))
        bias = ops.convert_to_tensor(np.zeros((s["B"], s["O"]), "float32"))

        def loss(x, kernel, bias, cotangent):
            return ops.sum(layer(x, kernel, bias) * cotangent)

        times = compare_fwd_and_fwd_bwd(baseline, (loss, (x, kernel, bias, cotangent)), 2, args.jit, args.repeats)
        base, ours = times[:2], times[2:]
        shape = f"B{s['B']} L{s['L']} C{s['C']} O{s['O']} K{s['K']} s{s['S']}"
        rows.append([shape, f"{base[0] * 1e3:.2f} ms", f"{base[1] * 1e3:.2f} ms", f"{ours[0] * 1e3:.2f} ms",
                     f"{ours[1] * 1e3:.2f} ms", f"{ours[0] / base[0]:.2f}×", f"{ours[1] / base[1]:.2f}×"])
    print_table("PerSampleConv1DTranspose vs keras.layers.Conv1DTranspose "
                "(median times; timed interleaved, ratios from this run)",
                ["shape", "Keras fwd", "Keras fwd+bwd", "ours fwd", "ours fwd+bwd", "fwd ratio", "fwd+bwd ratio"],
                rows)


if __name__ == "__main__":
    main()
