"""Checks shared across the package (pure Python: no Keras, no TensorFlow): the argument checks of the configs and
the data pipelines, each raising one `ValueError` in Keras' message style, and `sha256_file`, the checksum that
verified files (run backups, the teacher's cache) record."""

import hashlib
import numbers


def check_int(name, value, minimum=1):
    """`value` must be an integer (a Python or NumPy int, not a bool) >= `minimum`: "`name` must be an integer >= 1.
    Received: name=0"."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return value


def check_at_least(name, value, minimum, strict=False):
    """A number >= `minimum` (> with `strict`): "`name` must be >= 0. Received: name=-1"."""
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"`{name}` must be {'>' if strict else '>='} {minimum}. Received: {name}={value}")
    return value


def check_one_of(name, value, choices):
    """`value` must be one of `choices`: "`name` must be one of 'a', 'b'. Received: name='c'"."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}. Received: {name}={value!r}")
    return value


def sha256_file(path):
    """The SHA-256 of the file at `path`, as hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
