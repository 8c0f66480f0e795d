"""The trainer: `train()` runs a whole run step by step (data, tokenizer, model, compile, fit, checkpoints),
with `compile_model` and its learning-rate schedule, `get_tokenizer`, and the warm start of `init_from`.
"""

import math
import os
import time
import warnings

import keras
import numpy as np

from hypertext import __version__, configs
from hypertext.configs import ModelConfig
from hypertext.backend_utils import device_description, has_tensorflow
from hypertext.data.corpus_data import read_corpus
from hypertext.models import AutoencoderTask
from hypertext.models.autoencoder_task import VERSION_KEY
from hypertext.tokenizers import SentencePieceTokenizer
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID
from hypertext.training.callbacks import AtomicBestCheckpoint, RunBackup, StopOnNonFiniteLoss, restore_backup
from hypertext.training.distribution import setup_distribution
from hypertext.training.errors import OutputDirError, TrainingError
from hypertext.training.plots import plot_curves
from hypertext.training.run_lock import claim_run_folder
from hypertext.training.run_dir import (BACKUP_DIR, CONFIG_FILE, HISTORY_FILE, MODEL_FILE, TOKENIZER_FILE,
                                        prepare_output_dir, remove_stale_temporary_files, save_model_atomically,
                                        write_history_csv, write_json_atomically)


def learning_rate_schedule(config, total_steps):
    """Linear warm-up to `learning_rate`, then cosine decay to 10% of it."""
    warmup = max(1, min(config.warmup_steps, total_steps // 2))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.01, decay_steps=max(1, total_steps - warmup), alpha=0.1,
        warmup_target=config.learning_rate, warmup_steps=warmup)


def compile_model(task, config, total_steps, jit_compile="auto"):
    """Compiles an `AutoencoderTask` with Adam (AdamW with `weight_decay`) on `learning_rate_schedule`.

    `jit_compile` is Keras' (`True`, `False` or `"auto"`). `"auto"` compiles the train step with XLA on JAX, where
    the alternative is op-by-op eager execution (the `tiny` model's train step on a 2-core CPU: 0.73 s eager against
    12 ms jitted), and on TensorFlow with a GPU; not on TensorFlow CPU (a `tf.function` graph) or PyTorch."""
    schedule = learning_rate_schedule(config, total_steps)
    if config.weight_decay:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(schedule)
    return task.compile_for_training(optimizer, jit_compile=jit_compile)


def get_tokenizer(output, data, config, log=print, init_model=None, save=True):
    """Loads `output/tokenizer.model` when it exists (a resumed run), else takes `init_model`'s tokenizer (a warm
    start) or has the run's data (`CorpusData.train_tokenizer`) train one and, with `save`, saves it there. (The trainer is seeded and single-threaded: the same texts
    and config give the same tokenizer, which is how the processes of a multi-worker run other than the chief get the
    chief's without writing it.)"""
    path = os.path.join(output, TOKENIZER_FILE)
    if os.path.isfile(path):
        log(f"tokenizer: loaded {path}")
        return SentencePieceTokenizer(proto=path)
    start = time.time()
    if init_model is not None:
        tokenizer = init_model.tokenizer
    else:
        tokenizer = data.train_tokenizer(config)
    if save:
        with open(path + ".tmp", "wb") as f:
            f.write(tokenizer.proto)
        os.replace(path + ".tmp", path)
    log(f"tokenizer: {'from init_from' if init_model is not None else 'trained'} {tokenizer.vocab_size} pieces in "
        f"{time.time() - start:.1f}s" + (f" -> {path}" if save else " (not saved: process 0 saves it)"))
    return tokenizer


def load_init_model(path, config):
    """The checkpoint that `train(init_from=...)` starts from: a path or preset name, whose model config must match
    `config`'s (the training and objective configs may differ; so may `semantic_width` where the checkpoint has
    none, and the fields that do not shape weights: `reconstruct_window`, `dropout`)."""
    import hypertext

    source = hypertext.load(path)
    for name in ModelConfig.__dataclass_fields__:
        if name in ("reconstruct_window", "dropout") or (name == "semantic_width"
                                                         and source.config.semantic_width == 0):
            continue  # a semantic path the source lacks starts at zero: the same model to begin with
        if name in ("embedding_dim", "embedding_width") and source.config.embedding_dim == 0:
            continue  # a sentence-embedding head the source lacks is new; z and the decoder do not read it
        if getattr(source.config, name) != getattr(config, name):
            raise ValueError(f"`init_from` must be a checkpoint of the same architecture as the config. {path!r} has "
                             f"{name}={getattr(source.config, name)!r}. Received: {name}={getattr(config, name)!r}")
    return source


def warm_start(backbone, source):
    """Copies the weights of `source` (a `HypertextBackbone` of the same architecture) into `backbone`. A semantic
    path (`semantic_width`) or sentence-embedding head (`embedding_dim`) that the source lacks keeps its
    initialisation (both output layers start at zero). The
    objectives' training-only heads are not in a checkpoint: they keep their initialisation. Returns how many
    variables were copied. Both backbones are built by the same code, so their variables come in the same order;
    every shape is checked."""
    new_path = ((backbone.semantic_in, backbone.semantic_out)
                if source.semantic_in is None and backbone.semantic_in is not None else ())
    if source.embedding_pieces is None and backbone.embedding_pieces is not None:
        new_path += (backbone.embedding_pieces, backbone.embedding_in, backbone.embedding_out)
    skip = {id(v) for layer in new_path for v in layer.weights}
    network = [v for v in backbone.weights if id(v) not in skip]
    pairs = list(zip(network, source.weights))
    if len(network) != len(source.weights) or any(tuple(a.shape) != tuple(b.shape) for a, b in pairs):
        raise ValueError("`init_from` must be a checkpoint of the same architecture: its weights do not match "
                         "the model's.")
    for variable, value in pairs:
        variable.assign(value)
    return len(pairs)


def _check_visible_run(output):
    """A multi-worker process other than the chief resumes from the chief's files: it must see them."""
    if not os.path.isdir(os.path.join(output, BACKUP_DIR)):
        raise OutputDirError(f"--resume: this process cannot see the run's backup in {output!r}. Every process of a "
                             "multi-worker run reads it: put --output on a shared filesystem, or copy the run folder "
                             "to the same path on every machine.")


def train(corpus="wordnet", output="runs/default", config=None, text_key="text", resume=False, jit_compile="auto",
          mixed_precision=False, encoding_errors="strict", verbose=1, log=print, distribute="none",
          cpu_devices=None, init_from=None):
    """Trains (or resumes) a text autoencoder (an `AutoencoderTask`) and writes everything to `output`: the best
    `TextAutoencoder` (`model.keras`), the backup, the history. Returns the best model's path.

    Args:
        jit_compile: Keras' `jit_compile` for the train step: `"auto"` (XLA on JAX, not on TensorFlow CPU or
            PyTorch; see `compile_model`), `True` (XLA everywhere; `train.py --jit`) or `False`. `config.json`
            records what it resolved to.
        distribute: "none" (one device), "mirrored" (data parallel over this machine's devices) or "multi-worker"
            (several processes, JAX; from Keras' environment variables): see `hypertext.training.distribution`.
            The global batch stays `config.batch_size` and must split evenly over the replicas. A distributed run
            drops each length bucket's short last batch, so every batch splits evenly (with `steps_per_epoch`
            there are none). In a multi-worker run only process 0 writes into `output`; call `train` first thing
            in each process, and once.
        cpu_devices: None, or split the CPU into this many logical devices before the backend starts (to try
            `distribute="mirrored"` without accelerators).
        init_from: a checkpoint path or preset name to start from (fine-tuning, e.g. with new objectives): its
            weights and tokenizer, with the schedule and objectives of `config`. Its architecture fields must match
            `config`'s.

    Raises:
        ValueError (OutputDirError included): bad settings, corpus or output folder; raised before training starts.
        TrainingError: a non-finite loss, a checkpoint that could not be written, or a multi-worker run whose
            processes lost each other. What was saved is kept.

    With `mixed_precision`, the global dtype policy is mixed while the run builds and trains its model, and is
    set back to what it was when `train` returns or raises.
    """
    previous_policy = keras.config.dtype_policy()
    try:
        return _train(corpus, output, config, text_key, resume, jit_compile, mixed_precision, encoding_errors,
                      verbose, log, distribute, cpu_devices, init_from)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _train(corpus, output, config, text_key, resume, jit_compile, mixed_precision, encoding_errors, verbose, log,
           distribute, cpu_devices, init_from):
    config = configs.validate(config or configs.get_config("small"))
    dist = setup_distribution(distribute, cpu_devices, config.batch_size)
    if dist.is_chief:
        claim_run_folder(output, log)  # held until the process ends (or `release_run_folder`)
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
    data = read_corpus(corpus, config, text_key=text_key, errors=encoding_errors, log=log)
    init_model = load_init_model(init_from, config) if init_from and not resume else None
    tokenizer = get_tokenizer(output, data, config, log, init_model, save=dist.is_chief)
    dist.check_same_everywhere(tokenizer.proto, "tokenizer")
    # Batches are bucketed by length (one padded length per bucket, a multiple of 2**num_stages), so a batch of
    # short texts costs a fraction of a batch of long ones. With the contrastive loss, each text comes with a positive.
    # A distributed run gets full batches only (each splits evenly over the replicas and processes).
    teacher = None
    if config.distill_weight > 0:
        from hypertext.models.objectives.teacher import teacher_vectors as teacher
    train_ds, val_ds, steps_per_epoch, idf_ids = data.batches(tokenizer, config, log,
                                                              distributed=dist.strategy != "none",
                                                              processes=dist.num_processes, teacher=teacher)

    best = os.path.join(output, MODEL_FILE)
    history_csv = os.path.join(output, HISTORY_FILE)
    with dist.scope():
        model = AutoencoderTask(config, tokenizer,
                                metadata={"corpus": corpus, "text_key": text_key, VERSION_KEY: __version__})
        model.build()
        compile_model(model, config, steps_per_epoch * config.epochs, jit_compile)
        if init_model is not None:
            log(f"init_from: copied {warm_start(model.backbone, init_model.backbone)} of "
                f"{len(model.backbone.weights)} weights from {init_from!r}")
        if model.backbone.embedding_pieces is not None and not resume and (
                init_model is None or init_model.backbone.embedding_pieces is None):
            init_piece_vectors(model.backbone, tokenizer, log)
        bag = model.objective("bag_of_tokens")
        if bag is not None and config.bow_idf:
            bag.set_idf(idf_ids)  # a resumed run restores the same values from its backup
        kind = "hyper" if config.hyper else "plain Conv1D ablation"
        heads = model.count_params() - model.backbone.count_params()
        if heads:
            kind += f"; {heads:,} of them in training-only objective heads"
        log(f"model: {model.count_params():,} parameters ({kind})")

        backup_dir = os.path.join(output, BACKUP_DIR)
        epochs_done, history = restore_backup(model, backup_dir, log) if resume else (0, [])
        if resume:
            log(f"resume: restored the backup after epoch {epochs_done} (optimizer step "
                f"{int(model.optimizer.iterations):,}); continuing with epoch {epochs_done + 1} of {config.epochs}")
        callbacks = [StopOnNonFiniteLoss(best)]
        if dist.is_chief:
            write_json_atomically(os.path.join(output, CONFIG_FILE), {
                "corpus": corpus, "text_key": text_key, "backend": keras.backend.backend(), "strategy": dist.strategy,
                "num_replicas": dist.num_replicas, "num_processes": dist.num_processes,
                "jit_compile": model.jit_compile,
                "mixed_precision": mixed_precision, **config.to_dict()})
            write_history_csv(history_csv, history)  # drops rows of epochs that the backup does not hold
            callbacks += [
                AtomicBestCheckpoint(best, best=min((row["val_loss"] for row in history
                                                     if math.isfinite(row.get("val_loss", math.nan))),
                                                    default=math.inf), context=dist.local),
                # Kept after a finished run too, so `--resume --epochs N` can extend it.
                RunBackup(backup_dir, history_csv, history, context=dist.local),
            ]
            if has_tensorflow():  # Keras' TensorBoard callback writes with tf.summary
                callbacks.append(keras.callbacks.TensorBoard(os.path.join(output, "logs"), write_graph=False,
                                                             profile_batch=0))
            else:
                log("TensorBoard logs: skipped (they need TensorFlow, which is not installed)")
        if epochs_done < config.epochs:
            _fit(model, dist, train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=epochs_done,
                 shuffle=False,  # the input pipeline shuffles, seeded; Keras would only warn
                 steps_per_epoch=steps_per_epoch if config.steps_per_epoch or data.stream is not None else None,
                 callbacks=callbacks, verbose=verbose)
    dist.finish()
    if dist.is_chief:
        if not os.path.isfile(best):
            raise TrainingError("Training produced no checkpoint: the validation loss was never finite.")
        plot_curves(history_csv, os.path.join(output, "curves.png"))
        fit_latent_space(best, data.train if data.train is not None else data.tokenizer_texts, config.seed, log)
    return best


def fit_latent_space(path, texts, seed, log=print):
    """Fits the latent prior, builds the lexicon and calibrates the int8 ranges of the checkpoint at `path` from the
    training texts (see `TextAutoencoder.fit_latent_space` and `calibrate_vectors`), and rewrites it in place,
    atomically."""
    import hypertext

    start = time.time()
    model = hypertext.load(path).fit_latent_space(texts, seed=seed).calibrate_vectors(texts, seed=seed)
    save_model_atomically(model, path)
    log(f"latent space: prior fitted, lexicon of {len(model.lexicon.words):,} words built and int8 ranges calibrated "
        f"in {time.time() - start:.0f}s -> {path}")


def init_piece_vectors(backbone, tokenizer, log=print):
    """Starts the sentence-embedding head's per-piece vectors from the teacher: each piece's vector is the teacher's
    (unit) vector of the piece's text read as a sentence (special and byte pieces get zeros), so that the head's
    mean of them is a static sentence vector in the teacher's space from the first step, which distillation then
    refines (as model2vec distils static vectors from a sentence encoder)."""
    from hypertext.models.objectives.teacher import teacher_vectors

    processor = tokenizer.processor
    pieces = [processor.id_to_piece(i).replace("\u2581", " ").strip() for i in range(tokenizer.vocab_size)]
    usable = [i for i, piece in enumerate(pieces) if i > EOS_ID and not processor.is_byte(i) and piece]
    table = np.zeros((tokenizer.vocab_size, backbone.config.embedding_dim), "float32")
    table[usable] = teacher_vectors([pieces[i] for i in usable], log=log).astype("float32")
    backbone.embedding_pieces.embeddings.assign(table)
    log(f"embedding head: {len(usable):,} piece vectors from the teacher")


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
