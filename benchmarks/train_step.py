"""Time of one TextAutoencoder training step, the hypernetwork model against its plain-Conv1D twin.

Both models come from the same config; the twin has `hyper=False` (every HyperConv1D becomes a Conv1D of the same
shape). It prints the median step time of each and their ratio, measured in one run:

    KERAS_BACKEND=tensorflow python benchmarks/train_step.py [--jit] [--config small] [--batch-size 64] [--length 32]
    python benchmarks/train_step.py --length 32 --plain-set channels=288 --plain-set block_channels=224  # model card
    KERAS_BACKEND=jax python benchmarks/train_step.py --config base
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


def step_seconds(model, config, batch, steps, jit, length):
    compile_model(model, config, total_steps=10_000, jit_compile=jit)
    ids = np.random.default_rng(0).integers(4, config.vocab_size, size=(batch * steps, length))
    ids = ids.astype("int32")
    weights = np.ones(ids.shape, "float32")
    model.fit(ids[: batch * 2], ids[: batch * 2], sample_weight=weights[: batch * 2], batch_size=batch, verbose=0)
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(ids, ids, sample_weight=weights, batch_size=batch, verbose=0, callbacks=[Timer()], shuffle=False)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="small")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--plain-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="overrides for the twin only, e.g. its widths to match the hyper model's parameters")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--length", type=int, help="the batches' length (a bucket length); default max_length")
    parser.add_argument("--jit", action="store_true")
    args = parser.parse_args()
    config = apply_overrides(get_config(args.config), args.set)
    batch = args.batch_size or config.batch_size
    length = args.length or config.max_length
    print(f"# {device_description()}, jit={args.jit}, config={args.config}, batch={batch}, length={length}")
    rows, results = [], {}
    for name, model_config in (("hyper", config),
                               ("plain twin", apply_overrides(config.replace(hyper=False), args.plain_set))):
        keras.utils.set_random_seed(0)
        model = AutoencoderTask(model_config)
        model.build()
        results[name] = step_seconds(model, config, batch, args.steps, args.jit, length)
        tokens = batch * length / results[name]
        rows.append([name, f"{model.count_params():,}", f"{results[name] * 1e3:.1f} ms", f"{tokens:,.0f}"])
    rows.append(["ratio", "", f"{results['hyper'] / results['plain twin']:.2f}×", ""])
    print_table("TextAutoencoder train step (median)", ["model", "parameters", "step", "tokens/s"], rows)


if __name__ == "__main__":
    main()
