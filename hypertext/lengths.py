"""Length buckets, shared by the tf.data training pipeline (`hypertext.data.make_dataset`) and the model's text API
(`encode`, `reconstruct`), so training and inference pad to the same lengths. Pure Python and NumPy: the inference
path needs no TensorFlow."""

import math

import numpy as np

from hypertext.checks import check_int


def bucket_lengths(max_length, multiple=1, smallest=8):
    """The padded lengths that batches are bucketed to, as a sorted tuple.

    The candidates are `smallest * 2**k` and `1.5 * smallest * 2**k` (k = 0, 1, ...), i.e. steps of alternately 1.5x
    and 1.33x; each is rounded up to a multiple of `multiple`, duplicates are dropped, and those below `max_length`
    are kept. The last length is always `max_length` itself. A text of `n` ids (eos included) goes to the smallest
    length `>= n`, so padding wastes at most a third of a batch (less where `multiple` rounding merges steps).

    >>> bucket_lengths(128, 4)
    (8, 12, 16, 24, 32, 48, 64, 96, 128)
    >>> bucket_lengths(32, 16)
    (16, 32)

    Args:
        max_length: int >= 2, the longest padded length; it must be a multiple of `multiple`.
        multiple: int >= 1, every length is a multiple of it (the model's `length_multiple`, `2**num_stages`).
        smallest: int >= 1, the first candidate length, before rounding.

    Raises:
        ValueError: when `max_length` is not an integer >= 2 or not a multiple of `multiple`, or `multiple` or
            `smallest` is not a positive integer.
    """
    check_int("max_length", max_length, 2)
    check_int("multiple", multiple)
    check_int("smallest", smallest)
    max_length, multiple, smallest = int(max_length), int(multiple), int(smallest)
    if max_length % multiple:
        raise ValueError(f"`max_length` must be a multiple of {multiple}. Received: max_length={max_length}")
    lengths = set()
    base = smallest
    while base < max_length:
        for candidate in (base, math.ceil(1.5 * base)):
            rounded = -(-candidate // multiple) * multiple
            if rounded < max_length:
                lengths.add(rounded)
        base *= 2
    return tuple(sorted(lengths)) + (max_length,)


def group_by_length(lengths, batch_size, length_multiple, max_length):
    """Inference batches of texts of similar length, so that encoding cost follows the texts' lengths.

    Each text goes to the smallest of `bucket_lengths(max_length, length_multiple)` that holds it (a text longer than
    `max_length` to `max_length`: the caller truncates it). Returns a list of `(indices, padded_length)`: `indices` an
    int64 array of at most `batch_size` positions into `lengths`, all of one bucket, `padded_length` that bucket's
    length. Every index appears exactly once; buckets come longest first (a memory problem shows at once), and within
    a bucket the indices keep their input order.

    Args:
        lengths: the per-text lengths in ids (pieces + eos), a sequence of non-negative ints.
        batch_size: int >= 1.
        length_multiple: int >= 1, the model's `2**num_stages`.
        max_length: int, a multiple of `length_multiple`.
    """
    check_int("batch_size", batch_size)
    buckets = np.asarray(bucket_lengths(max_length, length_multiple))
    lengths = np.asarray(lengths, dtype="int64").reshape(-1)
    if len(lengths) and lengths.min() < 0:
        raise ValueError(f"`lengths` must be non-negative. Received a length of {lengths.min()}")
    assigned = np.minimum(np.searchsorted(buckets, lengths, side="left"), len(buckets) - 1)
    batches = []
    for b in range(len(buckets) - 1, -1, -1):
        members = np.flatnonzero(assigned == b)
        batches.extend((members[i:i + batch_size], int(buckets[b])) for i in range(0, len(members), batch_size))
    return batches


def pad_batch(sequences, length):
    """Sequences of ids, each at most `length` long -> an int32 array `(len(sequences), length)` padded with 0."""
    check_int("length", length)
    ids = np.zeros((len(sequences), int(length)), dtype="int32")
    for row, sequence in enumerate(sequences):
        if len(sequence) > length:
            raise ValueError(f"Every sequence must fit `length`={length}. Received a sequence of {len(sequence)} ids "
                             f"at position {row}.")
        ids[row, :len(sequence)] = sequence
    return ids
