"""Every batch producer of the text autoencoder. The interface `train()` uses is two functions:
`in_memory_batches` (tokenized texts in memory: `make_dataset`, tf.data, on TensorFlow, else `make_batches`, the same
batches from NumPy as a `keras.utils.PyDataset`) and `streamed_batches` (`stream_batches`, an endless stream of
batches from a corpus read lazily, in bounded memory, wrapped in tf.data on TensorFlow). Every producer yields
`(token_ids, token_ids, sample_weights)`; `hypertext.data.pairs` adds the contrastive and distillation inputs.
`tokenize_ragged` / `tokenize_padded` tokenize once, up front. Only `make_dataset` needs TensorFlow.

The model is length-agnostic: it takes token ids `(batch, L)` for any `L` that is a multiple of its
`length_multiple` (`2**num_stages`). Training batches are therefore bucketed by length: every batch is padded to one
of a few bucket lengths (`bucket_lengths`), the smallest that holds its longest text, so a batch of short texts costs
a fraction of a batch of long ones, and the set of batch shapes (tf.function traces, XLA and JAX compilations) stays
small. `group_by_length` and `pad_batch` do the same for inference batches, without TensorFlow.
"""

import itertools
import warnings

import keras
import numpy as np

from hypertext.checks import check_int
from hypertext.lengths import bucket_lengths, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import PAD_ID



def tokenize_padded(texts, tokenizer, max_length):
    """Tokenizes once, up front: `(ids int32 (N, max_length), num_truncated)`, padded with 0. Each text is as in
    `tokenize_ragged`: its pieces and eos, or, when longer, its first `max_length - 1` pieces and eos."""
    sequences, truncated = tokenize_ragged(texts, tokenizer, max_length)
    return pad_batch(sequences, max_length), truncated


def _flatten(sequences, max_length):
    """Sequences of ids -> `(flat int32, lengths int64, num_truncated)`. A sequence longer than `max_length` keeps
    its first `max_length - 1` ids and its last one (the eos), the same first window that `reconstruct` reads."""
    lengths = np.fromiter((len(s) for s in sequences), dtype="int64", count=len(sequences))
    too_long = lengths > max_length
    num_truncated = int(too_long.sum())
    if num_truncated:
        sequences = [list(s[:max_length - 1]) + list(s[-1:]) if long else s for s, long in zip(sequences, too_long)]
        lengths = np.minimum(lengths, max_length)
    if sequences and isinstance(sequences[0], np.ndarray):
        flat = np.concatenate([np.asarray(s, "int32").reshape(-1) for s in sequences])
    else:
        flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype="int32", count=int(lengths.sum()))
    return flat.astype("int32", copy=False), lengths, num_truncated


def _encode_flat(texts, tokenizer, max_length):
    check_int("max_length", max_length, 2)
    return _flatten(tokenizer.encode(list(texts), add_eos=True), max_length)


def tokenize_ragged(texts, tokenizer, max_length):
    """Tokenizes once, up front, without padding: `(sequences, num_truncated)`.

    `sequences` is a list of 1-D int32 arrays, one per text: its pieces followed by eos; a text longer than
    `max_length` keeps its first `max_length - 1` pieces and the eos. `make_dataset` and
    `hypertext.lengths.group_by_length` take them as they are.
    """
    flat, lengths, truncated = _encode_flat(texts, tokenizer, max_length)
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else [], truncated


def _is_text(value):
    return isinstance(value, (str, np.str_))


def _to_flat(texts, tokenizer, max_length):
    """Any accepted `texts` -> `(flat int32 ids, lengths int64, num_truncated)`."""
    if isinstance(texts, np.ndarray) and texts.ndim == 2 and texts.dtype.kind in "iu":
        ids = texts.astype("int32", copy=False)
        num_truncated = int((ids[:, max_length:] != PAD_ID).any(axis=1).sum()) if ids.shape[1] > max_length else 0
        real = ids[:, :max_length] != PAD_ID
        return ids[:, :max_length][real], real.sum(axis=1).astype("int64"), num_truncated
    texts = list(texts)
    if not texts or _is_text(texts[0]):
        return _encode_flat(texts, tokenizer, max_length)
    return _flatten(texts, max_length)


def _pad_rows(flat, starts, lengths, rows, length):
    """The texts `rows` of a flat id array (text i is `flat[starts[i]:starts[i] + lengths[i]]`) -> int32
    `(len(rows), length)`, padded with 0."""
    row_lengths = lengths[rows]
    ids = np.zeros((len(rows), length), dtype="int32")
    real = np.arange(length) < row_lengths[:, None]
    # The flat position of every real token of `rows`, in row-major order: the order `ids[real]` assigns.
    out_starts = np.concatenate([[0], np.cumsum(row_lengths)[:-1]])
    within = np.arange(int(row_lengths.sum())) - np.repeat(out_starts, row_lengths)
    ids[real] = flat[np.repeat(starts[rows], row_lengths) + within]
    return ids


def _derived_seed(seed, *keys):
    return int(np.random.SeedSequence([int(seed), *keys]).generate_state(1)[0])


def _bucket_arrays(texts, tokenizer, max_length, batch_size, repeat, drop_remainder, length_multiple, bucket):
    """What `make_dataset` and `make_batches` share: checks the arguments, tokenizes, warns about truncated texts,
    and pads every length bucket's texts into one dense array (no per-text work later).

    Returns `(arrays, kept, num_buckets)`: the int32 array `(n_b, length_b)` of each bucket with texts (a bucket
    that cannot fill a batch is left out when `drop_remainder` drops it), the index of each of those buckets, and
    how many buckets there are."""
    check_int("max_length", max_length, 2)
    check_int("batch_size", batch_size)
    buckets = bucket_lengths(max_length, length_multiple) if bucket else (max_length,)
    flat, lengths, truncated = _to_flat(texts, tokenizer, max_length)
    if len(lengths) == 0:
        raise ValueError("Cannot make a dataset from no texts.")
    if truncated:
        warnings.warn(f"{truncated} of {len(lengths)} texts were longer than max_length={max_length} pieces and were "
                      "truncated.", stacklevel=3)
    assigned = np.searchsorted(buckets, lengths, side="left")  # the smallest bucket >= each length
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    arrays, kept = [], []
    for b, length in enumerate(buckets):
        rows = np.flatnonzero(assigned == b)
        if len(rows) == 0 or (drop_remainder and not repeat and len(rows) < batch_size):
            continue
        arrays.append(_pad_rows(flat, starts, lengths, rows, length))
        kept.append(b)
    if not arrays:  # drop_remainder, and no bucket fills a batch
        raise ValueError(f"No batch of {batch_size} texts of one length bucket: every batch would be dropped "
                         f"(drop_remainder=True). Received {len(lengths)} texts.")
    return arrays, kept, len(buckets)


def _num_batches(n, batch_size, drop_remainder):
    return n // batch_size if drop_remainder else -(-n // batch_size)


def _with_targets_and_weights(ids):
    """A padded id batch -> `(ids, ids, weights)`: the autoencoder's targets are its inputs; weights are 1 on real
    tokens and 0 on padding."""
    return ids, ids, (ids != PAD_ID).astype("float32")


def make_dataset(texts, tokenizer, max_length, batch_size, shuffle=True, seed=0, repeat=False, drop_remainder=False,
                 length_multiple=1, bucket=True):
    """A `tf.data.Dataset` of `(token_ids, token_ids, sample_weights)` batches for an autoencoder.

    The tokenizer runs once over all texts before the pipeline starts, never in the training loop. Texts longer than
    `max_length` pieces (eos included) are truncated, counted and reported with a warning. The sample weights are 1
    on real tokens (eos included) and 0 on padding, so pads count neither in the loss nor in the metrics. The ids are
    int32 `(batch, length)`, ready for a model whose input shape is `(None,)`.

    With `bucket=True`, each batch is padded to one of `bucket_lengths(max_length, length_multiple)`: the smallest
    that holds its longest text. Every text goes to the bucket of its own length; each epoch, the texts of every bucket
    are shuffled and cut into batches of `batch_size` (a bucket's last batch may be smaller, unless
    `drop_remainder`), and the batches of all buckets are shuffled together. So every epoch visits every text once, a
    batch is a fresh random draw from its length range, and a batch of short texts costs a fraction of a long one.
    With `repeat=True`, each bucket is an endless stream and the next batch comes from bucket `b` with probability
    proportional to its number of texts. With `shuffle=False`, the batches come bucket by bucket, shortest first,
    texts in their input order. With `bucket=False`, every batch is padded to `max_length` (the texts' order is then
    shuffled as a whole).

    (This is what `tf.data.Dataset.bucket_by_sequence_length` with `pad_to_bucket_boundary=True` does, without its
    cost: its `group_by_window` builds a dataset for every batch, which made the pipeline 4x slower.)

    Args:
        texts: a list of str; an int array `(N, width)` padded with 0 (what `tokenize_padded` makes; a text's length is
            its count of non-zero ids); or a list of 1-D int arrays (what `tokenize_ragged` makes).
        tokenizer: a `SentencePieceTokenizer`, used to encode str texts (None is fine for ids).
        max_length: int >= 2, the longest sequence; with `bucket=True`, a multiple of `length_multiple`.
        batch_size: int, the batch size of every bucket.
        shuffle: whether to reshuffle every epoch, seeded: the same seed gives the same batches in the same order.
        seed: int, the shuffle seed.
        repeat: whether to repeat forever (use with `steps_per_epoch`).
        drop_remainder: whether to drop batches smaller than `batch_size` (with buckets, each bucket's last one).
        length_multiple: int, every bucket length is a multiple of it (the model's `2**num_stages`).
        bucket: whether to bucket batches by length.
    """
    import tensorflow as tf

    arrays, kept, num_buckets = _bucket_arrays(texts, tokenizer, max_length, batch_size, repeat, drop_remainder,
                                               length_multiple, bucket)
    datasets, sizes = [], []
    for array, b in zip(arrays, kept):
        dataset = tf.data.Dataset.from_tensor_slices(array)
        if shuffle:
            dataset = dataset.shuffle(min(len(array), 100_000), seed=_derived_seed(seed, b) if bucket else seed,
                                      reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()
        datasets.append(dataset.batch(batch_size, drop_remainder=drop_remainder))
        sizes.append(len(array))

    if len(datasets) == 1:
        dataset = datasets[0]
    elif repeat:
        dataset = tf.data.Dataset.sample_from_datasets(datasets, weights=[n / sum(sizes) for n in sizes],
                                                       seed=_derived_seed(seed, num_buckets),
                                                       rerandomize_each_iteration=shuffle)
    else:
        # Which bucket each batch of the epoch comes from, in a (re)shuffled order: every batch exactly once.
        counts = [_num_batches(n, batch_size, drop_remainder) for n in sizes]
        choices = tf.data.Dataset.from_tensor_slices(np.repeat(np.arange(len(datasets), dtype="int64"), counts))
        if shuffle:
            choices = choices.shuffle(sum(counts), seed=_derived_seed(seed, num_buckets),
                                      reshuffle_each_iteration=True)
        dataset = tf.data.Dataset.choose_from_datasets(datasets, choices)
        # tf.data cannot count these batches; Keras' progress bar and epoch end need the count.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(sum(counts)))

    def with_targets_and_weights(ids):
        return ids, ids, tf.cast(tf.not_equal(ids, PAD_ID), tf.float32)

    return dataset.map(with_targets_and_weights).prefetch(tf.data.AUTOTUNE)


class BucketBatches(keras.utils.PyDataset):
    """The batches of `make_dataset`, made with NumPy (no TensorFlow): a `keras.utils.PyDataset` that `model.fit`
    takes on every backend. Build it with `make_batches`, which documents the batches.

    Without `repeat`, batch `i` of an epoch is a function of `(seed, epoch, i)`, and `on_epoch_end` (which Keras
    calls) moves to the next epoch's order. With `repeat` it is endless (`num_batches` is None) and is read in
    order, as Keras reads it: the index is not used.
    """

    def __init__(self, arrays, kept, num_buckets, batch_size, shuffle, seed, repeat, drop_remainder, bucket):
        super().__init__()
        self.arrays, self.batch_size, self.shuffle, self.repeat = arrays, batch_size, shuffle, repeat
        self.drop_remainder = drop_remainder
        self.seeds = [_derived_seed(seed, b) if bucket else seed for b in kept]
        self.order_seed = _derived_seed(seed, num_buckets)
        self.epoch = 0
        self._plan = self._epoch_plan() if not repeat else None
        if repeat:
            sizes = np.array([len(a) for a in arrays], dtype="float64")
            self._weights = sizes / sizes.sum()
            self._choice_rng = np.random.default_rng(self.order_seed)
            self._streams = [self._row_stream(b) for b in range(len(arrays))]

    def _rows(self, b, epoch):
        n = len(self.arrays[b])
        return np.random.default_rng([self.seeds[b], epoch]).permutation(n) if self.shuffle else np.arange(n)

    def _epoch_plan(self):
        plan = []
        for b in range(len(self.arrays)):
            rows = self._rows(b, self.epoch)
            count = _num_batches(len(rows), self.batch_size, self.drop_remainder)
            plan += [(b, rows[i * self.batch_size:(i + 1) * self.batch_size]) for i in range(count)]
        if self.shuffle and len(self.arrays) > 1:  # (one bucket: its short batch comes last, as from tf.data)
            order = np.random.default_rng([self.order_seed, self.epoch]).permutation(len(plan))
            plan = [plan[i] for i in order]
        return plan

    def _row_stream(self, b):
        """Bucket `b`'s rows, reshuffled on every pass, endlessly, in batches (a batch may span two passes)."""
        pending = np.empty(0, dtype="int64")
        for epoch in itertools.count():
            pending = np.concatenate([pending, self._rows(b, epoch)])
            while len(pending) >= self.batch_size:
                yield pending[:self.batch_size]
                pending = pending[self.batch_size:]

    @property
    def num_batches(self):
        return None if self.repeat else len(self._plan)

    def __getitem__(self, index):
        if self.repeat:
            b = int(self._choice_rng.choice(len(self.arrays), p=self._weights))
            rows = next(self._streams[b])
        else:
            if not 0 <= index < len(self._plan):
                raise IndexError(f"Batch {index} of an epoch of {len(self._plan)} batches.")
            b, rows = self._plan[index]
        return _with_targets_and_weights(self.arrays[b][rows])

    def on_epoch_end(self):
        if not self.repeat:
            self.epoch += 1
            self._plan = self._epoch_plan()


def make_batches(texts, tokenizer, max_length, batch_size, shuffle=True, seed=0, repeat=False, drop_remainder=False,
                 length_multiple=1, bucket=True):
    """`make_dataset`'s batches without TensorFlow: a `BucketBatches` (`keras.utils.PyDataset`) of `(token_ids,
    token_ids, sample_weights)` NumPy batches, for `model.fit` on JAX or PyTorch (or TensorFlow).

    The arguments and the batches are those of `make_dataset`: texts tokenized once, bucketed by length, every
    bucket reshuffled each epoch (seeded) and cut into batches, the batches of all buckets in a shuffled order, each
    text once per epoch; with `repeat=True` an endless stream drawing bucket `b` with probability proportional to
    its number of texts. The random draws differ from tf.data's, so the order of the batches does too.
    """
    arrays, kept, num_buckets = _bucket_arrays(texts, tokenizer, max_length, batch_size, repeat, drop_remainder,
                                               length_multiple, bucket)
    return BucketBatches(arrays, kept, num_buckets, batch_size, shuffle, seed, repeat, drop_remainder, bucket)


def stream_batches(texts, tokenizer, max_length, batch_size, length_multiple=1, buffer_size=100_000, seed=0,
                   chunk_size=1024):
    """An endless generator of `(token_ids, token_ids, sample_weights)` batches from a corpus read lazily, pass
    after pass, in memory bounded by `buffer_size` (never the whole corpus). No TensorFlow.

    Each pass iterates `texts` again (a `TextStream` rereads its file) and tokenizes `chunk_size` texts at a time,
    each truncated like `tokenize_ragged`. The tokenized texts go through a shuffle buffer of `buffer_size` texts (the
    one of `tf.data.Dataset.shuffle`: each new text takes the place of a random one, which goes on; seeded, and it
    carries over from one pass to the next), then to the bucket of their length (`bucket_lengths(max_length,
    length_multiple)`); a bucket yields a batch of `batch_size` texts, padded to its length, whenever it fills. So
    every batch is full and of one bucket, and a text waits in its bucket at most until `batch_size` more of its
    length have come. Epochs are `steps_per_epoch` steps of this stream.

    Args:
        texts: a re-iterable of str (a `TextStream`, or a list). A pass without a text raises `ValueError`.
        tokenizer: a `SentencePieceTokenizer`.
        max_length, batch_size, length_multiple: as in `make_dataset`.
        buffer_size: int >= 1, the shuffle buffer, in texts (1: the stream's own order).
        seed: int, the shuffle seed: the same seed and texts give the same batches.
        chunk_size: int >= 1, the texts tokenized at a time.
    """
    check_int("max_length", max_length, 2)
    for value, name in ((batch_size, "batch_size"), (buffer_size, "buffer_size"), (chunk_size, "chunk_size")):
        check_int(name, value)
    buckets = np.asarray(bucket_lengths(max_length, length_multiple))
    return _stream(texts, tokenizer, max_length, batch_size, buckets, buffer_size, seed, chunk_size)


def _stream(texts, tokenizer, max_length, batch_size, buckets, buffer_size, seed, chunk_size):
    rng = np.random.default_rng(seed)
    buffer, pending = [], [[] for _ in buckets]
    for _ in itertools.count():
        iterator, seen = iter(texts), 0
        while chunk := list(itertools.islice(iterator, chunk_size)):
            sequences, _ = tokenize_ragged(chunk, tokenizer, max_length)
            seen += len(sequences)
            slots = rng.integers(0, buffer_size, size=len(sequences))
            for sequence, slot in zip(sequences, slots):
                sequence = sequence.copy()  # not a view that keeps the whole chunk's array alive
                if len(buffer) < buffer_size:
                    buffer.append(sequence)
                    continue
                sequence, buffer[slot] = buffer[slot], sequence
                b = int(np.searchsorted(buckets, len(sequence)))
                pending[b].append(sequence)
                if len(pending[b]) == batch_size:
                    yield _with_targets_and_weights(pad_batch(pending[b], buckets[b]))
                    pending[b] = []
        if not seen:
            raise ValueError("The corpus stream has no texts: there is nothing to train on.")


def in_memory_batches(sequences, tf_data=None, **kwargs):
    """`make_dataset(sequences, **kwargs)` (tf.data) on TensorFlow or with `tf_data=True`, else `make_batches`
    (NumPy)."""
    tf_data = keras.backend.backend() == "tensorflow" if tf_data is None else tf_data
    return (make_dataset if tf_data else make_batches)(sequences, **kwargs)


def num_batches(batches):
    """The batches of one pass of what `in_memory_batches` made."""
    return batches.num_batches if isinstance(batches, keras.utils.PyDataset) else int(batches.cardinality())


def streamed_batches(texts, **kwargs):
    """`stream_batches(texts, **kwargs)` for `model.fit`: the generator on JAX and PyTorch; on TensorFlow a
    `tf.data.Dataset.from_generator` with batches of any length (Keras would fix the length of every batch to that
    of the first two)."""
    if keras.backend.backend() != "tensorflow":
        return stream_batches(texts, **kwargs)
    import tensorflow as tf

    signature = (tf.TensorSpec((None, None), tf.int32),) * 2 + (tf.TensorSpec((None, None), tf.float32),)
    return tf.data.Dataset.from_generator(lambda: stream_batches(texts, **kwargs),
                                          output_signature=signature).prefetch(2)
