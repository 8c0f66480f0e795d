"""The training loop: `train()` runs a whole run step by step (data, tokenizer, model, compile, fit, checkpoints),
with `compile_model` and its learning-rate schedule, and `get_tokenizer`.

(Named `loop.py`, not `train.py`: the package re-exports the function `train`, which would hide a module of the
same name, so `hypertext.training.train` is always the function.)
"""

import math
import os
import time
import warnings

import keras

from hypertext import __version__, configs
from hypertext.backend_utils import device_description
from hypertext.data import load_texts, make_dataset
from hypertext.data.input_pipeline import encode_ragged
from hypertext.models import TextAutoencoder
from hypertext.saving import VERSION_KEY
from hypertext.tokenizers import SentencePieceTokenizer
from hypertext.training.callbacks import AtomicBestCheckpoint, RunBackup, StopOnNonFiniteLoss, restore_backup
from hypertext.training.distribution import setup_distribution
from hypertext.training.errors import OutputDirError, TrainingError
from hypertext.training.plots import plot_curves
from hypertext.training.run_dir import (BACKUP_DIR, CONFIG_FILE, HISTORY_FILE, MODEL_FILE, TOKENIZER_FILE,
                                        prepare_output_dir, remove_stale_temporary_files, write_history_csv,
                                        write_json_atomically)


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


def get_tokenizer(output, train_texts, config, log=print, save=True):
    """Loads `output/tokenizer.model` when it exists (a resumed run), else trains one and, with `save`, saves it
    there. (The trainer is seeded and single-threaded: the same texts and config give the same tokenizer, which is
    how the processes of a multi-worker run other than the chief get the chief's without writing it.)"""
    path = os.path.join(output, TOKENIZER_FILE)
    if os.path.isfile(path):
        log(f"tokenizer: loaded {path}")
        return SentencePieceTokenizer(proto=path)
    start = time.time()
    tokenizer = SentencePieceTokenizer.from_texts(train_texts, vocab_size=config.vocab_size,
                                             max_training_sentences=config.tokenizer_sentences, seed=config.seed)
    if save:
        with open(path + ".tmp", "wb") as f:
            f.write(tokenizer.proto)
        os.replace(path + ".tmp", path)
    log(f"tokenizer: trained {tokenizer.vocab_size} pieces in {time.time() - start:.1f}s"
        + (f" -> {path}" if save else " (not saved: process 0 saves it)"))
    return tokenizer


def _tokenize(name, texts, tokenizer, config, log):
    ids, truncated = encode_ragged(texts, tokenizer, config.max_length)
    if truncated:
        log(f"{name}: {truncated:,} of {len(texts):,} texts are longer than max_length={config.max_length} pieces "
            "and were truncated")
    return ids


def _check_visible_run(output):
    """A multi-worker process other than the chief resumes from the chief's files: it must see them."""
    if not os.path.isdir(os.path.join(output, BACKUP_DIR)):
        raise OutputDirError(f"--resume: this process cannot see the run's backup in {output!r}. Every process of a "
                             "multi-worker run reads it: put --output on a shared filesystem, or copy the run folder "
                             "to the same path on every machine.")


def _feed(name, ids, dataset, config, log):
    """Says how many texts a distributed run leaves out of each pass (the short batches it drops)."""
    if int(dataset.cardinality()) > 0:
        used = int(dataset.cardinality()) * config.batch_size
        if used < len(ids):
            log(f"{name}: {used:,} of {len(ids):,} texts per pass, in full batches of {config.batch_size} that split "
                f"evenly over the replicas ({len(ids) - used:,} left out: the short last batch of each length bucket"
                + (", a different draw every epoch)" if name == "train" else ")"))


def train(corpus="wordnet", output="runs/default", config=None, text_key="text", resume=False, jit_compile=False,
          mixed_precision=False, encoding_errors="strict", verbose=1, log=print, distribute="none",
          cpu_devices=None):
    """Trains (or resumes) a TextAutoencoder and writes everything to `output`. Returns the best model's path.

    Args:
        distribute: "none" (one device), "mirrored" (data parallel over this machine's devices) or "multi-worker"
            (several processes, JAX; from Keras' environment variables): see `hypertext.training.distribution`.
            The global batch stays `config.batch_size` and must split evenly over the replicas. A distributed run
            drops each length bucket's short last batch, so every batch splits evenly (with `steps_per_epoch`
            there are none). In a multi-worker run only process 0 writes into `output`; call `train` first thing
            in each process, and once.
        cpu_devices: None, or split the CPU into this many logical devices before the backend starts (to try
            `distribute="mirrored"` without accelerators).

    Raises:
        ValueError (OutputDirError included): bad settings, corpus or output folder; raised before training starts.
        TrainingError: a non-finite loss, a checkpoint that could not be written, or a multi-worker run whose
            processes lost each other. What was saved is kept.
    """
    config = configs.validate(config or configs.get_config("small"))
    dist = setup_distribution(distribute, cpu_devices, config.batch_size)
    if dist.is_chief:
        prepare_output_dir(output, resume)
        remove_stale_temporary_files(output)
    elif resume:
        _check_visible_run(output)
    keras.utils.set_random_seed(config.seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_bfloat16" if keras.backend.backend() != "tensorflow" else "mixed_float16")

    log(f"backend: {device_description()}")
    if dist.strategy != "none":
        log(f"distribute: {dist.strategy}, {dist.num_replicas} replicas, global batch {config.batch_size}"
            + (f"; process {dist.process_id} of {dist.num_processes}" if dist.num_processes > 1 else ""))
    train_texts = load_texts(corpus, "train", text_key=text_key, errors=encoding_errors)
    val_texts = load_texts(corpus, "validation", text_key=text_key, errors=encoding_errors)
    for name, texts in (("train", train_texts), ("validation", val_texts)):
        log(f"corpus {corpus!r} {name}: {len(texts):,} texts"
            + "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in texts.stats.items() if k != "texts" and v))
    if not train_texts:
        raise ValueError(f"Corpus {corpus!r} has no training texts: it is empty, or every line is blank.")
    if not val_texts:
        raise ValueError(f"Corpus {corpus!r} has no validation texts; it needs at least ~20 non-empty lines.")

    tokenizer = get_tokenizer(output, train_texts, config, log, save=dist.is_chief)
    dist.check_same_everywhere(tokenizer.proto, "tokenizer")
    train_ids = _tokenize("train", train_texts, tokenizer, config, log)
    val_ids = _tokenize("validation", val_texts, tokenizer, config, log)
    # Batches are bucketed by length (one padded length per bucket, a multiple of 2**num_stages), so a batch of
    # short texts costs a fraction of a batch of long ones.
    multiple = 2 ** config.num_stages
    even = dist.strategy != "none"  # every batch full, so it splits evenly over the replicas (and processes)
    train_ds = make_dataset(train_ids, tokenizer, config.max_length, config.batch_size, shuffle=True,
                            seed=config.seed, repeat=bool(config.steps_per_epoch), drop_remainder=even,
                            length_multiple=multiple)
    val_ds = make_dataset(val_ids, tokenizer, config.max_length, config.batch_size, shuffle=False,
                          drop_remainder=even, length_multiple=multiple)
    if even:
        for name, ids, dataset in (("train", train_ids, train_ds), ("validation", val_ids, val_ds)):
            _feed(name, ids, dataset, config, log)
    # A full pass has one batch per `batch_size` texts of each length bucket (the last one of a bucket may be short).
    steps_per_epoch = config.steps_per_epoch or int(train_ds.cardinality())

    best = os.path.join(output, MODEL_FILE)
    history_csv = os.path.join(output, HISTORY_FILE)
    with dist.scope():
        model = TextAutoencoder(config, tokenizer,
                                metadata={"corpus": corpus, "text_key": text_key, VERSION_KEY: __version__})
        model.build()
        compile_model(model, config, steps_per_epoch * config.epochs, jit_compile)
        if config.bow_weight > 0 and config.bow_idf:
            model.set_bag_of_tokens_idf(train_ids)  # a resumed run restores the same values from its backup
        kind = "hyper" if config.hyper else "plain Conv1D ablation"
        if model.bow_head is not None:
            kind += f"; {model.bow_head.count_params():,} of them in the training-only bag-of-tokens head"
        log(f"model: {model.count_params():,} parameters ({kind})")

        backup_dir = os.path.join(output, BACKUP_DIR)
        epochs_done, history = restore_backup(model, backup_dir) if resume else (0, [])
        if resume:
            log(f"resume: restored the backup after epoch {epochs_done} (optimizer step "
                f"{int(model.optimizer.iterations):,}); continuing with epoch {epochs_done + 1} of {config.epochs}")
        callbacks = [StopOnNonFiniteLoss(best)]
        if dist.is_chief:
            write_json_atomically(os.path.join(output, CONFIG_FILE), {
                "corpus": corpus, "text_key": text_key, "backend": keras.backend.backend(), "strategy": dist.strategy,
                "num_replicas": dist.num_replicas, "num_processes": dist.num_processes, "jit_compile": jit_compile,
                "mixed_precision": mixed_precision, **config.to_dict()})
            write_history_csv(history_csv, history)  # drops rows of epochs that the backup does not hold
            callbacks += [
                AtomicBestCheckpoint(best, best=min((row["val_loss"] for row in history
                                                     if math.isfinite(row.get("val_loss", math.nan))),
                                                    default=math.inf), context=dist.local),
                # Kept after a finished run too, so `--resume --epochs N` can extend it.
                RunBackup(backup_dir, history_csv, history, context=dist.local),
                keras.callbacks.TensorBoard(os.path.join(output, "logs"), write_graph=False, profile_batch=0),
            ]
        if epochs_done < config.epochs:
            _fit(model, dist, train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=epochs_done,
                 shuffle=False,  # the tf.data pipeline shuffles, seeded; Keras would only warn
                 steps_per_epoch=steps_per_epoch if config.steps_per_epoch else None,
                 callbacks=callbacks, verbose=verbose)
    dist.finish()
    if dist.is_chief:
        if not os.path.isfile(best):
            raise TrainingError("Training produced no checkpoint: the validation loss was never finite.")
        plot_curves(history_csv, os.path.join(output, "curves.png"))
    return best


def _fit(model, dist, *args, **kwargs):
    """`model.fit`; in a multi-worker run, a collective that fails (another process died) becomes a TrainingError."""
    if dist.strategy != "multi-worker":
        return model.fit(*args, **kwargs)
    import jax

    with warnings.catch_warnings():
        # Keras shards each global batch between the processes (rebatch + shard), after which tf.data no longer
        # knows the number of batches: Keras then finds the end of every pass by running out, and warns each time.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        try:
            return model.fit(*args, **kwargs)
        except (jax.errors.JaxRuntimeError, ValueError) as e:
            if not any(word in str(e) for word in ("Gloo", "NCCL", "coordination", "Connection", "heartbeat")):
                raise
            raise TrainingError(
                f"Process {dist.process_id} of the multi-worker run lost the others: a process probably died. "
                f"The last backup in the run folder is kept; restart every process with --resume. "
                f"(JAX said: {str(e).strip().splitlines()[0]})") from None
