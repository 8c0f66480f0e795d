"""Corpora and input pipelines. Nothing here imports TensorFlow: `make_dataset` (tf.data) imports it when called,
and `WordnetGlosses`, the TFDS builder of the shipped WordNet glosses, is imported (and registered with TFDS) on
first access, as is any `tfds:` corpus that `load_texts` reads."""

import importlib

from hypertext.data import wordnet
from hypertext.data.corpora import Texts, TextStream, is_streamable, iter_text_file, load_texts, read_text_file
from hypertext.data.input_pipeline import encode_ragged, encode_texts, make_batches, make_dataset, stream_batches
from hypertext.lengths import bucket_lengths, group_by_length, pad_batch

__all__ = ["TextStream", "Texts", "WordnetGlosses", "bucket_lengths", "encode_ragged", "encode_texts",
           "group_by_length", "is_streamable", "iter_text_file", "load_texts", "make_batches", "make_dataset",
           "pad_batch", "read_text_file", "stream_batches", "wordnet"]


def __getattr__(name):
    if name == "WordnetGlosses":  # needs tensorflow_datasets
        return importlib.import_module("hypertext.data.wordnet_glosses").WordnetGlosses
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
