"""The data of a run: the texts that train the tokenizer, the batches that `fit` reads, and the sample that sets the
bag-of-tokens IDF. `train()` calls `read_corpus`, then `CorpusData.train_tokenizer` (unless the run has its
tokenizer already), then `CorpusData.batches`, which returns `RunBatches`: the corpus goes down into `data/` once
and comes back as batches. The teacher's vectors of distillation are handed in (`batches(teacher=...)`): nothing
here imports the models.

A local corpus (files, "wordnet", "english", or several joined by `+`) is first read once, as a stream: it counts
the texts and keeps a seeded reservoir sample of them, about `config.tokenizer_sentences` training texts (the
number of training texts of a streamed corpus is estimated from the sample's share). A corpus of at most
`IN_MEMORY_TEXTS` texts is then loaded whole and trains in memory (tokenized once; batches from
`make_dataset` on TensorFlow, `make_batches` elsewhere), as every shipped run does. A larger one is streamed: every
epoch rereads the file through `stream_batches`, and nothing grows with the corpus. TFDS corpora load whole.
"""

import dataclasses
import math
import typing

import keras

from hypertext.data.corpora import Reservoir, Texts, TextStream, is_streamable, load_texts
from hypertext.data.input_pipeline import in_memory_batches, num_batches, streamed_batches, tokenize_ragged
from hypertext.data.wordnet import split_of

# A local corpus with at most this many training texts trains in memory (about 0.3 GB of strings and ids at the
# most); a larger one is streamed.
IN_MEMORY_TEXTS = 1_000_000
# The validation loss of every epoch, and the final evaluation's default cap, read the first this many validation
# texts, so that a large corpus's validation split is never loaded whole. (The shipped corpora have fewer.)
VALIDATION_TEXTS = 20_000
# The shuffle buffer of a streamed corpus, in texts.
SHUFFLE_BUFFER = 100_000
# About this share of a local corpus's texts is in its training split (`wordnet.split_of`: 90/5/5).
TRAIN_SHARE = 0.9


class RunBatches(typing.NamedTuple):
    """What `CorpusData.batches` returns for `model.fit`.

    Attributes:
        train: the training batches (a tf.data.Dataset, a `keras.utils.PyDataset` or a generator).
        validation: the validation batches, one pass.
        steps_per_epoch: the training steps of one epoch.
        idf_sequences: the token ids the bag-of-tokens IDF is counted on.
    """

    train: object
    validation: object
    steps_per_epoch: int
    idf_sequences: list


@dataclasses.dataclass
class CorpusData:
    """What `read_corpus` found.

    Attributes:
        corpus: the corpus's name (as `train()` got it).
        train: the training texts (`Texts`) when they are in memory, else None.
        stream: the `TextStream` of the training split when it is streamed, else None.
        num_train: the number of training texts (estimated from the sample when streamed).
        tokenizer_texts: the texts to train a tokenizer on: all training texts in memory, else the reservoir sample.
        validation: the first `VALIDATION_TEXTS` validation texts (`Texts`).
        stats: the loading statistics of the training split (empty and undecodable lines).
    """

    corpus: str
    train: Texts
    stream: TextStream
    num_train: int
    tokenizer_texts: list
    validation: Texts
    stats: dict

    def train_tokenizer(self, config):
        """A `SentencePieceTokenizer` trained on `tokenizer_texts` with `config`'s vocabulary size, sentence count and
        seed (seeded and single-threaded: the same texts and config give the same tokenizer)."""
        from hypertext.tokenizers import SentencePieceTokenizer

        return SentencePieceTokenizer.from_texts(self.tokenizer_texts, vocab_size=config.vocab_size,
                                                 max_training_sentences=config.tokenizer_sentences, seed=config.seed)

    def batches(self, tokenizer, config, log=print, distributed=False, processes=1, teacher=None):
        """The `RunBatches` (train, validation, steps_per_epoch, idf_sequences) for `model.fit`.

        `distributed`: full batches only, so that each splits evenly over the replicas (each length bucket's short
        last batch is dropped); in-memory corpora only, without the contrastive objective. With several
        `processes` the batches come from tf.data, which `keras.distribution` shards per process (so TensorFlow
        must be installed); on one machine they are the same batches as a single-device run's.

        `idf_sequences` are the token ids the bag-of-tokens IDF is counted on: the whole training split in memory,
        the tokenized reservoir sample when streamed. A streamed full-pass epoch (`steps_per_epoch=0`) is
        `ceil(num_train / batch_size)` steps of the endless stream: about one pass over the file.

        `teacher`: with `distill_weight` > 0, a function `(texts, log=) -> (N, teacher_dim)` vectors, e.g.
        `hypertext.models.objectives.teacher.teacher_vectors`."""
        multiple = 2 ** config.num_stages
        common = dict(tokenizer=tokenizer, max_length=config.max_length, batch_size=config.batch_size,
                      length_multiple=multiple)
        if distributed and (self.train is None or config.contrastive_weight > 0 or config.distill_weight > 0):
            raise ValueError("A distributed run needs a corpus that fits in memory, `contrastive_weight` 0 and "
                             f"`distill_weight` 0. Received: corpus={self.corpus!r} "
                             f"({'streamed' if self.train is None else 'in memory'}), contrastive_weight="
                             f"{config.contrastive_weight}, distill_weight={config.distill_weight}")
        if config.contrastive_weight > 0 or config.distill_weight > 0:
            return self._pair_batches(tokenizer, config, log, teacher)
        if distributed:
            common.update(drop_remainder=True, tf_data=True if processes > 1 else None)
        if self.stream is None:
            sequences = _tokenize("train", self.train, tokenizer, config, log)
            train = in_memory_batches(sequences, shuffle=True, seed=config.seed, repeat=bool(config.steps_per_epoch),
                                      **common)
            steps = config.steps_per_epoch or num_batches(train)
            if distributed:
                _log_left_out("train", sequences, train, config, log)
        else:
            sequences = _tokenize(f"train (a sample of {len(self.tokenizer_texts):,})", self.tokenizer_texts,
                                  tokenizer, config, log)
            train = streamed_batches(self.stream, buffer_size=SHUFFLE_BUFFER, seed=config.seed, **common)
            steps = config.steps_per_epoch or math.ceil(self.num_train / config.batch_size)
        validation_ids = _tokenize("validation", self.validation, tokenizer, config, log)
        validation = in_memory_batches(validation_ids, shuffle=False, **common)
        if distributed:
            _log_left_out("validation", validation_ids, validation, config, log)
        return RunBatches(train, validation, steps, sequences)

    def _pair_batches(self, tokenizer, config, log, teacher_vectors):
        """`batches` for the contrastive and distillation objectives: `hypertext.data.pairs.PairBatches`, each text
        with a positive, and with the teacher's vector when `distill_weight` > 0. WordNet texts are paired within
        their synset of the same split when `synset_positives`; the others with a noisy view of themselves. In
        memory only."""
        from hypertext.data.pairs import PairBatches, as_tf_dataset, wordnet_synset_groups

        if self.train is None:  # streamed
            raise ValueError("`contrastive_weight` > 0 and `distill_weight` > 0 need a corpus that fits in memory (at "
                             f"most {IN_MEMORY_TEXTS:,} training texts). Received: corpus={self.corpus!r}, about "
                             f"{self.num_train:,} training texts")
        use_synsets = config.synset_positives and "wordnet" in self.corpus.split("+")
        common = dict(batch_size=config.batch_size, max_length=config.max_length,
                      length_multiple=2 ** config.num_stages, positive_drop=config.positive_drop, seed=config.seed)
        teacher = {}
        if config.distill_weight > 0:
            if teacher_vectors is None:
                raise ValueError("`distill_weight` > 0 needs the teacher's vectors: pass `teacher=` (e.g. "
                                 "hypertext.models.objectives.teacher.teacher_vectors).")
            teacher = {name: teacher_vectors(texts, log=log)
                       for name, texts in (("train", self.train), ("validation", self.validation))}
        sequences = _tokenize("train", self.train, tokenizer, config, log)
        train = PairBatches(sequences, wordnet_synset_groups(self.train, "train") if use_synsets else None,
                            paired_repeats=config.paired_repeats, steps_per_epoch=config.steps_per_epoch or None,
                            teacher=teacher.get("train"), **common)
        validation = PairBatches(_tokenize("validation", self.validation, tokenizer, config, log),
                                 wordnet_synset_groups(self.validation, "validation") if use_synsets else None,
                                 shuffle=False, teacher=teacher.get("validation"), **common)
        if config.contrastive_weight > 0:
            log(f"contrastive: {train.num_paired:,} of {len(sequences):,} training texts have a same-meaning "
                "partner (the others are paired with a noisy view of themselves)")
        steps = len(train)
        if keras.backend.backend() == "tensorflow":
            train, validation = as_tf_dataset(train), as_tf_dataset(validation)
        return RunBatches(train, validation, steps, sequences)


def read_corpus(corpus, config, text_key="text", errors="strict", log=print):
    """Reads what a run needs of `corpus` before training (see the module's docstring): one pass over a local
    corpus's training split, the first `VALIDATION_TEXTS` validation texts. Returns a `CorpusData`."""
    if is_streamable(corpus):
        stream = TextStream(corpus, "train", errors=errors)
        # One pass over every split, without hashing each line: a sample of all texts, of which about 90% train.
        sample = Reservoir(math.ceil(config.tokenizer_sentences / TRAIN_SHARE), seed=config.seed)
        for labelled in stream.labelled():
            sample.add(labelled)
        stats = dict(stream.stats)
        if sample.count <= IN_MEMORY_TEXTS:
            train = load_texts(corpus, "train", errors=errors)  # a second, short read
            stream, num_train, tokenizer_texts = None, len(train), train
        else:
            train = None
            tokenizer_texts = [text for text, split in sample.items if (split or split_of(text)) == "train"]
            num_train = round(sample.count * len(tokenizer_texts) / len(sample.items))
            tokenizer_texts = tokenizer_texts[:config.tokenizer_sentences]
    validation = load_texts(corpus, "validation", text_key=text_key, errors=errors, limit=VALIDATION_TEXTS)
    how = ("in memory" if train is not None else
           f"estimated from a sample; streamed; tokenizer and IDF from a sample of {len(tokenizer_texts):,}")
    log(f"corpus {corpus!r} train: {'' if train is not None else 'about '}{num_train:,} texts ({how})"
        + "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in stats.items() if v))
    log(f"corpus {corpus!r} validation: {len(validation):,} texts"
        + (f" (the first {VALIDATION_TEXTS:,})" if len(validation) == VALIDATION_TEXTS else ""))
    if not num_train:
        raise ValueError(f"Corpus {corpus!r} has no training texts: it is empty, or every line is blank.")
    if not validation:
        raise ValueError(f"Corpus {corpus!r} has no validation texts; it needs at least ~20 non-empty lines.")
    return CorpusData(corpus, train, stream, num_train, tokenizer_texts, validation, stats)


def _tokenize(name, texts, tokenizer, config, log):
    ids, truncated = tokenize_ragged(texts, tokenizer, config.max_length)
    if truncated:
        log(f"{name}: {truncated:,} of {len(texts):,} texts are longer than max_length={config.max_length} pieces "
            "and were truncated")
    return ids


def _log_left_out(name, sequences, batches, config, log):
    """Says how many texts a distributed run leaves out of each pass (the short batches it drops)."""
    count = num_batches(batches)  # None or -1 (infinite) for an endless stream, which leaves no text out
    used = (count or 0) * config.batch_size
    if 0 < used < len(sequences):
        log(f"{name}: {used:,} of {len(sequences):,} texts per pass, in full batches of {config.batch_size} that split "
            f"evenly over the replicas ({len(sequences) - used:,} left out: the short last batch of each length bucket"
            + (", a different draw every epoch)" if name == "train" else ")"))
