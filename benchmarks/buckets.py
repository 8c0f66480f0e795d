"""Cost per length bucket: one training step and one `reconstruct` call on batches of texts of one length.

The model is length-agnostic and batches are bucketed by length, so a batch of short texts should cost a fraction of
a batch of long ones. For each bucket length it prints the median train-step time (a compiled Keras train step on a
`(batch, L)` batch), the reconstruct time for `batch` texts of `L - 1` pieces, both as a multiple of the
`--reference` length's, and tokens/s. All rows come from one run:

    KERAS_BACKEND=tensorflow python benchmarks/buckets.py [--config small] [--lengths 16,32,64,128,256]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as train.py does; TF_ENABLE_ONEDNN_OPTS=0 times without

import keras  # noqa: E402
import numpy as np  # noqa: E402

from hypertext.configs import apply_overrides, get_config  # noqa: E402
from hypertext.models import AutoencoderTask  # noqa: E402
from hypertext.training import compile_model  # noqa: E402
from timing import device_description, print_table  # noqa: E402


def median_seconds(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="small")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--lengths", default="16,32,64,128,256")
    parser.add_argument("--reference", type=int, default=128, help="the length the ratios divide by")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    lengths = [int(v) for v in args.lengths.split(",")]
    config = apply_overrides(get_config(args.config), args.set)
    config = config.replace(max_length=max(config.max_length, max(lengths)))
    batch = args.batch_size or config.batch_size
    print(f"# {device_description()}, config={args.config}, batch={batch}, max_length={config.max_length}")
    keras.utils.set_random_seed(0)
    model = AutoencoderTask(config)
    model.build()
    compile_model(model, config, total_steps=10_000)
    text_model = model.text_model()
    rng = np.random.default_rng(0)
    step, recon = {}, {}
    for length in lengths:
        ids = rng.integers(4, config.vocab_size, size=(batch, length)).astype("int32")
        ids[:, -1] = 3  # eos
        weights = np.ones(ids.shape, "float32")
        step[length] = median_seconds(lambda: model.train_on_batch(ids, ids, sample_weight=weights), args.repeats)
        pieces = [row[:-1].tolist() for row in ids]
        recon[length] = median_seconds(lambda: text_model.reconstruct_pieces(pieces, batch_size=batch),
                                       max(3, args.repeats // 2))
    reference = args.reference if args.reference in step else lengths[-1]
    rows = [[str(length), f"{step[length] * 1e3:.1f} ms", f"{step[length] / step[reference]:.2f}×",
             f"{batch * length / step[length]:,.0f}", f"{recon[length] * 1e3:.1f} ms",
             f"{recon[length] / recon[reference]:.2f}×", f"{batch / recon[length]:,.0f}"]
            for length in lengths]
    print_table(f"TextAutoencoder cost per bucket length (batch {batch}; ratios ÷ length {reference})",
                ["length", "train step", "÷ ref", "train tokens/s", "reconstruct", "÷ ref", "texts/s"], rows)


if __name__ == "__main__":
    main()
