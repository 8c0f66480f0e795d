"""What becomes of a sentence vector after the network: truncation (`truncate_dim`), unit length (`normalize`),
quantisation (`precision`), and a progress bar. `TextAutoencoder.encode` and `hypertext-encode` both use these
functions on NumPy arrays, so the Python API and the command line give the same bytes.

The conventions are those users of sentence vectors know from sentence-transformers (`encode(precision=...,
truncate_dim=..., show_progress_bar=...)` and `quantize_embeddings`), in this order: truncate, then normalise, then
quantise.

- `precision="float32"`: the vectors as they are.
- `"int8"` / `"uint8"`: each dimension mapped linearly from its calibrated range `[low, high]` onto 256 levels
  (`int8`: -128..127, `uint8`: 0..255), values outside the range clipped (a dimension constant on the calibration
  texts gets the middle level, 0 in int8). `dequantize` maps levels back to values. The ranges are per-dimension minima and
  maxima of vectors of training texts, measured once by `calibrate` and saved in the checkpoint's metadata
  (`metadata["vector_ranges"]`), one set for each kind of vector (`embedding`, `latent`), raw and unit-length, at
  each width the model can be truncated to.
- `"binary"` / `"ubinary"`: one bit per dimension, 1 where the value is > 0, packed 8 to a byte (`np.packbits`,
  first dimension in the high bit): `ubinary` as uint8, `binary` as int8 (the uint8 value minus 128). The width is
  `ceil(dim / 8)` bytes.
- `truncate_dim`: the first `truncate_dim` dimensions. Only a head trained for it (a Matryoshka objective) keeps
  its meaning in a prefix; such a model lists the widths it was trained at in `metadata["matryoshka_dims"]`, and
  `truncate_dim` must be one of those (or the full width). For any other model it is an error.
"""

import sys
import time

import numpy as np

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
CALIBRATED = ("int8", "uint8")
RANGES_KEY = "vector_ranges"
MATRYOSHKA_KEY = "matryoshka_dims"
KINDS = ("embedding", "latent")


def check_precision(precision):
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {', '.join(repr(p) for p in PRECISIONS)}. "
                         f"Received: precision={precision!r}")
    return precision


def matryoshka_dims(metadata):
    """The widths a model's sentence-embedding head was trained to be truncated to (`metadata["matryoshka_dims"]`),
    sorted; empty for a model that declares none."""
    return sorted(int(d) for d in (metadata or {}).get(MATRYOSHKA_KEY, ()))


def check_truncate_dim(truncate_dim, dim, metadata, kind="embedding"):
    """`truncate_dim` checked against a vector of width `dim` of a model with `metadata`: None (no truncation), or
    a width the model declares it was trained at (or `dim` itself). Returns the width the vectors will have."""
    if truncate_dim is None:
        return dim
    if isinstance(truncate_dim, bool) or not isinstance(truncate_dim, (int, np.integer)) or not 1 <= truncate_dim:
        raise ValueError(f"`truncate_dim` must be None or a positive integer. Received: truncate_dim={truncate_dim!r}")
    truncate_dim = int(truncate_dim)
    if truncate_dim == dim:
        return dim
    if truncate_dim > dim:
        raise ValueError(f"`truncate_dim` must be at most the vectors' width, {dim}. "
                         f"Received: truncate_dim={truncate_dim}")
    dims = matryoshka_dims(metadata) if kind == "embedding" else []
    if not dims:
        raise ValueError(
            f"`truncate_dim` needs a model whose {'sentence-embedding head' if kind == 'embedding' else 'vectors'} "
            f"was trained to be truncated (a Matryoshka objective; such a model lists its widths in "
            f"metadata['{MATRYOSHKA_KEY}']). This model declares none: the first {truncate_dim} of its {dim} "
            f"dimensions are not a smaller vector of the same meaning. Received: truncate_dim={truncate_dim}")
    if truncate_dim not in dims:
        raise ValueError(f"`truncate_dim` must be one of the widths this model was trained at, "
                         f"{', '.join(map(str, dims + [dim]))}. Received: truncate_dim={truncate_dim}")
    return truncate_dim


def range_key(kind, normalize, dim):
    return f"{kind}:{'unit' if normalize else 'raw'}:{dim}"


def unit(vectors):
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def ranges_of(vectors):
    """Per-dimension `[[low, ...], [high, ...]]` of float vectors `(N, dim)`, as JSON-able lists."""
    vectors = np.asarray(vectors, "float32")
    return [vectors.min(axis=0).tolist(), vectors.max(axis=0).tolist()]


def calibration(vectors, kind="embedding", dims=()):
    """The ranges `quantize` needs for int8/uint8, from float32 vectors `(N, dim)` of training texts: raw and unit
    length, at the full width and at each of `dims` (raw vectors truncated are a slice of the full ranges; unit
    vectors are not). Returns `{key: [[low...], [high...]]}` to merge into `metadata["vector_ranges"]`."""
    vectors = np.asarray(vectors, "float32")
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"Calibration needs at least 2 vectors (N, dim). Received: shape={vectors.shape}")
    full = vectors.shape[1]
    out = {range_key(kind, False, full): ranges_of(vectors)}
    for d in sorted({full, *dims}):
        out[range_key(kind, True, d)] = ranges_of(unit(vectors[:, :d]))
    return out


def stored_ranges(metadata, kind, normalize, dim):
    """The calibrated `(low, high)` float32 arrays for vectors of `kind`, unit length or not, of width `dim`, from
    a model's `metadata`; a ValueError if the model was never calibrated for them."""
    ranges = (metadata or {}).get(RANGES_KEY) or {}
    key = range_key(kind, normalize, dim)
    if key not in ranges and not normalize:  # raw ranges of a truncated vector: the first dims of the full ones
        full = [k for k in ranges if k.startswith(f"{kind}:raw:")]
        if full and int(full[0].rsplit(":", 1)[1]) >= dim:
            low, high = ranges[full[0]]
            return np.asarray(low[:dim], "float32"), np.asarray(high[:dim], "float32")
    if key not in ranges:
        raise ValueError(
            f"precision 'int8' and 'uint8' need per-dimension ranges calibrated on training texts, and this model has "
            f"none for {'unit-length ' if normalize else ''}{kind} vectors of width {dim} (metadata['{RANGES_KEY}']"
            f"['{key}']). Calibrate it once: `model.calibrate_vectors(training_texts)` then `model.save(path)`.")
    low, high = ranges[key]
    return np.asarray(low, "float32"), np.asarray(high, "float32")


def quantize(vectors, precision, ranges=None):
    """float32 `(N, dim)` → the vectors at `precision` (see the module docstring); `ranges`: `(low, high)` for int8
    and uint8."""
    precision = check_precision(precision)
    vectors = np.asarray(vectors, "float32")
    if precision == "float32":
        return vectors
    if precision in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1)
        return (packed.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else packed
    low, high = (np.asarray(r, "float32") for r in ranges)
    width = high - low
    live = width > 1e-12  # a dimension that was constant on the calibration texts carries nothing: the middle level
    steps = np.where(live, width, 1.0) / 255.0
    levels = np.where(live, np.clip(np.floor((vectors - low) / steps), 0, 255), 128)
    return (levels - 128).astype(np.int8) if precision == "int8" else levels.astype(np.uint8)


def dequantize(vectors, precision, ranges=None):
    """int8/uint8 vectors of `quantize` → float32 approximations of the originals (each level's midpoint in its
    dimension's range), as scalar-quantising vector stores compare them; binary/ubinary → +-1 per bit (float32,
    `8 * bytes` wide); float32 as it is. (Comparing int8 vectors as integers weighs every dimension by the inverse of
    its range; this undoes that.)"""
    precision = check_precision(precision)
    vectors = np.asarray(vectors)
    if precision == "float32":
        return vectors.astype("float32")
    if precision in ("binary", "ubinary"):
        raw = vectors.view(np.uint8) ^ np.uint8(128) if precision == "binary" else vectors.astype(np.uint8)
        return (2.0 * np.unpackbits(raw, axis=-1) - 1.0).astype("float32")
    low, high = (np.asarray(r, "float32") for r in ranges)
    levels = vectors.astype("float32") + (128.0 if precision == "int8" else 0.0)
    width = high - low
    return np.where(width > 1e-12, low + (levels + 0.5) * width / 255.0, low).astype("float32")


def finish(vectors, precision="float32", truncate_dim=None, normalize=False, metadata=None, kind="embedding"):
    """float32 vectors `(N, dim)` of `kind` made by a model with `metadata` → truncated, normalised and quantised
    as asked. Checks every argument before it looks at `vectors`."""
    precision = check_precision(precision)
    vectors = np.asarray(vectors, "float32")
    width = check_truncate_dim(truncate_dim, vectors.shape[1], metadata, kind)
    ranges = stored_ranges(metadata, kind, normalize, width) if precision in CALIBRATED else None
    vectors = vectors[:, :width]
    if normalize:
        vectors = unit(vectors)
    return quantize(vectors, precision, ranges)


def output_spec(dim, precision):
    """`(dtype, width)` of vectors of width `dim` at `precision`."""
    precision = check_precision(precision)
    if precision in ("binary", "ubinary"):
        return np.dtype("int8" if precision == "binary" else "uint8"), -(-dim // 8)
    return np.dtype(precision), dim


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """A one-line progress bar on stderr: `encoding  42% [######........] 4,200/10,000 texts, 1,234 texts/s, 0:00:04
    left` (without a total: the count and the rate). Redrawn at most 5 times a second, and by `close` at the end."""

    def __init__(self, total=None, enabled=True, stream=None, label="encoding", unit="texts"):
        self.total, self.enabled, self.label, self.unit = total, enabled, label, unit
        self.stream = sys.stderr if stream is None else stream
        self.done, self.start, self.last = 0, time.perf_counter(), 0.0

    def line(self):
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        speed = f"{rate:,.0f} {self.unit}/s"
        if not self.total:
            return f"{self.label} {self.done:,} {self.unit}, {speed}"
        filled = 30 * min(self.done, self.total) // self.total
        left = _clock((self.total - self.done) / rate) if rate > 0 else "?"
        return (f"{self.label} {100 * self.done // self.total:3d}% [{'#' * filled}{'.' * (30 - filled)}] "
                f"{self.done:,}/{self.total:,} {self.unit}, {speed}, {left} left")

    def update(self, count):
        self.done += count
        now = time.perf_counter()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
            self.enabled = False
