"""The TF-free batches that `benchmarks/gpu.py` trains on (its timings are not tested: benchmarks print)."""

import itertools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import gpu  # noqa: E402

from hypertext.lengths import bucket_lengths  # noqa: E402


def _sequences(rng, count, max_length):
    lengths = rng.integers(1, max_length + 1, size=count)
    return [rng.integers(4, 100, size=n).astype("int32") for n in lengths]


def test_bucketed_batches_cover_full_buckets_once_per_pass():
    rng = np.random.default_rng(3)
    max_length, batch_size, multiple = 32, 8, 2
    sequences = _sequences(rng, 300, max_length)
    buckets = np.asarray(bucket_lengths(max_length, multiple))
    home = np.searchsorted(buckets, [len(s) for s in sequences])
    full_batches = sum(np.sum(home == b) // batch_size for b in range(len(buckets)))
    batches = list(itertools.islice(gpu.bucketed_batches(sequences, batch_size, multiple, max_length, seed=0),
                                    full_batches))
    seen = []
    for ids, targets, weights in batches:
        length = ids.shape[1]
        assert ids.shape == (batch_size, length) and ids.dtype == np.int32
        np.testing.assert_array_equal(targets, ids)
        np.testing.assert_array_equal(weights, (ids != 0).astype("float32"))
        real = (ids != 0).sum(axis=1)
        # Every row sits in the smallest bucket that holds it, padded with zeros after its ids.
        np.testing.assert_array_equal(buckets[np.searchsorted(buckets, real)], np.full(batch_size, length))
        for row, n in zip(ids, real):
            match = [i for i, s in enumerate(sequences) if len(s) == n and np.array_equal(s, row[:n])]
            assert match, "a batch row is not one of the input sequences"
            seen.append(match[0])
    # One pass: each text at most once, and all but each bucket's remainder (< batch_size texts) present.
    assert len(seen) == len(set(seen)) == full_batches * batch_size
    assert {len(ids) for ids, _, _ in batches} == {batch_size}


def test_bucketed_batches_follow_the_seed():
    sequences = _sequences(np.random.default_rng(4), 200, 16)

    def first(seed, count=80):  # more batches than one pass holds
        return [ids for ids, _, _ in itertools.islice(gpu.bucketed_batches(sequences, 4, 1, 16, seed), count)]

    a, b, c = first(0), first(0), first(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c))


def test_bucketed_batches_reject_a_batch_no_bucket_fills():
    sequences = [np.arange(4, 4 + n, dtype="int32") for n in (3, 9, 20)]
    with pytest.raises(ValueError, match="`batch_size`=8"):
        next(gpu.bucketed_batches(sequences, 8, 1, 32, seed=0))
