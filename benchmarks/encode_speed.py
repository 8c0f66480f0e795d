"""Encode speed as a user meets it: a fresh process per encoder that loads it, makes a first call, then encodes N texts.
The three are timed apart: loading (model2vec's includes its distillation from MiniLM, ONNX's its export on first
use), the first call (one pass over a sample of the texts that spans their lengths, where TensorFlow traces and
compiles), and the encode itself, on which texts/s and the ratios are computed.

Each encoder runs `--rounds` times, interleaved (encoder A, B, ..., then again), and the median is kept; the table gives
texts/s and the multiples of all-MiniLM-L6-v2's, in sentence-transformers' default float32 PyTorch path and through
ONNX Runtime with int8 weights (`benchmarks/minilm_onnx.py`). The texts are the first N of a corpus split (default:
the everyday corpus's test split, which no preset trained on).

    python benchmarks/encode_speed.py                                  # english, wordnet and the baselines
    python benchmarks/encode_speed.py --model english --texts 5000 --json benchmarks/results/encode_speed.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import MINILM, MINILM_ONNX, speed_table  # noqa: E402

MODEL2VEC = "model2vec (MiniLM distilled, PCA 256)"
# --baselines key -> the encoder's name in the table
BASELINES = {"minilm": MINILM, "minilm-onnx": MINILM_ONNX, "model2vec": MODEL2VEC}
WARMUP_TEXTS = 512


def load_encoder(name, batch_size, onnx_dir):
    """`name`'s encode function (texts -> vectors): a preset or .keras path, or one of `BASELINES`."""
    if name == MINILM:
        from hypertext.models.objectives.teacher import load_teacher

        return load_teacher(batch_size)
    if name == MINILM_ONNX:
        from minilm_onnx import load_minilm_onnx

        return load_minilm_onnx(onnx_dir, batch_size)
    if name == MODEL2VEC:
        from vectors import load_model2vec

        encode, reason = load_model2vec(batch_size)
        if encode is None:
            raise ImportError(reason)
        return encode
    import hypertext

    model = hypertext.load(name)
    return lambda texts: model.encode(texts, batch_size=batch_size)


def warmup_texts(texts, count=WARMUP_TEXTS):
    """About `count` texts spread evenly over `texts` sorted by length: one pass meets every length bucket."""
    ordered = sorted(texts, key=len)
    return ordered[::max(1, len(ordered) // count)]


def child(name, corpus, split, count, batch_size, onnx_dir):
    """Runs in the fresh process: prints the seconds that loading `name`, its first call and the encode took."""
    sys.path.insert(0, ROOT)
    from hypertext.data import load_texts

    texts = list(load_texts(corpus, split, limit=count))
    start = time.perf_counter()
    encode = load_encoder(name, batch_size, onnx_dir)
    loaded = time.perf_counter()
    encode(warmup_texts(texts))
    warm = time.perf_counter()
    vectors = encode(texts)
    done = time.perf_counter()
    print(json.dumps({"load": loaded - start, "first_call": warm - loaded, "seconds": done - warm,
                      "texts": len(vectors)}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="english,wordnet", help="presets or .keras paths, comma-separated")
    parser.add_argument("--corpus", default="everyday")
    parser.add_argument("--split", default="test")
    parser.add_argument("--texts", type=int, default=24220, help="how many texts (issue #22 timed 24,220)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated, of: {', '.join(BASELINES)} ('' for none)")
    parser.add_argument("--onnx-dir", default=os.path.join(tempfile.gettempdir(), "hypertext-minilm-onnx"),
                        help="where MiniLM's ONNX export is kept between runs (made on first use, in its load time)")
    parser.add_argument("--json", help="also save the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.corpus, args.split, args.texts, args.batch_size, args.onnx_dir)
    keys = [b for b in args.baselines.split(",") if b]
    unknown = sorted(set(keys) - set(BASELINES))
    if unknown:
        parser.error(f"--baselines must name some of {', '.join(BASELINES)}. Received: --baselines={args.baselines}")
    names = args.model.split(",") + [BASELINES[key] for key in keys]
    times = {name: [] for name in names}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for _ in range(args.rounds):
        for name in names:
            out = subprocess.run([sys.executable, __file__, "--child", name, "--corpus", args.corpus, "--split",
                                  args.split, "--texts", str(args.texts), "--batch-size", str(args.batch_size),
                                  "--onnx-dir", args.onnx_dir], capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(f"encode_speed: {name} failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            times[name].append(result)
            count = result["texts"]
    rows = []
    for name, results in times.items():
        median = {key: statistics.median(r[key] for r in results) for key in ("load", "first_call", "seconds")}
        rows.append({"encoder": name, **{k: round(v, 2) for k, v in median.items()},
                     "texts_per_second": round(count / median["seconds"], 1)})
    print(f"# {count:,} texts of {args.corpus} ({args.split}), batch {args.batch_size}; texts/s of the encode alone "
          f"(load and first call timed apart), median of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print(speed_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"corpus": args.corpus, "split": args.split, "texts": count, "batch_size": args.batch_size,
                       "rounds": args.rounds, "cpus": os.cpu_count(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
