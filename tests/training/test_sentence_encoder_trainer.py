"""The sentence-encoder trainer's parts (basis, piece weights, piece starts, vocabulary measure) and a tiny run."""

import numpy as np
import pytest

from hypertext.training import sentence_encoder_trainer as trainer
from hypertext.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer

WORDS = ("cat dog bird fish horse sat lay ran swam flew on in under near the a mat rug tree pond field quickly "
         "slowly happily big small red blue").split()


def corpus(n, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(3, 10))) for _ in range(n)]


def bag_teacher(texts):
    """A stand-in teacher: each word adds its own fixed random vector."""
    table = np.random.default_rng(7).normal(size=(len(WORDS), 16))
    index = {w: i for i, w in enumerate(WORDS)}
    return np.stack([sum((table[index[w]] for w in t.split() if w in index), np.full(16, 0.01)) for t in texts])


def test_principal_rotation_is_orthogonal_keeps_cosines_and_sorts_variance(rng):
    vectors = rng.normal(size=(500, 6)) * np.array([0.1, 3.0, 1.0, 0.5, 2.0, 0.2])
    R = trainer.principal_rotation(vectors)
    np.testing.assert_allclose(R.T @ R, np.eye(6), atol=1e-5)
    rotated = vectors @ R
    variance = rotated.var(axis=0)
    assert list(np.argsort(-variance)) == list(range(6))
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(unit(rotated) @ unit(rotated).T, unit(vectors) @ unit(vectors).T, atol=1e-5)


def test_sif_logits_from_counts():
    logits = trainer.sif_logits([[4, 4, 5], [4, 6]], 8, a=0.1)
    p = np.array([0, 0, 0, 0, 3, 1, 1, 0]) / 5
    np.testing.assert_allclose(logits, np.log(0.1 / (0.1 + p)), rtol=1e-6)
    assert logits[4] < logits[5] < logits[7]  # frequent pieces weigh less


def test_piece_starts_are_the_teacher_on_each_surface():
    tokenizer = SentencePieceTokenizer.from_texts(corpus(300), vocab_size=300)
    surfaces = trainer.piece_surfaces(tokenizer)
    assert surfaces[:4] == ["", "", "", ""] and "" in surfaces[4:260]  # specials and bytes have none
    rotation = np.eye(16, dtype="float32")[::-1].copy()
    starts = trainer.initial_piece_vectors(tokenizer, bag_teacher, rotation)
    i = next(i for i, s in enumerate(surfaces) if s in WORDS)  # a piece that is a whole word
    expected = bag_teacher([surfaces[i]])[0]
    np.testing.assert_allclose(starts[i], (expected / np.linalg.norm(expected)) @ rotation, atol=1e-5)


def test_a_larger_vocabulary_cuts_words_into_fewer_pieces():
    from hypertext.data import load_texts

    texts = load_texts("wordnet", "validation")[:3000]
    small = SentencePieceTokenizer.from_texts(texts, vocab_size=500)
    large = SentencePieceTokenizer.from_texts(texts, vocab_size=2000)
    (small_ppw, small_split), (large_ppw, large_split) = (trainer.pieces_per_word(t, texts) for t in (small, large))
    assert large_ppw < small_ppw and large_split < small_split
    assert large_ppw >= 1.0 and trainer.pieces_per_word(large, []) == (0.0, 0.0)


def test_a_tiny_run_learns_the_teacher_and_goes_on_from_a_saved_run(tmp_path):
    texts, held_out = corpus(1500), corpus(200, seed=9)
    teacher = bag_teacher(texts)
    tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=300)

    def agreement(encoder):
        from hypertext.evaluation import spearman

        s, t = encoder.encode(held_out), bag_teacher(held_out)
        unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
        iu = np.triu_indices(len(held_out), 1)
        return spearman((unit(s) @ unit(s).T)[iu], (unit(t) @ unit(t).T)[iu])

    start, _ = trainer.train_sentence_encoder(texts, teacher, bag_teacher, tokenizer=tokenizer, epochs=0,
                                              matryoshka_dims=(4, 8), log=lambda *_: None)
    encoder, rotation = trainer.train_sentence_encoder(texts, teacher, bag_teacher, tokenizer=tokenizer, epochs=3,
                                                       batch_size=64, matryoshka_dims=(4, 8), log=lambda *_: None)
    assert encoder.matryoshka_dims == (4, 8, 16)
    before, after = agreement(start), agreement(encoder)
    assert after > before + 0.2 and after > 0.7, (before, after)  # measured: 0.36 -> 0.78
    trainer.save_run(tmp_path, encoder, rotation)
    loaded, loaded_rotation = trainer.load_run(tmp_path)
    np.testing.assert_allclose(loaded.encode(held_out), encoder.encode(held_out), atol=1e-6)
    np.testing.assert_array_equal(loaded_rotation, rotation)
    more, same_rotation = trainer.train_sentence_encoder(texts, teacher, bag_teacher, epochs=1, batch_size=64,
                                                         init=(loaded, loaded_rotation), log=lambda *_: None)
    assert same_rotation is loaded_rotation and more.tokenizer is loaded.tokenizer
    assert agreement(more) > after - 0.02


def test_mismatched_teacher_rows_are_an_error():
    with pytest.raises(ValueError, match="one row per text"):
        trainer.train_sentence_encoder(["a", "b"], np.zeros((3, 4)), bag_teacher, epochs=0)


def test_attach_gives_a_model_that_encodes_with_the_encoder_and_keeps_the_rest(tmp_path):
    import hypertext
    from hypertext.configs import get_config
    from hypertext.data import load_texts
    from hypertext.models import TextAutoencoder

    texts = load_texts("wordnet", "validation")[:400]
    tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=400)
    teacher = np.random.default_rng(0).normal(size=(len(texts), 8)).astype("float32")
    encoder, _ = trainer.train_sentence_encoder(texts, teacher, lambda t: np.ones((len(t), 8), "float32"),
                                                tokenizer=tokenizer, epochs=1, batch_size=64, matryoshka_dims=(4,),
                                                log=lambda *_: None)
    model = TextAutoencoder(get_config("tiny").model.replace(max_length=32), tokenizer, metadata={"corpus": "x"})
    model.build()
    model.fit_latent_space(texts[:100])
    joined = trainer.attach(model, encoder, texts, {"sentence_encoder": {"teacher": "t"}}, calibration_texts=50)
    assert joined.backbone is model.backbone and joined.metadata["corpus"] == "x"
    assert joined.metadata["matryoshka_dims"] == [4, 8] and "embedding:raw:8" in joined.metadata["vector_ranges"]
    assert joined.sentence_encoder.pieces.embeddings.dtype == "float16"
    np.testing.assert_allclose(joined.encode(texts[:5]), encoder.encode(texts[:5]), rtol=1e-2, atol=1e-2)
    np.testing.assert_array_equal(keras_numpy(joined.prior.mean), keras_numpy(model.prior.mean))
    assert joined.lexicon.words == model.lexicon.words
    joined.save(tmp_path / "m.keras")
    assert hypertext.load(str(tmp_path / "m.keras")).encode(texts[:2], precision="int8").dtype == np.int8
    again, rotation = trainer.init_from(str(tmp_path / "m.keras"), texts, teacher)  # a model's encoder, to go on
    assert again.pieces.embeddings.dtype == "float32"
    np.testing.assert_allclose(again.encode(texts[:5]), joined.encode(texts[:5]), atol=1e-6)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(8), atol=1e-5)
    # benchmarks/vectors.py's `NAME:backbone`: the model's own vectors again, as before the encoder was attached
    from tests.test_dev_benchmark import load_script

    vectors = load_script("benchmarks/vectors.py", "vectors_benchmark")
    plain = vectors.load_model(str(tmp_path / "m.keras") + vectors.BACKBONE)
    assert plain.sentence_encoder is None and plain.embedding_dim == model.embedding_dim != 8
    np.testing.assert_array_equal(plain.encode(texts[:7]), model.encode(texts[:7]))
    assert vectors.backbone_only(model) is model
    model.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="a model without one"):
        trainer.init_from(str(tmp_path / "plain.keras"), texts, teacher)


def keras_numpy(x):
    import keras

    return keras.ops.convert_to_numpy(x)


def test_rotation_onto_recovers_an_encoders_basis(rng):
    texts = corpus(600)
    teacher = bag_teacher(texts)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))

    class Rotated:  # an encoder that is the teacher in another orthogonal basis, a little off
        def encode(self, batch):
            t = bag_teacher(batch)
            return t @ q + np.random.default_rng(1).normal(0, 0.01, t.shape) * np.abs(t).mean()

    rotation = trainer.rotation_onto(Rotated(), texts, teacher, limit=400)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(16), atol=1e-5)
    np.testing.assert_allclose(rotation, q, atol=0.05)


def shifted(texts, old, new):
    return [" ".join(new if w == old else w for w in t.split()) for t in texts]


def test_natural_pairs_teach_what_the_teacher_cannot_see():
    """No text the teacher encodes holds "kitten"; pairs of a text with "cat" and the same text with "kitten" teach
    the encoder that the two words mean the same, which distillation alone cannot."""
    texts = corpus(1500)
    teacher = bag_teacher(texts)
    tokenizer = SentencePieceTokenizer.from_texts(texts + [t.replace("cat", "kitten") for t in texts],
                                                  vocab_size=300)
    with_cat = [t for t in corpus(3000, seed=5) if "cat" in t.split()]
    pairs = [(t, k) for t, k in zip(with_cat, shifted(with_cat, "cat", "kitten"))][:600]
    held = [t for t in corpus(3000, seed=11) if "cat" in t.split()][:100]

    def closeness(encoder):
        a, b = encoder.encode(held), encoder.encode(shifted(held, "cat", "kitten"))
        others = encoder.encode(shifted(held, "cat", "horse"))
        cos = lambda x, y: (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)  # noqa: E731
        return float(np.mean(cos(a, b) - cos(a, others)))

    common = dict(tokenizer=tokenizer, epochs=3, batch_size=64, matryoshka_dims=(8,), log=lambda *_: None)
    plain, _ = trainer.train_sentence_encoder(texts, teacher, bag_teacher, **common)
    paired, _ = trainer.train_sentence_encoder(texts, teacher, bag_teacher, pairs=pairs, pair_weight=1.0,
                                               pair_batch_size=32, **common)
    assert closeness(paired) > closeness(plain) + 0.1, (closeness(plain), closeness(paired))


def test_the_first_two_batches_differ_in_length_and_every_text_comes_once():
    # Keras fixes a PyDataset's shapes on TensorFlow from its first two batches; a shared length there would be fixed
    # for the run (a run on 262,144 texts failed so). Mostly short texts, a few long: the first two would often match.
    sequences = [[5] * 3] * 200 + [[6] * 40] * 12
    for seed in range(20):
        batches = trainer.DistillationBatches(sequences, np.zeros((len(sequences), 4)), 8, 64, seed=seed)
        for _ in range(3):
            assert batches.batches[0][1] != batches.batches[1][1]
            rows = np.concatenate([indices for indices, _ in batches.batches])
            assert sorted(rows.tolist()) == list(range(len(sequences)))
            batches.on_epoch_end()
    one_length = trainer.DistillationBatches([[5] * 3] * 40, np.zeros((40, 4)), 8, 64)  # nothing to swap: no error
    assert len(one_length) == 5


def test_pair_batches_go_round_the_pairs_and_pad_each_side():
    sequences = [[5, 6, 7]] * 10
    pairs = [([5] * (i + 1), [6] * (2 * i + 1)) for i in range(7)]
    batches = trainer.DistillationBatches(sequences, np.zeros((10, 4)), 4, 16, pairs=pairs, pair_batch_size=3,
                                          pair_length=5)
    seen = []
    for _ in range(2):
        for i in range(len(batches)):
            inputs, targets = batches[i]
            assert inputs["token_ids"].shape[0] == targets["distillation"].shape[0]
            assert inputs["first"].shape[0] == inputs["second"].shape[0] == targets["pairs"].shape[0] == 3
            assert inputs["first"].shape[1] == inputs["second"].shape[1] == 5
            seen += [int((row > 0).sum()) for row in inputs["first"]]
        batches.on_epoch_end()
    assert sorted(set(seen)) == list(range(1, 6))  # every pair's first side, cut at pair_length


def test_pair_arguments_are_checked():
    texts = corpus(50)
    with pytest.raises(ValueError, match="Received: 3 pairs and pair_batch_size=8"):
        trainer.train_sentence_encoder(texts, bag_teacher(texts), bag_teacher, epochs=0, pairs=[("a", "b")] * 3,
                                       pair_batch_size=8)
    with pytest.raises(ValueError, match="Received: pair_weight=0"):
        trainer.train_sentence_encoder(texts, bag_teacher(texts), bag_teacher, epochs=0, pairs=[("a", "b")] * 3,
                                       pair_batch_size=2, pair_weight=0)


def test_balance_pairs_gives_each_group_the_largest_groups_count():
    big = [(f"a{i}", f"b{i}") for i in range(10)]
    small = [(f"x{i}", f"y{i}") for i in range(3)]
    mixed = trainer.balance_pairs([big, small, []], seed=1)
    assert len(mixed) == 20 and mixed[:10] == big
    repeated = mixed[10:]
    assert set(repeated) == set(small)
    counts = sorted(repeated.count(p) for p in small)
    assert counts == [3, 3, 4]  # 10 = 3 whole rounds + 1 drawn without replacement
    assert trainer.balance_pairs([]) == [] and trainer.balance_pairs([small]) == small
