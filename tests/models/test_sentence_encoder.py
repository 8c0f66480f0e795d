"""`SentenceEncoder` against a float64 NumPy reference, its padding and batch invariance, saving and bad arguments."""

import keras
import numpy as np
import pytest

from hypertext.models.sentence_encoder import SentenceEncoder
from hypertext.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer


def gelu(x):
    from math import erf, sqrt

    return x * 0.5 * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


def reference(encoder, ids):
    """The encoder's output from its weights, text by text, in float64: ids up to eos (pad, unk, bos, eos) are zero
    vectors that the pool leaves out."""
    E = np.asarray(encoder.pieces.embeddings, "float64")
    L = np.asarray(encoder.piece_weights.embeddings, "float64")[:, 0]
    out = []
    for row in np.asarray(ids):
        real = (row > 3).astype("float64")
        e = E[row] * real[:, None]
        if encoder.context_in is not None:
            k = np.asarray(encoder.context_in.kernel, "float64")  # (taps, in, width)
            b = np.asarray(encoder.context_in.bias, "float64")
            taps = k.shape[0]
            padded = np.pad(e, [((taps - 1) // 2, taps // 2), (0, 0)])
            hidden = gelu(np.stack([sum(padded[t + j] @ k[j] for j in range(taps)) for t in range(len(row))]) + b)
            e = e + (hidden @ np.asarray(encoder.context_out.kernel, "float64")[0] + np.asarray(
                encoder.context_out.bias, "float64")) * real[:, None]
        w = np.exp(L[row]) * real
        out.append((w[:, None] * e).sum(0) / w.sum())
    return np.stack(out)


def randomized(encoder, seed=0):
    rng = np.random.default_rng(seed)
    for weight in encoder.weights:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))
    return encoder


@pytest.mark.parametrize("context_width", [0, 8])
def test_matches_a_float64_reference_on_random_weights(context_width):
    encoder = randomized(SentenceEncoder(50, output_dim=6, context_width=context_width))
    encoder.build()
    randomized(encoder)
    ids = np.array([[5, 9, 3, 0, 0, 0], [7, 1, 4, 4, 8, 2], [12, 0, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11]], "int32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(encoder(ids)), reference(encoder, ids), atol=1e-5)


def test_padding_and_batch_do_not_move_a_vector():
    encoder = SentenceEncoder(40, output_dim=5, context_width=7)
    encoder.build()
    randomized(encoder, seed=3)
    text = [4, 9, 13, 3]  # eos-terminated
    alone = keras.ops.convert_to_numpy(encoder(np.array([text], "int32")))
    for length in (4, 5, 8, 33):
        padded = np.zeros((3, length), "int32")
        padded[0, :4] = text
        padded[1, :min(length, 4)] = [7, 7, 7, 7][:length]
        padded[2, :length] = np.arange(length) % 35 + 4  # a long neighbour in the batch
        np.testing.assert_allclose(keras.ops.convert_to_numpy(encoder(padded))[0], alone[0], atol=1e-5)


def test_an_empty_text_gives_zeros_and_no_nan():
    encoder = SentenceEncoder(10, output_dim=3, context_width=4)
    out = keras.ops.convert_to_numpy(encoder(np.zeros((2, 4), "int32")))
    np.testing.assert_array_equal(out, np.zeros((2, 3)))


def test_saves_and_loads_with_its_tokenizer(tmp_path):
    texts = ["a cat sat on the mat", "a dog lay on the rug", "the bird sang in the tree"] * 40
    tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=300)
    encoder = SentenceEncoder(tokenizer.vocab_size, output_dim=8, context_width=4, matryoshka_dims=(4, 8),
                              tokenizer=tokenizer)
    encoder.build()
    randomized(encoder, seed=5)
    before = encoder.encode(texts[:3])
    ids = keras.Input((None,), dtype="int32")
    keras.Model(ids, encoder(ids)).save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras").layers[-1]
    assert loaded.matryoshka_dims == (4, 8) and loaded.tokenizer.has_model
    np.testing.assert_allclose(loaded.encode(texts[:3]), before, atol=1e-6)


def test_encode_groups_by_length_and_keeps_order():
    texts = ["a cat", "a cat sat on the mat and then it slept for a very long time", "dogs"] * 3
    tokenizer = SentencePieceTokenizer.from_texts(texts * 30, vocab_size=280)
    encoder = SentenceEncoder(tokenizer.vocab_size, output_dim=4, context_width=3, tokenizer=tokenizer)
    encoder.build()
    randomized(encoder, seed=1)
    together = encoder.encode(texts, batch_size=2)
    one_by_one = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert encoder.encode([]).shape == (0, 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"vocabulary_size": 1}, "vocabulary_size"),
    ({"output_dim": 0}, "output_dim"),
    ({"context_width": -1}, "context_width"),
    ({"matryoshka_dims": (8, 4)}, "matryoshka_dims"),
    ({"matryoshka_dims": (4, 99)}, "matryoshka_dims"),
])
def test_bad_arguments_get_one_clear_error(kwargs, message):
    arguments = {"vocabulary_size": 20, "output_dim": 8, **kwargs}
    with pytest.raises(ValueError, match=f"`{message}`.*Received"):
        SentenceEncoder(**arguments)


def test_texts_need_a_tokenizer_and_a_list():
    encoder = SentenceEncoder(20, output_dim=4)
    with pytest.raises(ValueError, match="has no tokenizer"):
        encoder.encode(["a"])
    tokenizer = SentencePieceTokenizer.from_texts(["a cat sat"] * 50, vocab_size=270)
    with pytest.raises(ValueError, match="list of texts"):
        SentenceEncoder(tokenizer.vocab_size, tokenizer=tokenizer).encode("a cat")


def test_a_text_autoencoder_with_a_sentence_encoder(tmp_path, corpus, tiny_tokenizer, tiny_config):
    """`encode()` returns the sentence encoder's vectors (through its own tokenizer), `encode_latent()` and
    `reconstruct()` stay the backbone's, truncation is allowed at the trained widths, and all of it survives saving."""
    import hypertext
    from hypertext.models import TextAutoencoder

    texts = corpus[:6]
    own = SentencePieceTokenizer.from_texts(corpus, vocab_size=700)
    encoder = SentenceEncoder(own.vocab_size, output_dim=8, context_width=4, matryoshka_dims=(4, 8), tokenizer=own)
    model = TextAutoencoder(tiny_config.model, tiny_tokenizer, sentence_encoder=encoder)
    model.build()
    randomized(encoder, seed=2)
    np.testing.assert_allclose(model.encode(texts), encoder.encode(texts), atol=1e-6)
    assert model.encode_latent(texts).shape == (6, tiny_config.model.latent_dim)
    assert model.embedding_tokenizer is own and model.metadata["matryoshka_dims"] == [4, 8]
    np.testing.assert_allclose(model.encode(texts, truncate_dim=4), encoder.encode(texts)[:, :4], atol=1e-6)
    with pytest.raises(ValueError, match="truncate_dim"):
        model.encode(texts, truncate_dim=5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = hypertext.load(str(path))
    np.testing.assert_allclose(loaded.encode(texts), model.encode(texts), atol=1e-6)
    np.testing.assert_allclose(loaded.encode_latent(texts), model.encode_latent(texts), atol=1e-6)
    assert loaded.reconstruct(texts) == model.reconstruct(texts)


def test_float16_piece_storage_keeps_the_vectors_within_half_precision():
    encoder = SentenceEncoder(30, output_dim=6, context_width=5)
    encoder.build()
    randomized(encoder, seed=4)
    half = encoder.with_pieces_dtype("float16")
    assert half.pieces.embeddings.dtype == "float16" and half.get_config()["pieces_dtype"] == "float16"
    ids = np.array([[4, 9, 13, 3, 0], [5, 6, 7, 8, 9]], "int32")
    full, got = (keras.ops.convert_to_numpy(e(ids)) for e in (encoder, half))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, full, rtol=2e-3, atol=2e-3)
    assert not np.array_equal(got, full)  # the storage really is half precision
