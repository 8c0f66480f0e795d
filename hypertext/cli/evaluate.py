"""Evaluate a trained hypertext autoencoder (`hypertext-evaluate`, or `python evaluate.py` in the repository):
reconstruction metrics, and optionally the lexname probe.

    hypertext-evaluate --checkpoint runs/default/model.keras         # validation split of its training corpus
    hypertext-evaluate --checkpoint PATH --corpus my.txt --limit 2000 --json out.json
    hypertext-evaluate --checkpoint PATH --split test --probe --examples 5
    hypertext-evaluate --checkpoint wordnet --split test --probe --by-length --noise   # the shipped preset
    hypertext-evaluate --checkpoint wordnet --corpus data/dev/stdlib-docstrings.txt --split all   # a held-out file
    hypertext-evaluate --checkpoint runs/default/model.keras --latent   # how decodable the latent space is

The last line of stdout is one JSON object: num_examples, token_accuracy, exact_match, bleu, chrf, seconds (and the
probe's accuracies with --probe, `by_length` with --by-length, `noise_retrieval` with --noise, `latent` with
--latent).
"""

import argparse
import json
import sys
import warnings

from hypertext.cli.runner import run_tool

PROG = "hypertext-evaluate"
LATENT_TEXTS, LATENT_PIECES = 500, 24  # the latent report's protocol: 500 texts of <= 24 pieces, 250 midpoint pairs


def parse_args(argv=None, prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a model.keras written by train.py, or a preset name")
    p.add_argument("--corpus", help="defaults to the corpus the model was trained on")
    p.add_argument("--text-key", help="the text feature of a TFDS dataset")
    p.add_argument("--split", default="validation", choices=["train", "validation", "test", "all"],
                   help="'all': every text of the corpus, e.g. a held-out file of one text per line")
    p.add_argument("--limit", type=int, default=0, help="evaluate the first N texts (0 = all)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--examples", type=int, default=0, help="print N original -> reconstruction pairs first")
    p.add_argument("--probe", action="store_true",
                   help="WordNet lexname linear probe on encode() vectors, next to a TF-IDF baseline")
    p.add_argument("--by-length", action="store_true",
                   help="BLEU and exact match per length bucket (<=8, 9-16, 17-32, 33-64, 65-128, >128 pieces)")
    p.add_argument("--noise", action="store_true",
                   help="recall@1 of retrieving each text among 1,000 from a copy with 10%% of its tokens dropped")
    p.add_argument("--context-ablation", action="store_true",
                   help="token accuracy when the hyper layers get the batch's mean context instead of each sample's")
    p.add_argument("--latent", action="store_true",
                   help="the latent space report (hypertext.latent_evaluation.latent_report) on the first --limit "
                        f"(default {LATENT_TEXTS}) texts of at most {LATENT_PIECES} pieces: BLEU under noise, word "
                        "validity of interpolation midpoints (half as many pairs as texts) and of 200 samples from "
                        "the prior, their novelty; words and novelty against the train split of the corpus the "
                        "model was trained on (its metadata)")
    p.add_argument("--json", help="also write the JSON object to this file")
    p.add_argument("--tf-logs", action="store_true",
                   help="keep TensorFlow's own log lines (C++ info, warnings and errors; deprecation notices). Without "
                        "it they are hidden: an unset TF_CPP_MIN_LOG_LEVEL becomes 3")
    return p.parse_args(argv)


def main(argv=None, prog=PROG):
    """The tool in-process. Returns the exit code: 0, or 2 with one line on stderr for a bad checkpoint or corpus."""
    args = parse_args(argv, prog)
    import hypertext
    from hypertext import evaluation
    from hypertext.data import load_texts

    try:
        model = hypertext.load(args.checkpoint)
        if args.latent and not model.prior.fitted:
            raise ValueError(f"{args.checkpoint!r} has no fitted latent prior, which --latent samples from: "
                             "train.py fits it at the end of a run (TextAutoencoder.fit_latent_space).")
        corpus = args.corpus or model.metadata.get("corpus", "wordnet")
        text_key = args.text_key or model.metadata.get("text_key", "text")
        splits = ("train", "validation", "test") if args.split == "all" else (args.split,)
        texts = [t for split in splits for t in load_texts(corpus, split, text_key=text_key)][: args.limit or None]
    except (ValueError, FileNotFoundError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics, references, hypotheses = evaluation.reconstruction_metrics(model, texts, args.batch_size,
                                                                           return_outputs=True)
    for ref, hyp in list(zip(references, hypotheses))[: args.examples]:
        print(f"  {ref}\n-> {hyp}\n")
    metrics.update({"corpus": corpus, "split": args.split})
    if args.by_length:
        metrics["by_length"] = evaluation.metrics_by_length(model, texts, batch_size=args.batch_size)
    if args.noise:
        metrics["noise_retrieval"] = evaluation.noise_retrieval(model, texts, batch_size=args.batch_size)
    if args.context_ablation:
        metrics["context_ablation"] = evaluation.context_ablation(model, texts, batch_size=args.batch_size)
    if args.probe:
        metrics.update(evaluation.lexname_probe(model))
    if args.latent:
        # The word list and novelty come from the corpus the model trained on (its metadata), else --corpus.
        trained_on = model.metadata.get("corpus", corpus)
        metrics["latent"] = latent_report(model, texts, load_texts(trained_on, "train", text_key=text_key), args.limit)
        metrics["latent"]["training_corpus"] = trained_on
        print(json.dumps({"latent": metrics["latent"]}, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)
    print(json.dumps(metrics))
    return 0


def latent_report(model, texts, train_texts, limit=0):
    """`hypertext.latent_evaluation.latent_report` on the first `limit` (default `LATENT_TEXTS`) of `texts` that
    have at most `LATENT_PIECES` pieces, with one midpoint pair per two texts."""
    from hypertext import latent_evaluation

    pieces = model.tokenizer.encode(texts)
    short = [t for t, p in zip(texts, pieces) if len(p) <= LATENT_PIECES][: limit or LATENT_TEXTS]
    return latent_evaluation.latent_report(model, short, train_texts, pairs=max(len(short) // 2, 1))


def run(argv=None, prog=PROG):
    """The console script (see `hypertext.cli.runner.run_tool`)."""
    return run_tool(parse_args, main, argv, prog)


if __name__ == "__main__":
    sys.exit(run())
