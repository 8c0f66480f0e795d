import keras
import numpy as np
import pytest

from hypertext.data import load_texts
from hypertext.tokenizers import SentencePieceTokenizer

UNICODE = ["café crème brûlée, naïve façade", "日本語のテキストと中文", "emoji 🎉🐍👍🏽 ok", "مرحبا بالعالم"]


@pytest.fixture(scope="module")
def corpus():
    return load_texts("wordnet", "train")[:20000]


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return SentencePieceTokenizer.from_texts(corpus, vocab_size=2000, max_training_sentences=20000)


def test_special_ids_are_fixed(tokenizer):
    p = tokenizer.processor
    assert (p.pad_id(), p.unk_id(), p.bos_id(), p.eos_id()) == (0, 1, 2, 3)
    assert tokenizer.vocab_size == 2000


def test_round_trip_on_held_out_corpus_sentences(tokenizer):
    held_out = load_texts("wordnet", "test")[:500]
    assert tokenizer.decode(tokenizer.encode(held_out)) == list(held_out)


def test_unicode_and_empty_strings_round_trip(tokenizer):
    texts = UNICODE + [""]
    assert tokenizer.decode(tokenizer.encode(texts)) == texts
    assert tokenizer.encode([""]) == [[]]


def test_control_characters_are_normalised_not_fatal(tokenizer):
    # NFKC normalisation (SentencePiece's default): tabs become spaces, other control characters are dropped, NUL survives (byte fallback).
    assert tokenizer.decode(tokenizer.encode(["tab\tand\x07bell\x00!"])) == ["tab andbell\x00!"]


def test_bpe_model_type(corpus):
    tok = SentencePieceTokenizer.from_texts(corpus[:5000], vocab_size=600, model_type="bpe")
    assert tok.decode(tok.encode(corpus[:50])) == list(corpus[:50])


def test_padding_truncation_and_decode_stops_at_eos(tokenizer):
    ids, truncated = tokenizer.encode_padded(["a small domesticated carnivore", "an extremely long " * 20], 12)
    assert ids.shape == (2, 12) and ids.dtype == "int32" and truncated == 1
    first = tokenizer.encode(["a small domesticated carnivore"])[0]
    assert list(ids[0, : len(first) + 1]) == first + [3] and not ids[0, len(first) + 1:].any()
    assert tokenizer.decode(ids[0]) == "a small domesticated carnivore"
    garbage_after_eos = list(ids[0, : len(first) + 1]) + [100, 200]
    assert tokenizer.decode([garbage_after_eos]) == ["a small domesticated carnivore"]


@keras.saving.register_keras_serializable(package="hypertext_tests")
class TokenizerHolder(keras.Model):
    """The smallest model that owns a tokenizer the way TextAutoencoder does: in its config, proto as an asset."""

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {**super().get_config(), "tokenizer": keras.saving.serialize_keras_object(self.tokenizer)}

    @classmethod
    def from_config(cls, config):
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


def test_ids_stable_across_keras_save_and_load(tokenizer, tmp_path):
    model = TokenizerHolder(tokenizer)
    model(np.zeros((1, 3), "float32"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    texts = UNICODE + ["a small domesticated carnivore"]
    assert restored.tokenizer.encode(texts) == tokenizer.encode(texts)
    assert "proto" not in restored.tokenizer.get_config()


def test_loads_from_bytes_and_path(tokenizer, tmp_path):
    path = tmp_path / "t.model"
    path.write_bytes(tokenizer.proto)
    assert SentencePieceTokenizer(proto=str(path)).encode(UNICODE) == tokenizer.encode(UNICODE)
    assert SentencePieceTokenizer(proto=tokenizer.proto).encode(UNICODE) == tokenizer.encode(UNICODE)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`model_type` must be one of .* Received: model_type='word'"):
        SentencePieceTokenizer.from_texts(["a b c"], model_type="word")
    with pytest.raises(ValueError, match=r"`vocab_size` must be an integer >= 261"):
        SentencePieceTokenizer.from_texts(["a b c"], vocab_size=100)
    with pytest.raises(ValueError, match=r"empty corpus"):
        SentencePieceTokenizer.from_texts(["", "  "], vocab_size=300)
    with pytest.raises(FileNotFoundError, match=r"No SentencePiece model at"):
        SentencePieceTokenizer(proto=str(tmp_path / "missing.model"))
    with pytest.raises(ValueError, match=r"Not a valid SentencePiece model"):
        SentencePieceTokenizer(proto=b"not a model")
    with pytest.raises(ValueError, match=r"has no model"):
        SentencePieceTokenizer().encode(["x"])
