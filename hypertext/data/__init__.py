"""Corpora and input pipelines. Importing this package also registers the `wordnet_glosses` TFDS builder."""

from hypertext.data import wordnet
from hypertext.data.corpora import Texts, load_texts, read_text_file
from hypertext.data.input_pipeline import encode_ragged, encode_texts, make_dataset
from hypertext.lengths import bucket_lengths, group_by_length, pad_batch
from hypertext.data.wordnet_glosses import WordnetGlosses

__all__ = ["Texts", "WordnetGlosses", "bucket_lengths", "encode_ragged", "encode_texts", "group_by_length", "load_texts",
           "make_dataset", "pad_batch", "read_text_file", "wordnet"]
