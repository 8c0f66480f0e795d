"""Calibrates the int8/uint8 ranges of a checkpoint (`TextAutoencoder.calibrate_vectors`) on its own training
texts, and rewrites it in place, atomically. `train.py` does this at the end of every run; this script does it for a
checkpoint written before that step existed (the shipped presets, 2026-12-02).

    python data/calibrate_vectors.py --model data/pretrained/hypertext-english.keras [--limit 20000] [--seed 0]

The training texts are the train split of the corpus the checkpoint's metadata names (`metadata["corpus"]`,
e.g. "everyday+wordnet"), or of `--corpus`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hypertext  # noqa: E402
from hypertext.data import load_texts  # noqa: E402
from hypertext.training.run_dir import save_model_atomically  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the .keras file to calibrate (rewritten in place)")
    p.add_argument("--corpus", help="the corpus of the training texts (default: the checkpoint's metadata)")
    p.add_argument("--limit", type=int, default=20_000, help="texts sampled from the train split (default 20,000)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    start = time.time()
    model = hypertext.load(args.model)
    corpus = args.corpus or model.metadata["corpus"]
    texts = load_texts(corpus, "train", text_key=model.metadata.get("text_key", "text"))
    model.calibrate_vectors(texts, limit=args.limit, seed=args.seed)
    save_model_atomically(model, args.model)
    print(f"{args.model}: int8 ranges of {model.metadata['vector_ranges_texts']:,} train-split texts of {corpus} "
          f"({', '.join(model.metadata['vector_ranges'])}) in {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
