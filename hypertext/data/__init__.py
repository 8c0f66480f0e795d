"""Corpora and input pipelines. Importing this package also registers the `wordnet_glosses` TFDS builder."""

from hypertext.data import wordnet
from hypertext.data.corpora import Texts, load_texts, read_text_file
from hypertext.data.input_pipeline import encode_texts, make_dataset
from hypertext.data.wordnet_glosses import WordnetGlosses

__all__ = ["Texts", "WordnetGlosses", "encode_texts", "load_texts", "make_dataset", "read_text_file", "wordnet"]
