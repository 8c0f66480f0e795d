"""Encode speed as a user meets it: a fresh process per encoder that loads it and encodes N texts, timed from the
start of loading to the last vector (imports excluded, model loading included).

Each encoder runs `--rounds` times, interleaved (encoder A, B, ..., then again), and the median is kept; the table gives
texts/s and the multiple of all-MiniLM-L6-v2's. The texts are the first N of a corpus split (default: the everyday
corpus's test split, which no preset trained on).

    python benchmarks/encode_speed.py                                  # english, wordnet and MiniLM on 24,220 texts
    python benchmarks/encode_speed.py --model english --texts 5000 --json benchmarks/results/encode_speed.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import MINILM  # noqa: E402


def child(name, corpus, split, count, batch_size):
    """Runs in the fresh process: prints the seconds that loading `name` and encoding the texts took."""
    sys.path.insert(0, ROOT)
    from hypertext.data import load_texts

    texts = list(load_texts(corpus, split, limit=count))
    if name == MINILM:
        from hypertext.models.objectives.teacher import load_teacher

        start = time.perf_counter()
        vectors = load_teacher(batch_size)(texts)
    else:
        import hypertext

        start = time.perf_counter()
        vectors = hypertext.load(name).encode(texts, batch_size=batch_size)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "texts": len(vectors)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="english,wordnet", help="presets or .keras paths, comma-separated")
    parser.add_argument("--corpus", default="everyday")
    parser.add_argument("--split", default="test")
    parser.add_argument("--texts", type=int, default=24220, help="how many texts (issue #22 timed 24,220)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--json", help="also save the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.corpus, args.split, args.texts, args.batch_size)
    names = args.model.split(",") + ([] if args.no_minilm else [MINILM])
    times = {name: [] for name in names}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for _ in range(args.rounds):
        for name in names:
            out = subprocess.run([sys.executable, __file__, "--child", name, "--corpus", args.corpus, "--split",
                                  args.split, "--texts", str(args.texts), "--batch-size", str(args.batch_size)],
                                 capture_output=True, text=True, env=env, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            times[name].append(result["seconds"])
            count = result["texts"]
    rows = [{"encoder": name, "seconds": round(statistics.median(t), 2), "texts_per_second": round(count /
             statistics.median(t), 1)} for name, t in times.items()]
    base = next((r["texts_per_second"] for r in rows if r["encoder"] == MINILM), None)
    print(f"# {count:,} texts of {args.corpus} ({args.split}), batch {args.batch_size}, load included, median of "
          f"{args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print("| encoder | seconds | texts/s | × MiniLM |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['encoder']} | {r['seconds']} | {r['texts_per_second']:,.0f} | "
              + (f"{r['texts_per_second'] / base:.1f}× |" if base else "— |"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"corpus": args.corpus, "split": args.split, "texts": count, "batch_size": args.batch_size,
                       "rounds": args.rounds, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
