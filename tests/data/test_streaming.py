"""Streamed corpora: `TextStream`, `Reservoir`, `load_texts(limit=)`, `stream_batches` and the run's
`read_corpus`, against references computed here from the whole corpus in memory."""

import collections
import gzip
import itertools
import math

import numpy as np
import pytest

from hypertext import configs
from hypertext.data import TextStream, bucket_lengths, load_texts, stream_batches, wordnet
from hypertext.data.corpora import Reservoir
from hypertext.tokenizers import SentencePieceTokenizer
from hypertext.data import corpus_data as inputs

pytestmark = pytest.mark.backend_dependent  # on every backend, and without TensorFlow (.ci/tf_free)


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.from_texts(load_texts("wordnet", "train")[:3000], vocab_size=400)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A file of 1,200 distinct lines (and two blank ones), and its lines."""
    texts = load_texts("wordnet", "validation")[:1200]
    path = tmp_path_factory.mktemp("corpus") / "c.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(texts[:600]) + "\n\n  \n" + "\n".join(texts[600:]) + "\n")
    return str(path), texts


def test_text_stream_matches_the_hash_split_and_rereads(corpus):
    path, texts = corpus
    for split in wordnet.SPLITS:
        stream = TextStream(path, split)
        expected = [t for t in texts if wordnet.split_of(t) == split]  # the per-line assignment of load_texts
        assert list(stream) == expected == load_texts(path, split)
        assert list(stream) == expected  # a second pass reads the file again
        assert stream.stats == {"empty_lines": 2, "undecodable_lines": 0}
    labelled = list(TextStream(path).labelled())  # every split; a file's lines leave their hash to the caller
    assert labelled == [(t, None) for t in texts]
    rows = list(TextStream("wordnet", kinds=("example",)).labelled())
    assert rows == [(r["text"], r["split"]) for r in wordnet.read_rows(kinds=("example",))]
    joined = TextStream(f"wordnet+{path}", "validation", kinds=("example",))
    assert list(joined) == load_texts("wordnet", "validation", kinds=("example",)) + load_texts(path, "validation")


def test_text_stream_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Corpus file not found: '.*nope.txt'"):
        TextStream(str(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match=r"TFDS datasets are not streamed.*Received: source='wordnet\+tfds:x'"):
        TextStream("wordnet+tfds:x")
    with pytest.raises(ValueError, match=r"`split` must be one of"):
        TextStream("wordnet", "dev")


def test_load_texts_limit_reads_the_first_texts(corpus):
    path, _ = corpus
    whole = load_texts(path, "train")
    assert load_texts(path, "train", limit=7) == whole[:7] and load_texts(path, "train", limit=0) == []
    joined = load_texts(f"{path}+wordnet", "train", limit=len(whole) + 5)
    assert joined == whole + load_texts("wordnet", "train")[:5]
    with pytest.raises(ValueError, match=r"^`limit` must be an integer >= 0. Received: limit=-1$"):
        load_texts(path, limit=-1)


def test_reservoir_is_a_bounded_uniform_seeded_sample():
    n, k, trials = 500, 20, 3000
    hits = np.zeros(n)
    for seed in range(trials):
        sample = Reservoir(k, seed=seed)
        for i in range(n):
            sample.add(i)
        assert len(sample.items) == k == len(set(sample.items)) and sample.count == n
        hits[sample.items] += 1
    # Each item is kept with probability k/n: hits ~ Binomial(trials, k/n), mean 120, sd ~10.8.
    p = k / n
    assert abs(hits.mean() - trials * p) < 1e-9
    assert np.abs(hits - trials * p).max() < 5 * math.sqrt(trials * p * (1 - p))
    # First half against second half: no drift along the stream.
    assert abs(hits[: n // 2].sum() - hits[n // 2:].sum()) < 4 * math.sqrt(trials * k / 2)

    def sample_of(seed, size=k, count=n):
        reservoir = Reservoir(size, seed=seed)
        for i in range(count):
            reservoir.add(i)
        return reservoir.items

    assert sample_of(5) == sample_of(5) != sample_of(6)
    assert sample_of(5, size=50, count=30) == list(range(30))  # fewer items than the size: all, in order
    with pytest.raises(ValueError, match=r"^`size` must be an integer >= 1. Received: size=0$"):
        Reservoir(0)


def _window(pieces, max_length):
    return tuple(pieces[:max_length - 1] + [3])


def test_stream_batches_are_full_one_bucket_batches_of_every_text(corpus, tokenizer):
    path, texts = corpus
    stream = TextStream(path, "train")
    train = list(stream)
    max_length, batch_size, buffer_size = 32, 8, 100
    buckets = bucket_lengths(max_length, 4)
    expected = collections.Counter(_window(p, max_length) for p in tokenizer.encode(train))
    passes = 3
    num_batches = passes * len(train) // batch_size - (buffer_size + len(buckets) * batch_size) // batch_size
    batches = list(itertools.islice(stream_batches(stream, tokenizer, max_length, batch_size, length_multiple=4,
                                                   buffer_size=buffer_size, seed=1, chunk_size=64), num_batches))
    seen = collections.Counter()
    for ids, targets, weights in batches:
        assert ids.shape[0] == batch_size and ids.dtype == np.int32
        np.testing.assert_array_equal(ids, targets)
        np.testing.assert_array_equal(weights, (ids != 0).astype("float32"))
        lengths = (ids != 0).sum(axis=1)
        np.testing.assert_array_equal(ids != 0, np.arange(ids.shape[1]) < lengths[:, None])
        assert {next(b for b in buckets if b >= n) for n in lengths} == {ids.shape[1]}
        seen.update(tuple(row[row != 0]) for row in ids)
    assert set(seen) <= set(expected)
    # After 3 passes every text was read 3 times; it came out at most that often, and only the texts still held
    # (the shuffle buffer, and the buckets' unfilled batches) are missing.
    assert all(seen[t] <= passes * n for t, n in expected.items())
    missing = sum(passes * n - seen[t] for t, n in expected.items())
    assert 0 <= missing <= buffer_size + len(buckets) * (batch_size - 1) + batch_size
    assert min(seen[t] for t in expected) >= 1


def test_stream_batches_are_seeded_and_a_buffer_of_one_keeps_the_order(corpus, tokenizer):
    path, _ = corpus
    stream = TextStream(path, "train")

    def first(seed, buffer_size, n=20):
        return [b[0] for b in itertools.islice(stream_batches(stream, tokenizer, 32, 8, length_multiple=4,
                                                              buffer_size=buffer_size, seed=seed), n)]

    a, b, c = first(3, 50), first(3, 50), first(4, 50)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # Without shuffling, a bucket's batches hold its texts in the stream's order.
    windows = [_window(p, 32) for p in tokenizer.encode(list(stream))]
    for ids in first(0, 1, n=10):
        length = ids.shape[1]
        in_bucket = [w for w in windows if next(b for b in bucket_lengths(32, 4) if b >= len(w)) == length]
        rows = [tuple(row[row != 0]) for row in ids]
        start = in_bucket.index(rows[0])
        assert rows == in_bucket[start:start + 8]


def test_stream_batches_errors(tmp_path, tokenizer):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match=r"no texts"):
        next(stream_batches(TextStream(str(empty)), tokenizer, 32, 8))
    with pytest.raises(ValueError, match=r"^`buffer_size` must be an integer >= 1. Received: buffer_size=0$"):
        stream_batches(["a"], tokenizer, 32, 8, buffer_size=0)


def test_read_corpus_keeps_small_corpora_and_streams_large_ones(corpus, tokenizer, monkeypatch):
    path, _ = corpus
    config = configs.get_config("tiny").replace(tokenizer_sentences=100, steps_per_epoch=0)
    train = load_texts(path, "train")
    small = inputs.read_corpus(path, config, log=lambda *_: None)
    assert small.stream is None and small.train == train and small.tokenizer_texts == train
    assert small.num_train == len(train) and small.validation == load_texts(path, "validation")

    monkeypatch.setattr(inputs, "IN_MEMORY_TEXTS", 50)
    monkeypatch.setattr(inputs, "VALIDATION_TEXTS", 10)
    large = inputs.read_corpus(path, config, log=lambda *_: None)
    # The count is estimated from the sample's share of training texts (1,200 texts, a sample of 112 of them).
    assert large.train is None and abs(large.num_train - len(train)) < 0.1 * len(train)
    assert large.stats["empty_lines"] == 2
    assert 85 <= len(large.tokenizer_texts) <= 100 and set(large.tokenizer_texts) <= set(train)
    assert large.validation == load_texts(path, "validation")[:10]
    _, _, steps, idf = large.batches(tokenizer, config, log=lambda *_: None)
    assert steps == math.ceil(large.num_train / config.batch_size) and len(idf) == len(large.tokenizer_texts)
