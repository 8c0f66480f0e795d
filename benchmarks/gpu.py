"""The GPU benchmark: hypertext on JAX (or PyTorch) with no TensorFlow imported. Three parts, each measured in one run:

a) `PerSampleConv1D` (its default unfold path) ÷ `keras.layers.Conv1D`, forward and forward+backward (gradients for
   the input and the kernels), float32 and bfloat16, at the anchors' shape B128 L128 C=O256 K5. Each is timed in
   rounds interleaved with Conv1D (`timing.compare_fwd_and_fwd_bwd`): `jax.jit` of a value-and-grad on JAX; on
   PyTorch eager, or `torch.compile` with `--jit` (with torch 2.13 it recompiles the per-sample loss at every call:
   each `keras.ops.pad` call names a new Keras operation, which fails a Dynamo guard, so eager is the default).
b) One full TextAutoencoder train step (`model.fit`, the optimizer update included), the hypernetwork model ÷ its
   plain twin (`hyper=False`; for `small`, widened to `channels=288`, `block_channels=224` so that the parameters
   match, as in the README's hyper-vs-plain table). Random ids, `--batch-size` texts at `--length`; the two models
   alternate round by round and each round is timed from the epoch's first step to its last, blocked on the device.
c) Time to a held-out BLEU target: trains `--train-config` on the shipped WordNet corpus' train split with bucketed
   NumPy batches (`hypertext.lengths`) fed to `model.fit`, evaluates full-text BLEU
   (`hypertext.evaluation.reconstruction_metrics`) on a fixed, seeded subset of the validation split every
   `--eval-every` steps, and stops at `--target` or after `--max-minutes` of training. The time to target counts
   training (JIT compiles included), not the evaluations; the tokenizer is trained first and timed apart.

It prints a markdown table per part and, last, one JSON line with every number. It refuses the TensorFlow backend,
makes `import tensorflow` fail once its own imports are done (so Keras behaves as on a machine without TensorFlow, and
anything that reaches for it fails at once), and checks at the end that TensorFlow was never imported.

    KERAS_BACKEND=jax python benchmarks/gpu.py                          # on a GPU: the anchors' shape, 10 minutes
    KERAS_BACKEND=jax python benchmarks/gpu.py --train-config base --mixed-precision
    KERAS_BACKEND=jax nice -n 10 python benchmarks/gpu.py --cpu --max-minutes 15    # smaller shapes for a CPU
    KERAS_BACKEND=torch python benchmarks/gpu.py --parts a,b [--jit]
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from hypertext.configs import apply_overrides, get_config  # noqa: E402
from hypertext.data import wordnet  # noqa: E402
from hypertext.data.input_pipeline import tokenize_ragged, make_batches  # noqa: E402
from hypertext.evaluation import reconstruction_metrics  # noqa: E402
from hypertext.layers import PerSampleConv1D  # noqa: E402
from hypertext.models import AutoencoderTask  # noqa: E402
from hypertext.tokenizers import SentencePieceTokenizer  # noqa: E402
from hypertext.training import compile_model  # noqa: E402
from timing import compare_fwd_and_fwd_bwd, device_description, parse_shapes, print_table  # noqa: E402

ANCHOR_SHAPE = "128,128,256,256,5"  # B,L,C,O,K of the anchors' H100 measurements
CPU_SHAPE = "32,64,128,128,5"
# The plain twin's widths that match the `small` hyper model's parameters (README, hyper vs plain twin).
MATCHED_TWIN = {"small": ["channels=288", "block_channels=224"]}


class _RefuseTensorFlow:
    """A `sys.meta_path` finder under which `import tensorflow` raises ImportError, as on a machine without it."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"benchmarks/gpu.py runs without TensorFlow; something imported {name!r}")
        return None


def refuse_tensorflow():
    """From here on, TensorFlow cannot be imported, even where it is installed: Keras then treats it as absent (its
    `set_random_seed` would otherwise import it to seed it), and any code that needs it fails at once."""
    if "tensorflow" in sys.modules:
        raise RuntimeError("TensorFlow was imported before the benchmark started.")
    sys.meta_path.insert(0, _RefuseTensorFlow())


def _ms(seconds):
    return f"{seconds * 1e3:.2f} ms"


# ---- a) PerSampleConv1D ÷ Conv1D ---------------------------------------------------------------------------------
def conv_ratios(shape, dtype, repeats, jit):
    """Median fwd and fwd+bwd seconds of a shared Conv1D and of PerSampleConv1D (unfold) at `shape`, in `dtype`."""
    rng = np.random.default_rng(0)
    b, length, c, o, k = (shape[n] for n in ("B", "L", "C", "O", "K"))

    def tensor(*dims, scale=1.0):
        return ops.cast(rng.normal(size=dims).astype("float32") * scale, dtype)

    x = tensor(b, length, c)
    # The upstream gradient the losses contract against (float32, as a real loss reduces in float32).
    cotangent = ops.convert_to_tensor(rng.normal(size=(b, length, o)).astype("float32"))
    conv = keras.layers.Conv1D(o, k, padding="same", dtype=dtype)
    conv.build(x.shape)
    per_sample = PerSampleConv1D(padding="same", dtype=dtype)

    def shared_loss(x, kernel, bias, cotangent):
        return ops.sum(ops.cast(conv.stateless_call([kernel, bias], [], x)[0], "float32") * cotangent)

    def per_sample_loss(x, kernel, bias, cotangent):
        return ops.sum(ops.cast(per_sample(x, kernel, bias), "float32") * cotangent)

    baseline = (shared_loss, (x, conv.kernel.value, conv.bias.value, cotangent))
    candidate = (per_sample_loss, (x, tensor(b, o, k, c, scale=1 / math.sqrt(k * c)), tensor(b, o), cotangent))
    return compare_fwd_and_fwd_bwd(baseline, candidate, 2, jit, repeats)


def part_a(args):
    rows, results = [], []
    for shape in parse_shapes(args.conv_shape, ["B", "L", "C", "O", "K"]):
        name = f"B{shape['B']} L{shape['L']} C{shape['C']} O{shape['O']} K{shape['K']}"
        for dtype in args.dtypes.split(","):
            base_fwd, base_bwd, fwd, bwd = conv_ratios(shape, dtype, args.repeats, args.jit)
            results.append({"shape": name, "dtype": dtype, "conv1d_fwd_s": base_fwd, "conv1d_fwd_bwd_s": base_bwd,
                            "per_sample_fwd_s": fwd, "per_sample_fwd_bwd_s": bwd, "fwd_ratio": fwd / base_fwd,
                            "fwd_bwd_ratio": bwd / base_bwd})
            rows.append([name, dtype, _ms(base_bwd), _ms(bwd), f"**{bwd / base_bwd:.2f}×**", _ms(base_fwd), _ms(fwd),
                         f"{fwd / base_fwd:.2f}×"])
    print_table("a) PerSampleConv1D (unfold) ÷ keras.layers.Conv1D, 'same' padding (medians, interleaved; goal on an "
                "H100: fwd+bwd <= 1.05×)",
                ["shape", "dtype", "Conv1D fwd+bwd", "PerSampleConv1D fwd+bwd", "fwd+bwd ratio", "Conv1D fwd",
                 "PerSampleConv1D fwd", "fwd ratio"], rows)
    return results


# ---- b) train step, hyper ÷ plain twin ------------------------------------------------------------------------------
class EpochTimer(keras.callbacks.Callback):
    """Wall time from the start of each epoch to its end, after the device has finished the epoch's last step.

    It has no batch hooks, so Keras keeps dispatching steps asynchronously: only the epoch's end waits."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        ops.convert_to_numpy(self.model.optimizer.iterations)  # written by the last step: blocks until it is done
        self.seconds.append(time.perf_counter() - self.start)


def part_b(args):
    config = apply_overrides(get_config(args.config), args.set)
    plain_set = MATCHED_TWIN.get(args.config, []) if args.plain_set is None else args.plain_set
    twin = apply_overrides(config.replace(hyper=False), plain_set)
    batch = args.batch_size or config.batch_size
    length = args.length or config.max_length
    ids = np.random.default_rng(0).integers(4, config.vocab_size, size=(batch * args.steps, length)).astype("int32")
    weights = np.ones(ids.shape, "float32")
    models, timers = {}, {}
    for name, model_config in (("hyper", config), ("plain twin", twin)):
        keras.utils.set_random_seed(0)
        models[name] = AutoencoderTask(model_config)
        models[name].build()
        compile_model(models[name], config, total_steps=10_000, jit_compile=args.backend_jit)
        timers[name] = EpochTimer()
    for _ in range(args.rounds + 1):  # the first round compiles; it is not counted
        for name, model in models.items():
            model.fit(ids, ids, sample_weight=weights, batch_size=batch, epochs=1, shuffle=False, verbose=0,
                      callbacks=[timers[name]])
    step = {name: float(np.median(timer.seconds[1:])) / args.steps for name, timer in timers.items()}
    ratio = step["hyper"] / step["plain twin"]
    rows = [[name, f"{models[name].count_params():,}", _ms(step[name]), f"{batch * length / step[name]:,.0f}"]
            for name in models]
    rows.append(["hyper ÷ plain twin", "", f"**{ratio:.2f}×**", ""])
    print_table(f"b) TextAutoencoder train step, config {args.config}, batch {batch}, length {length}, plain twin "
                f"{' '.join(plain_set) or 'same widths'} (median of {args.rounds} rounds of {args.steps} steps)",
                ["model", "parameters", "step", "tokens/s"], rows)
    return {"config": args.config, "batch": batch, "length": length, "plain_set": plain_set,
            "hyper_step_s": step["hyper"], "plain_step_s": step["plain twin"], "ratio": ratio,
            "hyper_params": models["hyper"].count_params(), "plain_params": models["plain twin"].count_params()}


# ---- c) time to a held-out BLEU target ------------------------------------------------------------------------------
class BleuTarget(keras.callbacks.Callback):
    """At every epoch's end (every `--eval-every` steps) scores full-text BLEU on the validation subset, keeps the
    training time spent so far (evaluations excluded), and stops at the target or when the time is up."""

    def __init__(self, texts, pieces, target, max_seconds):
        super().__init__()
        self.texts, self.pieces, self.target, self.max_seconds = texts, pieces, target, max_seconds
        self.train_seconds, self.history, self.reached = 0.0, [], None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))  # blocks until the last step is done
        self.train_seconds += time.perf_counter() - self.epoch_start
        metrics = reconstruction_metrics(self.model.text_model(), self.texts, pieces=self.pieces)
        row = {"step": step, "train_s": round(self.train_seconds, 1),
               "wall_s": round(time.perf_counter() - self.start, 1), "loss": round(float(logs["loss"]), 4),
               "bleu": metrics["bleu"], "exact_match": metrics["exact_match"]}
        self.history.append(row)
        print(f"  step {step:,}: train {row['train_s']:.0f} s, wall {row['wall_s']:.0f} s, loss {row['loss']:.3f}, "
                 f"held-out BLEU {row['bleu']:.1f}, exact {row['exact_match']:.1%}", flush=True)
        if metrics["bleu"] >= self.target and self.reached is None:
            self.reached = row
            self.model.stop_training = True
        elif self.train_seconds >= self.max_seconds:
            self.model.stop_training = True


def part_c(args):
    config = apply_overrides(get_config(args.train_config), args.set)
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    train_texts = [row["text"] for row in wordnet.read_rows(split="train")]
    val_texts = [row["text"] for row in wordnet.read_rows(split="validation")]
    picked = np.random.default_rng(0).choice(len(val_texts), size=min(args.eval_texts, len(val_texts)), replace=False)
    val_texts = [val_texts[i] for i in np.sort(picked)]
    tokenizer = SentencePieceTokenizer.from_texts(train_texts, vocab_size=config.vocab_size,
                                                  max_training_sentences=config.tokenizer_sentences, seed=config.seed)
    train_ids, _ = tokenize_ragged(train_texts, tokenizer, config.max_length)
    val_pieces = tokenizer.encode(val_texts)
    setup_seconds = time.perf_counter() - start

    model = AutoencoderTask(config, tokenizer)
    model.build()
    passes = config.steps_per_epoch or -(-len(train_ids) // config.batch_size)
    total_steps = args.schedule_steps or passes * config.epochs
    compile_model(model, config, total_steps, jit_compile=args.backend_jit)
    if config.bow_weight > 0 and config.bow_idf:
        model.objective("bag_of_tokens").set_idf(train_ids)
    print(f"\nc) {args.train_config} config, {model.count_params():,} parameters, {len(train_ids):,} training texts, "
          f"{len(val_texts)} held-out validation texts; learning-rate schedule over {total_steps:,} steps; "
          f"tokenizer and tokenization {setup_seconds:.1f} s", flush=True)
    target = BleuTarget(val_texts, val_pieces, args.target, args.max_minutes * 60)
    # Full batches only (drop_remainder), so there is one batch shape per length bucket and the JIT compiles each once.
    batches = make_batches(train_ids, tokenizer, config.max_length, config.batch_size, shuffle=True, seed=config.seed,
                           repeat=True, drop_remainder=True, length_multiple=model.backbone.length_multiple)
    model.fit(batches, steps_per_epoch=args.eval_every, epochs=max(1, total_steps // args.eval_every), shuffle=False,
              verbose=0,
              callbacks=[target])
    reached = target.reached
    last = target.history[-1]
    rows = [[str(r["step"]), f"{r['train_s']:.0f} s", f"{r['wall_s']:.0f} s", f"{r['loss']:.3f}", f"{r['bleu']:.1f}",
             f"{r['exact_match']:.1%}"] for r in target.history]
    print_table(f"c) held-out BLEU (full text, {len(val_texts)} validation texts) while training; target {args.target}",
                ["step", "training time", "wall time (with evaluations)", "loss", "BLEU", "exact match"], rows)
    if reached:
        print(f"\nTarget BLEU {args.target} reached at step {reached['step']:,}: **{reached['train_s'] / 60:.1f} min** "
              f"of training ({reached['wall_s'] / 60:.1f} min with evaluations; goal on a GPU: <= 10 min)")
    else:
        print(f"\nTarget BLEU {args.target} NOT reached: BLEU {last['bleu']:.1f} after {last['step']:,} steps and "
              f"{last['train_s'] / 60:.1f} min of training (--max-minutes {args.max_minutes:g}, checked at each "
              "evaluation)")
    return {"config": args.train_config, "parameters": model.count_params(), "target": args.target,
            "reached": bool(reached), "minutes_to_target": round(reached["train_s"] / 60, 2) if reached else None,
            "steps_to_target": reached["step"] if reached else None, "setup_s": round(setup_seconds, 1),
            "eval_texts": len(val_texts), "schedule_steps": total_steps, "history": target.history}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="a,b,c", help="which parts to run, of a, b, c")
    parser.add_argument("--cpu", action="store_true", help=f"part a at the smaller {CPU_SHAPE} (B,L,C,O,K)")
    parser.add_argument("--jit", action="store_true", help="PyTorch: torch.compile in part a, jit_compile=True in b "
                        "and c (JAX always jits)")
    parser.add_argument("--conv-shape", help=f"part a: B,L,C,O,K entries separated by ';' (default {ANCHOR_SHAPE})")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="part a")
    parser.add_argument("--repeats", type=int, default=30, help="part a: timed rounds")
    parser.add_argument("--config", default="small", help="part b")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="config overrides for parts b and c")
    parser.add_argument("--plain-set", action="append", metavar="FIELD=VALUE",
                        help="part b: overrides for the twin only (default: the parameter-matched widths for small)")
    parser.add_argument("--batch-size", type=int, help="part b (default: the config's, 64 for small)")
    parser.add_argument("--length", type=int, help="part b: the batches' length (default: max_length)")
    parser.add_argument("--steps", type=int, default=10, help="part b: steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="part b: timed rounds per model")
    parser.add_argument("--train-config", default="small", help="part c (base on a GPU)")
    parser.add_argument("--target", type=float, default=90.0, help="part c: held-out BLEU to reach")
    parser.add_argument("--max-minutes", type=float, default=10.0, help="part c: stop after this much training")
    parser.add_argument("--eval-every", type=int, default=250, help="part c: steps between evaluations")
    parser.add_argument("--eval-texts", type=int, default=500, help="part c: size of the validation subset")
    parser.add_argument("--schedule-steps", type=int,
                        help="part c: learning-rate schedule length (default: the config's epochs × steps)")
    parser.add_argument("--mixed-precision", action="store_true", help="parts b and c: mixed_bfloat16")
    parser.add_argument("--json", help="also write the JSON line to this file")
    args = parser.parse_args()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        raise SystemExit("benchmarks/gpu.py measures hypertext without TensorFlow: run it with KERAS_BACKEND=jax or "
                         "KERAS_BACKEND=torch. Received: KERAS_BACKEND=tensorflow")
    parts = args.parts.split(",")
    if not parts or set(parts) - {"a", "b", "c"}:
        raise SystemExit(f"`--parts` must be a comma-separated subset of a,b,c. Received: parts={args.parts!r}")
    args.conv_shape = args.conv_shape or (CPU_SHAPE if args.cpu else ANCHOR_SHAPE)
    args.backend_jit = backend == "jax" or args.jit
    refuse_tensorflow()

    result = {"device": device_description(), "backend": backend, "jit": args.backend_jit}
    print(f"# {result['device']}, jit={args.backend_jit}, mixed precision (b, c)={args.mixed_precision}", flush=True)
    if "a" in parts:
        result["conv"] = part_a(args)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if "b" in parts:
        result["train_step"] = part_b(args)
    if "c" in parts:
        result["time_to_bleu"] = part_c(args)
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    # hypertext.data's package imports its TFDS builder, which does not import TensorFlow itself.
    result["tensorflow_datasets_imported"] = "tensorflow_datasets" in sys.modules
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    assert "tensorflow" not in sys.modules, "TensorFlow was imported: benchmarks/gpu.py must run without it"


if __name__ == "__main__":
    main()
