"""Batches of texts with a positive for each: the input of the contrastive objective (`contrastive_weight`).

A text's positive says the same thing in other words where the corpus knows one (another text of its WordNet synset,
training split only), else it is a noisy view of the text itself (SimCSE-style: pieces deleted at random). Either
way the positive is augmented with `positive_drop`. Batches are bucketed by the anchors' length, as in
`make_dataset`, and the positive is cut to the same padded length, so every batch has one shape.

Plain Python and NumPy behind a `keras.utils.PyDataset`: it feeds `model.fit` on every backend.
"""

import collections

import keras
import numpy as np

from hypertext.checks import check_int
from hypertext.lengths import bucket_lengths, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import PAD_ID

NO_GROUP = -1


def wordnet_synset_groups(texts, split="train"):
    """An int64 group id per text: the index of its WordNet synset among the `split` split's synsets, or `NO_GROUP`
    for a text that is not a gloss of that split (e.g. the general-English part of `wordnet+english`). A text that
    several synsets share goes to the first. Only `split`'s synsets are read, so training never sees the meaning
    groups of the validation or test split."""
    from hypertext.data import wordnet

    synset_of, index = {}, {}
    for row in wordnet.read_rows(split=split):
        synset_of.setdefault(row["text"], index.setdefault(row["synset"], len(index)))
    return np.array([synset_of.get(t, NO_GROUP) for t in texts], dtype="int64")


def augment(ids, drop, rng):
    """Deletes each piece of `ids` (eos-terminated) with probability `drop`; the eos and at least one piece stay."""
    ids = np.asarray(ids)
    pieces, eos = ids[:-1], ids[-1:]
    keep = rng.random(len(pieces)) >= drop
    if len(pieces) and not keep.any():
        keep[rng.integers(len(pieces))] = True
    return np.concatenate([pieces[keep], eos])


def _fit(ids, length):
    """An eos-terminated sequence cut to `length` ids: its first `length - 1` and its eos."""
    return ids if len(ids) <= length else np.concatenate([ids[:length - 1], ids[-1:]])


class PairBatches(keras.utils.PyDataset):
    """Bucketed `({"token_ids", "positive_ids"}, token_ids, sample_weights)` batches for the contrastive objective.

    Every pass visits each text once: texts are bucketed by length (`bucket_lengths`), each bucket is shuffled and cut
    into batches, and the batches of all buckets are shuffled together (seeded). Pass `k` uses seed `(seed, k)`,
    so a run is reproducible. With `shuffle=False` (validation), batches come bucket by bucket, texts in input order,
    and the positives are the same every epoch.

    Args:
        sequences: a list of 1-D int arrays, each eos-terminated and at most `max_length` long (`tokenize_ragged`).
        groups: int array, a group id per sequence (`NO_GROUP` for none): texts of one group are positives of each
            other. None: every positive is a noisy view of its own text.
        batch_size: int, texts per batch.
        max_length: int, the longest padded length.
        length_multiple: int, every padded length is a multiple of it (the model's `2**num_stages`).
        positive_drop: float in [0, 1), the probability of deleting each piece of a positive.
        teacher: optional array `(len(sequences), width)`, a teacher encoder's vector of each text (the distillation
            objective, `distill_weight`); each batch then also has its rows, as `"teacher_vectors"` (float32).
        paired_repeats: int >= 1: a pass visits each text that has a partner this many times (and the others once),
            so that more of every batch learns from same-meaning pairs.
        steps_per_epoch: int or None: batches per epoch (passes are chained end to end); None = one full pass.
        shuffle: whether to shuffle (seeded).
        seed: int.
    """

    def __init__(self, sequences, groups=None, batch_size=64, max_length=128, length_multiple=1, positive_drop=0.1,
                 paired_repeats=1, steps_per_epoch=None, shuffle=True, seed=0, teacher=None, **kwargs):
        super().__init__(**kwargs)
        check_int("batch_size", batch_size)
        check_int("paired_repeats", paired_repeats)
        if not len(sequences):
            raise ValueError("PairBatches needs at least one sequence. Received: 0")
        if groups is not None and len(groups) != len(sequences):
            raise ValueError(f"`groups` must have one id per sequence. Received: {len(groups)} groups for "
                             f"{len(sequences)} sequences")
        if teacher is not None and (np.ndim(teacher) != 2 or len(teacher) != len(sequences)):
            raise ValueError(f"`teacher` must be a 2-D array with one row per sequence. Received: shape="
                             f"{np.shape(teacher)} for {len(sequences)} sequences")
        if not 0 <= positive_drop < 1:
            raise ValueError(f"`positive_drop` must be in [0, 1). Received: positive_drop={positive_drop}")
        self.sequences = sequences
        self.teacher = teacher
        self.batch_size = batch_size
        self.positive_drop = positive_drop
        self.shuffle = shuffle
        self.seed = seed
        lengths = np.fromiter((len(s) for s in sequences), dtype="int64", count=len(sequences))
        if lengths.max() > max_length:
            raise ValueError(f"Every sequence must be at most max_length={max_length} ids. Received one of "
                             f"{lengths.max()}")
        self.buckets = np.asarray(bucket_lengths(max_length, length_multiple))
        # For each text, the other members of its group.
        members = collections.defaultdict(list)
        for i, g in enumerate(np.asarray(groups if groups is not None else [])):
            if g != NO_GROUP:
                members[int(g)].append(i)
        self.partners = {}
        for group in members.values():
            for i in group:
                if len(group) > 1:
                    self.partners[i] = [j for j in group if j != i]
        # What a pass visits: every text once, and each one with a partner `paired_repeats - 1` more times.
        paired = np.array(sorted(self.partners), dtype="int64")
        self.visits = np.concatenate([np.arange(len(sequences)), np.repeat(paired, paired_repeats - 1)])
        self.assigned = np.searchsorted(self.buckets, lengths[self.visits], side="left")
        self.batches_per_pass = sum(-(-int(n) // batch_size) for n in np.bincount(self.assigned) if n)
        self.steps_per_epoch = steps_per_epoch or self.batches_per_pass
        self.epoch = 0
        self._passes = {}

    @property
    def num_paired(self):
        """How many texts have a partner of the same meaning (the rest get a noisy view of themselves)."""
        return len(self.partners)

    def __len__(self):
        return self.steps_per_epoch

    def on_epoch_end(self):
        if self.shuffle:
            self.epoch += 1

    def _pass(self, k):
        """The batches of pass `k`: a list of (text indices, padded length)."""
        if k not in self._passes:
            rng = np.random.default_rng([self.seed, k])
            batches = []
            for b, length in enumerate(self.buckets):
                rows = self.visits[self.assigned == b]
                if self.shuffle:
                    rows = rng.permutation(rows)
                batches.extend((rows[i:i + self.batch_size], int(length))
                               for i in range(0, len(rows), self.batch_size))
            if self.shuffle:
                batches = [batches[i] for i in rng.permutation(len(batches))]
            self._passes = {k: batches}  # keep one pass: an epoch reads at most two in a row
        return self._passes[k]

    def __getitem__(self, index):
        step = (self.epoch * self.steps_per_epoch if self.shuffle else 0) + index
        k, position = divmod(step, self.batches_per_pass)
        rows, length = self._pass(k)[position]
        rng = np.random.default_rng([self.seed, k, position, 1])
        positives = []
        for i in rows:
            partners = self.partners.get(int(i))
            source = self.sequences[partners[rng.integers(len(partners))]] if partners else self.sequences[i]
            positives.append(_fit(augment(source, self.positive_drop, rng), length))
        token_ids = pad_batch([self.sequences[i] for i in rows], length)
        weights = (token_ids != PAD_ID).astype("float32")
        inputs = {"token_ids": token_ids, "positive_ids": pad_batch(positives, length)}
        if self.teacher is not None:
            inputs["teacher_vectors"] = np.asarray(self.teacher[rows], "float32")
        return inputs, token_ids, weights


def as_tf_dataset(batches):
    """`batches` (a `PairBatches`) as a `tf.data.Dataset` for the TensorFlow backend, with the padded length left
    open. (Keras' own PyDataset adapter fixes every dimension it sees in the first two batches, and batches of
    different length buckets then fail.) Each epoch walks `len(batches)` batches and then calls `on_epoch_end`."""
    import tensorflow as tf

    def generate():
        for index in range(len(batches)):
            yield batches[index]
        batches.on_epoch_end()

    ids, floats = tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.float32)
    inputs = {"token_ids": ids, "positive_ids": ids}
    if batches.teacher is not None:
        inputs["teacher_vectors"] = floats
    signature = (inputs, ids, floats)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)
