"""Training a TextAutoencoder end to end: what `train.py` runs, step by step, as library functions."""

import csv
import glob
import json
import math
import os
import shutil
import time

import keras

from hypertext import configs
from hypertext.backend_utils import device_description
from hypertext.data import load_texts, make_dataset
from hypertext.data.input_pipeline import encode_ragged
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.model"
BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.json"
TMP_PREFIX = ".tmp-"


class OutputDirError(ValueError):
    """The output folder cannot be used (not writable, or holds a run that --resume was not asked to continue)."""


class TrainingError(RuntimeError):
    """Training stopped on a fault it cannot continue past (a non-finite loss, a checkpoint that cannot be written).
    The message says what happened and what was kept."""


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
    has_run = any(os.path.exists(os.path.join(path, name)) for name in (MODEL_FILE, BACKUP_DIR, HISTORY_FILE))
    if has_run and not resume:
        raise OutputDirError(
            f"{path!r} already holds a training run. Pass --resume to continue it, or choose another --output."
        )
    if resume and not has_run:
        raise OutputDirError(f"--resume: {path!r} holds no run to continue.")


def _write_atomically(path, write):
    """Calls `write(tmp_path)` on a temporary name in `path`'s folder, flushes it to disk, then renames it over
    `path`. A crash or a failed write at any moment leaves the old `path` untouched (POSIX rename is atomic)."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{name}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_json_atomically(path, obj):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)

    _write_atomically(path, write)


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary file and a rename. Raises `TrainingError` if the write fails (a full
    disk, say); the previous file at `path`, if any, is then intact."""
    try:
        _write_atomically(path, model.save)
    except OSError as e:
        kept = "The previous checkpoint there is intact." if os.path.exists(path) else "No checkpoint was written."
        raise TrainingError(f"Could not write the checkpoint {path!r}: {e.strerror or e}. {kept}") from None


def remove_stale_temporary_files(output):
    """Deletes what an earlier killed run left half-written (`.tmp-*` files and backup folders)."""
    for stale in glob.glob(os.path.join(output, TMP_PREFIX + "*")) + glob.glob(
            os.path.join(output, BACKUP_DIR, TMP_PREFIX + "*")):
        shutil.rmtree(stale) if os.path.isdir(stale) else os.remove(stale)


def write_history_csv(path, history):
    """Writes the per-epoch rows (dicts with `epoch` and the metrics) as CSV, atomically."""
    keys = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)

    _write_atomically(path, write)


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` whenever `monitor` improves on `best` (pass the best value of the epochs before a
    resume), through a temporary file and a rename, so an interrupted save never leaves a half-written file."""

    def __init__(self, path, monitor="val_loss", best=math.inf):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        save_model_atomically(self.model, self.path)


class RunBackup(keras.callbacks.Callback):
    """Crash-safe training state, for `--resume`.

    After every epoch it writes the model and optimizer weights and the history of every epoch so far to
    `directory/epoch-NNNNN/`, first under a temporary name, then renamed into place; older backups are deleted only
    after that. A kill at any moment therefore leaves one complete backup, and `restore_backup` finds the newest. It
    then rewrites `history_csv` from the same rows, so the CSV never has a duplicated or missing epoch, even when the
    process dies between the two writes (a resume rewrites it from the backup).

    Args:
        directory: the backup folder.
        history_csv: the CSV file that mirrors the history.
        history: the rows of the epochs before a resume (from `restore_backup`).
    """

    def __init__(self, directory, history_csv, history=()):
        super().__init__()
        self.directory = directory
        self.history_csv = history_csv
        self.history = list(history)

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        os.makedirs(self.directory, exist_ok=True)
        tmp = os.path.join(self.directory, f"{TMP_PREFIX}epoch-{epoch + 1:05d}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        self.model.save_weights(os.path.join(tmp, "state.weights.h5"))
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump({"epoch": epoch + 1, "history": self.history}, f)
        for name in os.listdir(tmp):
            with open(os.path.join(tmp, name), "rb+") as f:
                os.fsync(f.fileno())
        final = os.path.join(self.directory, f"epoch-{epoch + 1:05d}")
        shutil.rmtree(final, ignore_errors=True)  # a re-run epoch after a resume
        os.replace(tmp, final)
        for old in _complete_backups(self.directory)[:-1]:
            shutil.rmtree(old)
        write_history_csv(self.history_csv, self.history)


def _complete_backups(directory):
    return sorted(glob.glob(os.path.join(directory, "epoch-[0-9][0-9][0-9][0-9][0-9]")))


def restore_backup(model, directory):
    """Loads the newest complete backup into the compiled `model`, weights and optimizer state (step counter and
    moments) alike. Returns `(epochs_done, history_rows)`; `(0, [])` when there is no backup."""
    backups = _complete_backups(directory)
    if not backups:
        return 0, []
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(backups[-1], "state.weights.h5"))
    with open(os.path.join(backups[-1], "state.json")) as f:
        state = json.load(f)
    return state["epoch"], state["history"]


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """Keras' `TerminateOnNaN`, but it stops at once with a `TrainingError` naming the epoch and step, before the
    epoch ends, so no callback saves the diverged weights: `model.keras` and the backup stay those of the last good
    epoch."""

    def __init__(self, checkpoint_path):
        super().__init__()
        self.checkpoint_path = checkpoint_path
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.model.stop_training = True
        kept = (f"The last good checkpoint, {self.checkpoint_path!r}, is kept."
                if os.path.isfile(self.checkpoint_path) else "No epoch finished, so there is no checkpoint.")
        raise TrainingError(
            f"The training loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}. "
            f"{kept} Try a lower --learning-rate (or more warm-up steps)."
        )


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
    """Loss and token-accuracy curves, train (solid) and validation (dashed), from `history.csv` files.

    Args:
        history_csv: one path, or `{label: path}` to draw several runs on the same axes (e.g. hyper vs plain twin).
        out_png: the image to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = history_csv if isinstance(history_csv, dict) else {"": history_csv}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    drawn = False
    for (label, path), color in zip(runs.items(), ("C0", "C1", "C2", "C3", "C4")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        drawn = True
        epochs = [int(r["epoch"]) + 1 for r in rows]
        for ax, key in zip(axes, ("loss", "token_accuracy")):
            for prefix, style in (("", "-"), ("val_", "--")):
                if prefix + key in rows[0]:
                    ax.plot(epochs, [float(r[prefix + key]) for r in rows], style, color=color,
                            label=f"{label} {(prefix or 'train_') + key}".strip())
            ax.set_xlabel("epoch")
            ax.set_xticks(epochs)
            ax.set_title(key)
            ax.legend(fontsize=8)
    if drawn:
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


def saved_run(output):
    """The settings a run in `output` was started with (its config.json): `(config, corpus, text_key)`, for
    `--resume`. Raises OutputDirError when there is none."""
    path = os.path.join(output, CONFIG_FILE)
    if not os.path.exists(path):
        raise OutputDirError(f"--resume: {output!r} holds no run to continue (no {CONFIG_FILE}).")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise OutputDirError(f"--resume: cannot read the run's settings {path!r}: {e}.") from None
    fields = set(configs.Config.__dataclass_fields__)
    return configs.Config(**{k: v for k, v in saved.items() if k in fields}), saved["corpus"], saved["text_key"]


def _tokenize(name, texts, tokenizer, config, log):
    ids, truncated = encode_ragged(texts, tokenizer, config.max_length)
    if truncated:
        log(f"{name}: {truncated:,} of {len(texts):,} texts are longer than max_length={config.max_length} pieces "
            "and were truncated")
    return ids


def train(corpus="wordnet", output="runs/default", config=None, text_key="text", resume=False, jit_compile=False,
          mixed_precision=False, encoding_errors="strict", verbose=1, log=print):
    """Trains (or resumes) a TextAutoencoder and writes everything to `output`. Returns the best model's path.

    Raises:
        ValueError (OutputDirError included): bad settings, corpus or output folder; raised before training starts.
        TrainingError: a non-finite loss, or a checkpoint that could not be written. What was saved is kept.
    """
    config = configs.validate(config or configs.get_config("small"))
    prepare_output_dir(output, resume)
    remove_stale_temporary_files(output)
    keras.utils.set_random_seed(config.seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_bfloat16" if keras.backend.backend() != "tensorflow" else "mixed_float16")

    log(f"backend: {device_description()}")
    train_texts = load_texts(corpus, "train", text_key=text_key, errors=encoding_errors)
    val_texts = load_texts(corpus, "validation", text_key=text_key, errors=encoding_errors)
    for name, texts in (("train", train_texts), ("validation", val_texts)):
        log(f"corpus {corpus!r} {name}: {len(texts):,} texts"
            + "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in texts.stats.items() if k != "texts" and v))
    if not train_texts:
        raise ValueError(f"Corpus {corpus!r} has no training texts: it is empty, or every line is blank.")
    if not val_texts:
        raise ValueError(f"Corpus {corpus!r} has no validation texts; it needs at least ~20 non-empty lines.")

    tokenizer = get_tokenizer(output, train_texts, config, log)
    train_ids = _tokenize("train", train_texts, tokenizer, config, log)
    # Batches are bucketed by length (one padded length per bucket, a multiple of 2**num_stages), so a batch of
    # short texts costs a fraction of a batch of long ones.
    multiple = 2 ** config.num_stages
    train_ds = make_dataset(train_ids, tokenizer, config.max_length, config.batch_size, shuffle=True,
                            seed=config.seed, repeat=bool(config.steps_per_epoch), length_multiple=multiple)
    val_ds = make_dataset(_tokenize("validation", val_texts, tokenizer, config, log), tokenizer, config.max_length,
                          config.batch_size, shuffle=False, length_multiple=multiple)
    # A full pass has one batch per `batch_size` texts of each length bucket (the last one of a bucket may be short).
    steps_per_epoch = config.steps_per_epoch or int(train_ds.cardinality())

    with distribution_strategy_scope():
        model = TextAutoencoder(config, tokenizer, metadata={"corpus": corpus, "text_key": text_key})
        model.build()
        compile_model(model, config, steps_per_epoch * config.epochs, jit_compile)
        if config.bow_weight > 0 and config.bow_idf:
            model.set_bag_of_tokens_idf(train_ids)  # a resumed run restores the same values from its backup
    kind = "hyper" if config.hyper else "plain Conv1D ablation"
    if model.bow_head is not None:
        kind += f"; {model.bow_head.count_params():,} of them in the training-only bag-of-tokens head"
    log(f"model: {model.count_params():,} parameters ({kind})")

    best = os.path.join(output, MODEL_FILE)
    backup_dir = os.path.join(output, BACKUP_DIR)
    epochs_done, history = restore_backup(model, backup_dir) if resume else (0, [])
    if resume:
        log(f"resume: restored the backup after epoch {epochs_done} (optimizer step "
            f"{int(model.optimizer.iterations):,}); continuing with epoch {epochs_done + 1} of {config.epochs}")
    _write_json_atomically(os.path.join(output, CONFIG_FILE), {
        "corpus": corpus, "text_key": text_key, "backend": keras.backend.backend(), "jit_compile": jit_compile,
        "mixed_precision": mixed_precision, **config.to_dict()})
    history_csv = os.path.join(output, HISTORY_FILE)
    write_history_csv(history_csv, history)  # drops rows of epochs that the backup does not hold
    callbacks = [
        StopOnNonFiniteLoss(best),
        AtomicBestCheckpoint(best, best=min((row["val_loss"] for row in history
                                             if math.isfinite(row.get("val_loss", math.nan))), default=math.inf)),
        # Kept after a finished run too, so `--resume --epochs N` can extend it.
        RunBackup(backup_dir, history_csv, history),
        keras.callbacks.TensorBoard(os.path.join(output, "logs"), write_graph=False, profile_batch=0),
    ]
    if epochs_done < config.epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=epochs_done,
                  shuffle=False,  # the tf.data pipeline shuffles, seeded; Keras would only warn
                  steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
                  callbacks=callbacks, verbose=verbose)
    if not os.path.isfile(best):
        raise TrainingError("Training produced no checkpoint: the validation loss was never finite.")
    plot_curves(history_csv, os.path.join(output, "curves.png"))
    return best
