import collections
import contextlib
import importlib.util
import math
import warnings

import keras
import numpy as np
import pytest

from hypertext.data import (bucket_lengths, tokenize_ragged, tokenize_padded, group_by_length, load_texts, make_batches,
                            make_dataset, pad_batch)
from hypertext.tokenizers import SentencePieceTokenizer

# Runs on every backend, and in CI's environment without TensorFlow (.ci/tf_free), where the tf.data half is not
# collected.
pytestmark = pytest.mark.backend_dependent
HAVE_TF = importlib.util.find_spec("tensorflow") is not None


class _TFData:
    """`make_dataset` (tf.data), read the way `fit` reads it."""

    make = staticmethod(make_dataset)

    def __init__(self):
        pytest.importorskip("tensorflow")

    @staticmethod
    def epoch(dataset):
        return list(dataset.as_numpy_iterator())

    @staticmethod
    def take(dataset, n):
        return list(dataset.take(n).as_numpy_iterator())


class _NumPy:
    """`make_batches` (a keras.utils.PyDataset), read the way Keras reads it: by index, then `on_epoch_end`."""

    make = staticmethod(make_batches)

    @staticmethod
    def epoch(batches):
        epoch = [batches[i] for i in range(batches.num_batches)]
        batches.on_epoch_end()
        return epoch

    @staticmethod
    def take(batches, n):
        assert batches.num_batches is None
        return [batches[i] for i in range(n)]


PIPELINES = ([pytest.param(_TFData, id="tf.data")] if HAVE_TF else []) + [pytest.param(_NumPy, id="numpy")]
# What `fit` is fed on this backend: Keras' PyDataset adapter on TF fixes the batch length from the first batches, so
# TF uses tf.data.
FIT_PIPELINES = [p for p in PIPELINES if not (p.values[0] is _NumPy and keras.backend.backend() == "tensorflow")]


@pytest.fixture(params=PIPELINES)
def pipeline(request):
    """Every test of the batches' semantics runs on both pipelines (their random draws differ, their rules not)."""
    return request.param()


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.from_texts(load_texts("wordnet", "train")[:5000], vocab_size=500)


@pytest.fixture(scope="module")
def texts():
    return load_texts("wordnet", "validation")[:300]


def _smallest_bucket(n, buckets):
    return next(b for b in buckets if b >= n)  # a plain scan, independent of the np.searchsorted in the code


@contextlib.contextmanager
def _no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _rows(batches):
    """Every text of the batches, as a tuple of its non-pad ids."""
    return [tuple(row[row != 0]) for ids, _, _ in batches for row in ids]


def test_batches_are_id_pairs_with_pad_masks(pipeline, tokenizer):
    texts = ["a small domesticated carnivore", "the cat sat", "x " * 40]
    with pytest.warns(UserWarning, match=r"1 of 3 texts were longer than max_length=20"):
        dataset = pipeline.make(texts, tokenizer, max_length=20, batch_size=2, shuffle=False, bucket=False)
    batches = pipeline.epoch(dataset)
    assert [b[0].shape for b in batches] == [(2, 20), (1, 20)]
    inputs, targets, weights = batches[0]
    np.testing.assert_array_equal(inputs, targets)
    np.testing.assert_array_equal(weights, (inputs != 0).astype("float32"))
    assert tokenizer.decode(inputs[1]) == "the cat sat"
    assert (inputs[1] == 3).sum() == 1  # eos, weighted like a token


def test_truncation_is_counted(tokenizer):
    ids, truncated = tokenize_padded(["short", "much longer text " * 10], tokenizer, 6)
    assert truncated == 1 and ids.shape == (2, 6) and ids[1].all()


def _window(pieces, max_length):
    """What the pipeline keeps of a text: its pieces and eos, or its first max_length - 1 pieces and eos."""
    return pieces[:max_length - 1] + [3]


def test_tokenize_ragged_matches_the_tokenizer(tokenizer, texts):
    sequences, truncated = tokenize_ragged(texts, tokenizer, 24)
    pieces = tokenizer.encode(texts)
    assert truncated == sum(len(p) + 1 > 24 for p in pieces) > 0
    assert len(sequences) == len(texts)
    for seq, p in zip(sequences, pieces):
        assert seq.dtype == np.int32 and seq.ndim == 1
        assert seq.tolist() == _window(p, 24)
    padded, _ = tokenize_padded(texts, tokenizer, 24)
    np.testing.assert_array_equal(pad_batch(sequences, 24), padded)
    assert tokenize_ragged([], tokenizer, 24) == ([], 0)


def test_bucket_lengths():
    assert bucket_lengths(32, 4) == (8, 12, 16, 24, 32)
    assert bucket_lengths(128, 4) == (8, 12, 16, 24, 32, 48, 64, 96, 128)
    assert bucket_lengths(512, 4) == (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
    assert bucket_lengths(20) == (8, 12, 16, 20)
    assert bucket_lengths(100, 4) == (8, 12, 16, 24, 32, 48, 64, 96, 100)
    assert bucket_lengths(64, 16) == (16, 32, 48, 64)  # 8 and 12 round up to 16, 24 to 32: deduplicated
    assert bucket_lengths(8, 4) == (8,) and bucket_lengths(4, 4) == (4,)
    for max_length, multiple in [(512, 4), (256, 8), (96, 32), (30, 1), (6, 2)]:
        lengths = bucket_lengths(max_length, multiple)
        assert lengths[-1] == max_length and list(lengths) == sorted(set(lengths))
        assert all(n % multiple == 0 for n in lengths)
        assert all(b / a <= 1.5 for a, b in zip(lengths, lengths[1:]) if multiple <= 4)
    with pytest.raises(ValueError, match=r"^`max_length` must be a multiple of 4. Received: max_length=30$"):
        bucket_lengths(30, 4)
    with pytest.raises(ValueError, match=r"`max_length` must be an integer >= 2. Received: max_length=1"):
        bucket_lengths(1)
    with pytest.raises(ValueError, match=r"`multiple` must be an integer >= 1. Received: multiple=0"):
        bucket_lengths(16, 0)


def test_each_batch_is_padded_to_the_bucket_of_its_longest_text(pipeline, tokenizer, texts):
    max_length, batch_size = 32, 16
    buckets = (8, 12, 16, 24, 32)
    expected = [tuple(_window(p, max_length)) for p in tokenizer.encode(texts)]
    with pytest.warns(UserWarning, match="truncated"):
        dataset = pipeline.make(texts, tokenizer, max_length, batch_size, length_multiple=4)
    batches = pipeline.epoch(dataset)
    seen_lengths = set()
    for ids, targets, weights in batches:
        assert ids.dtype == np.int32 and 1 <= len(ids) <= batch_size
        np.testing.assert_array_equal(ids, targets)
        np.testing.assert_array_equal(weights, (ids != 0).astype("float32"))
        row_lengths = (ids != 0).sum(axis=1)
        # Real tokens first, then pads only.
        np.testing.assert_array_equal(ids != 0, np.arange(ids.shape[1]) < row_lengths[:, None])
        assert ids.shape[1] == _smallest_bucket(row_lengths.max(), buckets)
        assert {_smallest_bucket(n, buckets) for n in row_lengths} == {ids.shape[1]}  # one bucket per batch
        seen_lengths.add(ids.shape[1])
    assert seen_lengths == set(buckets)  # these glosses span every bucket
    assert collections.Counter(_rows(batches)) == collections.Counter(expected)  # every text exactly once
    # Within each bucket only the last batch may be short.
    per_bucket = collections.Counter(_smallest_bucket(len(t), buckets) for t in expected)
    batches_per_bucket = collections.Counter(ids.shape[1] for ids, _, _ in batches)
    assert batches_per_bucket == {b: math.ceil(n / batch_size) for b, n in per_bucket.items()}


def test_short_texts_make_short_batches(pipeline, tokenizer):
    texts = ["a cat", "the dog", "a car", "red", "one two"] * 8
    lengths = [len(p) + 1 for p in tokenizer.encode(texts)]
    assert max(lengths) <= 8
    dataset = pipeline.make(texts, tokenizer, 128, 16, length_multiple=4)
    shapes = [ids.shape for ids, _, _ in pipeline.epoch(dataset)]
    assert shapes == [(16, 8), (16, 8), (8, 8)]


def test_shuffling_is_seeded_and_reshuffles_every_epoch(pipeline, tokenizer, texts):
    def batches(dataset):
        return [ids for ids, _, _ in pipeline.epoch(dataset)]

    def make(seed):
        return pipeline.make(texts[:200], tokenizer, 64, 8, seed=seed, length_multiple=4)

    first, again, other = make(3), make(3), make(4)
    epoch_1, epoch_2 = batches(first), batches(first)
    same_seed = batches(again)
    assert len(epoch_1) == len(same_seed) and all(np.array_equal(a, b) for a, b in zip(epoch_1, same_seed))
    assert _rows((b, b, b) for b in epoch_1) != _rows((b, b, b) for b in batches(other))
    assert _rows((b, b, b) for b in epoch_1) != _rows((b, b, b) for b in epoch_2)  # a new order every epoch
    assert sorted(_rows((b, b, b) for b in epoch_1)) == sorted(_rows((b, b, b) for b in epoch_2))


def test_strings_arrays_and_ragged_lists_give_the_same_batches(pipeline, tokenizer, texts):
    max_length = 24
    padded, _ = tokenize_padded(texts, tokenizer, max_length)
    sequences, _ = tokenize_ragged(texts, tokenizer, max_length)
    for shuffle in (False, True):
        for bucket in (True, False):
            outputs = []
            for source in (texts, padded, sequences):
                with pytest.warns(UserWarning, match="truncated") if source is texts else _no_warning():
                    dataset = pipeline.make(source, tokenizer, max_length, 32, shuffle=shuffle, seed=7,
                                           length_multiple=4, bucket=bucket)
                outputs.append(pipeline.epoch(dataset))
            for other in outputs[1:]:
                assert len(other) == len(outputs[0])
                for a, b in zip(outputs[0], other):
                    for x, y in zip(a, b):
                        np.testing.assert_array_equal(x, y)
    # Without shuffling, batches come bucket by bucket, shortest first, texts in their input order.
    ids = [row for ids, _, _ in pipeline.epoch(pipeline.make(sequences, tokenizer, max_length, 32, shuffle=False,
                                                           length_multiple=4)) for row in ids]
    order = sorted(range(len(texts)), key=lambda i: _smallest_bucket(len(sequences[i]), (8, 12, 16, 24)))
    assert [tuple(row[row != 0]) for row in ids] == [tuple(sequences[i]) for i in order]


def test_repeat_and_drop_remainder_give_full_batches(pipeline, tokenizer, texts):
    buckets = bucket_lengths(32, 4)
    with pytest.warns(UserWarning):
        repeated = pipeline.make(texts, tokenizer, 32, 16, repeat=True, length_multiple=4)
    shapes = [ids.shape for ids, _, _ in pipeline.take(repeated, 60)]
    assert all(n == 16 for n, _ in shapes) and {length for _, length in shapes} <= set(buckets)
    with pytest.warns(UserWarning):
        dropped = pipeline.make(texts, tokenizer, 32, 16, drop_remainder=True, length_multiple=4)
    per_bucket = collections.Counter(_smallest_bucket(min(len(p) + 1, 32), buckets) for p in tokenizer.encode(texts))
    shapes = [ids.shape for ids, _, _ in pipeline.epoch(dropped)]
    assert all(n == 16 for n, _ in shapes)
    assert collections.Counter(length for _, length in shapes) == {b: n // 16 for b, n in per_bucket.items() if n >= 16}


def test_group_by_length_covers_every_text_once(rng):
    lengths = rng.integers(0, 80, size=203).tolist() + [64, 65, 200]  # 200 > max_length: the caller truncates
    buckets = bucket_lengths(64, 4)
    batches = group_by_length(lengths, batch_size=7, length_multiple=4, max_length=64)
    indices = np.concatenate([i for i, _ in batches])
    np.testing.assert_array_equal(np.sort(indices), np.arange(len(lengths)))
    counts = collections.Counter()
    for members, padded_length in batches:
        assert 1 <= len(members) <= 7 and padded_length in buckets and padded_length % 4 == 0
        for i in members:
            assert _smallest_bucket(min(lengths[i], 64), buckets) == padded_length
        assert list(members) == sorted(members)  # input order within a bucket
        counts[padded_length] += 1
    per_bucket = collections.Counter(_smallest_bucket(min(n, 64), buckets) for n in lengths)
    assert counts == {b: math.ceil(n / 7) for b, n in per_bucket.items()}
    assert [length for _, length in batches] == sorted((length for _, length in batches), reverse=True)
    assert group_by_length([], 4, 4, 64) == []
    with pytest.raises(ValueError, match=r"`max_length` must be a multiple of 4"):
        group_by_length([3], 4, 4, 30)


def test_pad_batch():
    ids = pad_batch([np.array([5, 6, 3]), [7, 3], []], 4)
    np.testing.assert_array_equal(ids, [[5, 6, 3, 0], [7, 3, 0, 0], [0, 0, 0, 0]])
    assert ids.dtype == np.int32
    with pytest.raises(ValueError, match=r"Every sequence must fit `length`=2. Received a sequence of 3 ids"):
        pad_batch([[1, 2, 3]], 2)


@pytest.mark.parametrize("pipeline", FIT_PIPELINES, indirect=True)
def test_feeds_model_fit_on_this_backend(pipeline, tokenizer):
    dataset = pipeline.make(load_texts("wordnet", "validation")[:64], tokenizer, 16, 16, repeat=True, bucket=False)
    model = keras.Sequential([keras.Input((16,), dtype="int32"), keras.layers.Embedding(tokenizer.vocab_size, 8),
                              keras.layers.Dense(tokenizer.vocab_size)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("pipeline", FIT_PIPELINES, indirect=True)
def test_bucketed_batches_feed_a_variable_length_model(pipeline, tokenizer):
    texts = load_texts("wordnet", "validation")[:48]
    with pytest.warns(UserWarning, match="truncated"):
        dataset = pipeline.make(texts, tokenizer, 16, 8, length_multiple=4)
    assert len({ids.shape[1] for ids, _, _ in pipeline.epoch(dataset)}) >= 2
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(tokenizer.vocab_size, 8),
                              keras.layers.Dense(tokenizer.vocab_size)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


def test_errors(pipeline, tokenizer):
    with pytest.raises(ValueError, match=r"`max_length` must be an integer >= 2. Received: max_length=1"):
        pipeline.make(["a"], tokenizer, 1, 2)
    with pytest.raises(ValueError, match=r"no texts"):
        pipeline.make([], tokenizer, 8, 2)
    with pytest.raises(ValueError, match=r"no texts"):
        pipeline.make(np.zeros((0, 8), "int32"), tokenizer, 8, 2)
    with pytest.raises(ValueError, match=r"`max_length` must be a multiple of 4. Received: max_length=30"):
        pipeline.make(["a"], tokenizer, 30, 2, length_multiple=4)
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1"):
        pipeline.make(["a"], tokenizer, 8, 0)
    with pytest.raises(ValueError, match=r"every batch would be dropped"):
        pipeline.make(["a", "b"], tokenizer, 8, 4, drop_remainder=True)
