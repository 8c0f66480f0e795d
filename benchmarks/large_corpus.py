"""Training from a corpus larger than memory would allow if it were loaded whole: peak memory and time.

Writes a text file of `--gigabytes` (default 2) in /tmp, one text per line: lines of the shipped WordNet glosses and
English corpus (never a fortune file), drawn at random, with numbers mixed in so that few lines repeat. Then runs
`train.py --config tiny --steps-per-epoch 50 --epochs 1` on it under `/usr/bin/time -v` and prints the peak
resident memory, the wall time in all, and the start-up: the seconds before the first training step (reading the
corpus once for its count and the tokenizer's sample, training the tokenizer, building the model). Deletes the file
and the run folder afterwards (`--keep` keeps the file, to rerun with `--corpus`).

    python benchmarks/large_corpus.py                   # 2 GB, the TensorFlow backend
    KERAS_BACKEND=jax python benchmarks/large_corpus.py --gigabytes 0.5
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def write_corpus(path, gigabytes, seed=0):
    """Writes about `gigabytes` GB of text lines to `path`; returns the number of lines. A block of a million lines
    (texts with a random number put between two of their words) is written again and again, shuffled each time."""
    from hypertext.data import load_texts

    texts = [text for split in ("train", "validation", "test") for text in load_texts("wordnet+english", split)]
    rng = random.Random(seed)
    block = []
    for text in rng.choices(texts, k=1_000_000):
        words = text.split()
        words.insert(rng.randrange(len(words) + 1), str(rng.randrange(10 ** rng.randrange(1, 7))))
        block.append(" ".join(words))
    target, written, lines = int(gigabytes * 1e9), 0, 0
    with open(path, "wb") as f:
        while written < target:
            rng.shuffle(block)
            data = ("\n".join(block) + "\n").encode("utf-8")[:target - written]
            f.write(data)
            written += len(data)
            lines += data.count(b"\n")
    return lines


def run_training(corpus, output, args):
    """Runs train.py under /usr/bin/time -v. Returns (exit code, peak RSS in GB, wall seconds, start-up seconds, CPU
    seconds (user + system; on a shared machine the wall time also counts the other processes' turns))."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        command = ["/usr/bin/time", "-v", "-o", report.name, sys.executable, os.path.join(ROOT, "train.py"),
                   "--corpus", corpus, "--output", output, "--config", "tiny", "--steps-per-epoch",
                   str(args.steps), "--epochs", "1", "--eval-limit", str(args.eval_limit), "--verbose", "2"]
        start, first_step = time.time(), None
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        for line in process.stdout:
            print("  | " + line, end="")
            if first_step is None and line.startswith("model:"):  # the last line before model.fit
                first_step = time.time() - start
        code = process.wait()
        wall = time.time() - start
        text = report.read()
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", text).group(1)) for kind in ("User", "System"))
    return code, peak_kb / 1e6, wall, first_step, cpu


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gigabytes", type=float, default=2.0)
    p.add_argument("--steps", type=int, default=50, help="training steps (one epoch)")
    p.add_argument("--eval-limit", type=int, default=500, help="validation texts evaluated at the end")
    p.add_argument("--corpus", help="an existing corpus file to train on instead of writing one (kept)")
    p.add_argument("--keep", action="store_true", help="keep the generated file")
    args = p.parse_args()

    corpus = args.corpus
    if corpus is None:
        corpus = os.path.join(tempfile.gettempdir(), f"hypertext-large-corpus-{os.getpid()}.txt")
        start = time.time()
        lines = write_corpus(corpus, args.gigabytes)
        print(f"wrote {corpus}: {os.path.getsize(corpus) / 1e9:.2f} GB, {lines:,} lines in {time.time() - start:.0f}s")
    output = tempfile.mkdtemp(prefix="hypertext-large-run-")
    try:
        code, peak_gb, wall, startup, cpu = run_training(corpus, os.path.join(output, "run"), args)
    finally:
        shutil.rmtree(output, ignore_errors=True)
        if args.corpus is None and not args.keep:
            os.remove(corpus)
    size = os.path.getsize(corpus) / 1e9 if os.path.exists(corpus) else args.gigabytes
    print(f"corpus {size:.2f} GB, train.py --config tiny, {args.steps} steps, backend "
          f"{os.environ.get('KERAS_BACKEND', 'tensorflow')}: exit {code}, peak RSS {peak_gb:.2f} GB, "
          f"wall {wall:.0f} s in all (CPU {cpu:.0f} s), start-up (before the first step) {startup or float('nan'):.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
