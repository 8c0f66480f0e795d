"""Training a TextAutoencoder end to end: what `train.py` runs, step by step, as library functions."""

import csv
import json
import math
import os
import time

import keras

from hypertext import configs
from hypertext.data import load_texts, make_dataset
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.model"
BACKUP_DIR = "backup"


class OutputDirError(ValueError):
    """The output folder cannot be used (not writable, or holds a run that --resume was not asked to continue)."""


def prepare_output_dir(path, resume):
    """Creates `path`, checks with a probe write that it is writable, and refuses to overwrite an earlier run."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-probe-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        os.remove(probe)
    except OSError as e:
        raise OutputDirError(f"Cannot write to the output folder {path!r}: {e.strerror or e}.") from None
    has_run = any(os.path.exists(os.path.join(path, name)) for name in (MODEL_FILE, BACKUP_DIR, "history.csv"))
    if has_run and not resume:
        raise OutputDirError(
            f"{path!r} already holds a training run. Pass --resume to continue it, or choose another --output."
        )
    if resume and not has_run:
        raise OutputDirError(f"--resume: {path!r} holds no run to continue.")


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` whenever `monitor` improves, writing a temporary file in the same folder and
    renaming it into place, so an interrupted save never leaves a half-written `model.keras` behind."""

    def __init__(self, path, monitor="val_loss"):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        save_model_atomically(self.model, self.path)


def save_model_atomically(model, path):
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def learning_rate_schedule(config, total_steps):
    """Linear warm-up to `learning_rate`, then cosine decay to 10% of it."""
    warmup = max(1, min(config.warmup_steps, total_steps // 2))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.01, decay_steps=max(1, total_steps - warmup), alpha=0.1,
        warmup_target=config.learning_rate, warmup_steps=warmup)


def compile_model(model, config, total_steps, jit_compile=False):
    schedule = learning_rate_schedule(config, total_steps)
    if config.weight_decay:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(schedule)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        jit_compile=jit_compile,
    )
    return model


def get_tokenizer(output, train_texts, config, log=print):
    """Loads `output/tokenizer.model` when it exists (a resumed run), else trains one and saves it there."""
    path = os.path.join(output, TOKENIZER_FILE)
    if os.path.isfile(path):
        log(f"tokenizer: loaded {path}")
        return SentencePieceTokenizer(proto=path)
    start = time.time()
    tokenizer = SentencePieceTokenizer.from_texts(train_texts, vocab_size=config.vocab_size,
                                             max_training_sentences=config.tokenizer_sentences)
    with open(path + ".tmp", "wb") as f:
        f.write(tokenizer.proto)
    os.replace(path + ".tmp", path)
    log(f"tokenizer: trained {tokenizer.vocab_size} pieces in {time.time() - start:.1f}s -> {path}")
    return tokenizer


def plot_curves(history_csv, out_png):
    """Loss and token-accuracy curves (train and validation) from a Keras CSVLogger file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(history_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key in zip(axes, ("loss", "token_accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in rows[0]:
                ax.plot(epochs, [float(r[prefix + key]) for r in rows], style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def distribution_strategy_scope():
    """Data parallelism over every local accelerator with an existing engine: `tf.distribute.MirroredStrategy` on
    TensorFlow, `keras.distribution.DataParallel` on JAX. A single device gets no strategy (a null context)."""
    import contextlib

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_logical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy().scope()
    elif backend == "jax":
        devices = keras.distribution.list_devices()
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext()


def train(corpus="wordnet", output="runs/default", config=None, text_key="text", resume=False, jit_compile=False,
          mixed_precision=False, encoding_errors="strict", verbose=1, log=print):
    """Trains (or resumes) a TextAutoencoder and writes everything to `output`. Returns the best model's path."""
    config = configs.validate(config or configs.get_config("small"))
    prepare_output_dir(output, resume)
    keras.utils.set_random_seed(config.seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_bfloat16" if keras.backend.backend() != "tensorflow" else "mixed_float16")

    train_texts = load_texts(corpus, "train", text_key=text_key, errors=encoding_errors)
    val_texts = load_texts(corpus, "validation", text_key=text_key, errors=encoding_errors)
    for name, texts in (("train", train_texts), ("validation", val_texts)):
        log(f"corpus {corpus!r} {name}: {len(texts):,} texts"
            + "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in texts.stats.items() if k != "texts" and v))
    if not train_texts:
        raise ValueError(f"Corpus {corpus!r} has no training texts (all lines empty?).")
    if not val_texts:
        raise ValueError(f"Corpus {corpus!r} has no validation texts; it needs at least ~20 non-empty lines.")

    tokenizer = get_tokenizer(output, train_texts, config, log)
    train_ds = make_dataset(train_texts, tokenizer, config.max_length, config.batch_size, shuffle=True,
                            seed=config.seed, repeat=bool(config.steps_per_epoch))
    val_ds = make_dataset(val_texts, tokenizer, config.max_length, config.batch_size, shuffle=False)
    steps_per_epoch = config.steps_per_epoch or math.ceil(len(train_texts) / config.batch_size)

    with distribution_strategy_scope():
        model = TextAutoencoder(config, tokenizer, metadata={"corpus": corpus, "text_key": text_key})
        model.build()
        compile_model(model, config, steps_per_epoch * config.epochs, jit_compile)
    log(f"model: {model.count_params():,} parameters ({'hyper' if config.hyper else 'plain Conv1D ablation'})")

    with open(os.path.join(output, "config.json"), "w") as f:
        json.dump({"corpus": corpus, "text_key": text_key, "backend": keras.backend.backend(),
                   "jit_compile": jit_compile, "mixed_precision": mixed_precision, **config.to_dict()}, f, indent=2)
    best = os.path.join(output, MODEL_FILE)
    history_csv = os.path.join(output, "history.csv")
    callbacks = [
        # Kept after a finished run too (delete_checkpoint=False), so `--resume --epochs N` can extend it.
        keras.callbacks.BackupAndRestore(os.path.join(output, BACKUP_DIR), delete_checkpoint=False),
        keras.callbacks.TerminateOnNaN(),
        AtomicBestCheckpoint(best),
        keras.callbacks.CSVLogger(history_csv, append=resume),
        keras.callbacks.TensorBoard(os.path.join(output, "logs"), write_graph=False, profile_batch=0),
    ]
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
              steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
              callbacks=callbacks, verbose=verbose)
    if not os.path.isfile(best):  # e.g. every validation loss was NaN
        raise RuntimeError("Training produced no checkpoint: the validation loss never improved (NaN?).")
    plot_curves(history_csv, os.path.join(output, "curves.png"))
    return best
