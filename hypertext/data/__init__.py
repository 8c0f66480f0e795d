"""Corpora and every batch producer:

- `corpora`: `load_texts`, `TextStream` and kin (local files, the shipped WordNet glosses, English, everyday and
  register texts, TFDS); `load_pairs` (the register corpus' text pairs);
- `input_pipeline`: the batch producers, behind `in_memory_batches` and `streamed_batches`; `tokenize_ragged`;
- `pairs`: `PairBatches`, batches with a positive (and a teacher's vector) per text;
- `corpus_data`: `read_corpus` and `CorpusData.batches` (-> `RunBatches`), what a run reads.

Nothing here imports TensorFlow: `make_dataset` (tf.data) imports it when called, and `WordnetGlosses`, the TFDS
builder of the shipped WordNet glosses, is imported (and registered with TFDS) on first access, as is any `tfds:`
corpus that `load_texts` reads."""

import importlib

from hypertext.data import wordnet
from hypertext.data.corpora import (Texts, TextStream, is_streamable, iter_text_file, load_pairs, load_texts,
                                    read_text_file)
from hypertext.data.input_pipeline import (in_memory_batches, make_batches, make_dataset, num_batches, stream_batches,
                                           streamed_batches, tokenize_padded, tokenize_ragged)
from hypertext.lengths import bucket_lengths, group_by_length, pad_batch

__all__ = ["TextStream", "Texts", "WordnetGlosses", "bucket_lengths", "group_by_length", "in_memory_batches",
           "is_streamable", "iter_text_file", "load_pairs", "load_texts", "make_batches", "make_dataset", "num_batches", "pad_batch",
           "read_text_file", "stream_batches", "streamed_batches", "tokenize_padded", "tokenize_ragged", "wordnet"]


def __getattr__(name):
    if name == "WordnetGlosses":  # needs tensorflow_datasets
        return importlib.import_module("hypertext.data.wordnet_glosses").WordnetGlosses
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
