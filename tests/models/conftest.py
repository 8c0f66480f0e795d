import pytest

from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.tokenizers import SentencePieceTokenizer


@pytest.fixture(scope="session")
def corpus():
    return list(load_texts("wordnet", "validation")[:3000])


@pytest.fixture(scope="session")
def tiny_tokenizer(corpus):
    return SentencePieceTokenizer.from_texts(corpus, vocab_size=512)


@pytest.fixture
def tiny_config():
    return get_config("tiny").replace(max_length=16, num_stages=2)
