import os
import zipfile

import keras
import numpy as np
import pytest

import hypertext
from hypertext.layers import HyperConv1D
from hypertext.models import TextAutoencoder
from hypertext.lengths import pad_batch
from hypertext.models import text_autoencoder
from hypertext.models.text_autoencoder import Film
from hypertext.training import compile_model
from tests.conftest import backend


def _model(config, tokenizer, **changes):
    model = TextAutoencoder(config.replace(**changes), tokenizer)
    model.build()
    return model


def _one_fit_step(model, config, tokenizer, texts):
    ids = model.texts_to_ids(texts)
    weights = (ids != 0).astype("float32")
    compile_model(model, config, total_steps=10)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(ids, ids, sample_weight=weights, batch_size=len(ids), epochs=2, verbose=0)
    moved = sum(not np.allclose(b, keras.ops.convert_to_numpy(a)) for b, a in zip(before, model.trainable_weights))
    return history.history, moved


@pytest.mark.parametrize("hyper,block_channels", [(True, 0), (False, 0), (True, 8), (False, 8)])
def test_forward_and_train_step(hyper, block_channels, tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer, hyper=hyper, block_channels=block_channels)
    logits = model(model.texts_to_ids(corpus[:4]))
    assert tuple(logits.shape) == (4, 16, tiny_tokenizer.vocab_size)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    history, moved = _one_fit_step(model, tiny_config, tiny_tokenizer, corpus[:32])
    assert all(np.isfinite(history["loss"])) and 0 <= history["token_accuracy"][-1] <= 1
    assert moved == len(model.trainable_weights)
    assert any(isinstance(layer, HyperConv1D) for layer in model._flatten_layers()) == hyper


def test_ablation_twin_has_the_same_shapes(tiny_config, tiny_tokenizer, corpus):
    hyper, plain = _model(tiny_config, tiny_tokenizer), _model(tiny_config, tiny_tokenizer, hyper=False)
    assert hyper.encode(["a cat"]).shape == plain.encode(["a cat"]).shape
    ids = hyper.texts_to_ids(corpus[:3])
    assert tuple(hyper(ids).shape) == tuple(plain(ids).shape)
    assert not any(isinstance(layer, HyperConv1D) for layer in plain._flatten_layers())


@pytest.mark.parametrize("hyper", [True, False])
def test_z_reaches_the_decoder_only_through_its_conditioned_convs(hyper, tiny_config, tiny_tokenizer, rng):
    """The decoder starts from a learned seed: given one shared context (so one set of generated kernels, or one
    FiLM in the twin), every sample decodes to the same logits, whatever its z."""
    model = _model(tiny_config, tiny_tokenizer, hyper=hyper)
    for layer in model._flatten_layers():
        if isinstance(layer, Film):  # FiLM starts as the identity; give it something to say
            kernel = layer.to_scale_shift.kernel
            kernel.assign(rng.normal(scale=0.3, size=kernel.shape).astype("float32"))
    z = rng.normal(size=(4, tiny_config.latent_dim)).astype("float32")
    own = keras.ops.convert_to_numpy(model.decode_latent(z, length=8))
    assert np.abs(own[0] - own[1]).max() > 1e-3
    shared = keras.ops.broadcast_to(keras.ops.mean(model.context_norm(z), axis=0, keepdims=True), (4, 16))
    logits = keras.ops.convert_to_numpy(model.decode_latent(z, length=8, context=shared))
    np.testing.assert_allclose(logits, np.broadcast_to(logits[:1], logits.shape), rtol=1e-5, atol=1e-5)
    z_other = rng.normal(size=(4, tiny_config.latent_dim)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.decode_latent(z_other, length=8, context=shared)),
                               logits, rtol=1e-5, atol=1e-5)


def test_one_set_of_weights_serves_every_length(tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer)
    text = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) == 3][0]
    sequence = tiny_tokenizer.encode([text], add_eos=True)
    zs = []
    for length in (4, 8, 12, 16):
        ids = np.zeros((2, length), "int32")
        ids[0, :4] = sequence[0]
        ids[1] = np.arange(length) % 100 + 4
        assert tuple(model(ids).shape) == (2, length, tiny_tokenizer.vocab_size)
        zs.append(keras.ops.convert_to_numpy(model.encode_ids(ids))[0])
    # The pool is over real positions only: z does not depend on how far a batch pads the text.
    for z in zs[1:]:
        np.testing.assert_allclose(z, zs[0], rtol=1e-4, atol=1e-5)
    for bad in (6, 20):
        with pytest.raises(ValueError, match=rf"multiple of 4 \(2\*\*num_stages\) and at most max_length=16. "
                                             rf"Received: length={bad}"):
            model(np.ones((1, bad), "int32"))


def test_max_length_512_builds_and_trains_a_step(tiny_config, tiny_tokenizer, rng):
    config = tiny_config.replace(max_length=512)
    model = _model(config, tiny_tokenizer)
    compile_model(model, config, total_steps=4)
    ids = rng.integers(4, tiny_tokenizer.vocab_size, size=(2, 512)).astype("int32")
    ids[:, -1] = 3
    history = model.fit(ids, ids, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert tuple(model(ids[:, :96]).shape) == (2, 96, tiny_tokenizer.vocab_size)


class CopyModel(TextAutoencoder):
    """A perfect autoencoder: its logits are the one-hot input."""

    def call(self, token_ids, training=False):
        return keras.ops.one_hot(token_ids, self.config.vocab_size) * 10.0


def test_reconstruct_returns_long_texts_whole_window_by_window(tiny_config, tiny_tokenizer, corpus, monkeypatch):
    model = CopyModel(tiny_config, tiny_tokenizer)
    model.seen = []

    def recording_pad_batch(sequences, length):  # the batches the model is run on
        model.seen.append((len(sequences), length))
        return pad_batch(sequences, length)

    monkeypatch.setattr(text_autoencoder, "pad_batch", recording_pad_batch)
    long_text = " ".join(corpus[:5])
    pieces = tiny_tokenizer.encode([long_text])[0]
    assert len(pieces) > 5 * tiny_config.max_length
    short = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) < 6][:3]
    expected = tiny_tokenizer.decode(tiny_tokenizer.encode([long_text] + short))
    assert model.reconstruct([long_text] + short) == expected
    assert max(length for _, length in model.seen) == tiny_config.max_length
    windows = -(-len(pieces) // (tiny_config.max_length - 1))
    assert sum(n for n, _ in model.seen) == windows + len(short)  # one row per window, one per short text
    assert min(length for _, length in model.seen) <= 8  # the short texts ran at a short bucket length


def test_encode_groups_by_length_and_warns_once_per_call(tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer)
    texts = corpus[:40] + ["a much longer text " * 20] * 3
    with pytest.warns(UserWarning) as caught:
        z = model.encode(texts, batch_size=8)
    long = sum(len(p) + 1 > 16 for p in tiny_tokenizer.encode(texts))
    messages = [str(w.message) for w in caught if "longer than max_length" in str(w.message)]
    assert messages == [f"{long} of {len(texts)} texts were longer than max_length=16 tokens (eos included) and were "
                        "encoded from their first max_length - 1 pieces."]
    # Grouping by length does not change any vector: each text alone gives the same one.
    for i in (0, 7, 41):
        np.testing.assert_allclose(z[i], model.encode([texts[i]])[0], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(backend() == "jax", reason="300 tiny fit() epochs take minutes on JAX's CPU; forward and train "
                                               "step are covered above")
def test_learns_to_reconstruct_a_few_sentences(tiny_config, tiny_tokenizer, corpus):
    keras.utils.set_random_seed(0)
    config = tiny_config.replace(learning_rate=1e-2, warmup_steps=1)
    model = _model(config, tiny_tokenizer)
    texts = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) < 10][:8]
    ids = model.texts_to_ids(texts)
    compile_model(model, config, total_steps=300)
    model.fit(ids, ids, sample_weight=(ids != 0).astype("float32"), batch_size=8, epochs=300, verbose=0)
    assert model.reconstruct(texts) == texts


@pytest.mark.skipif(backend() != "tensorflow", reason="save/load round trip runs once, on TF")
def test_save_load_round_trip(tiny_config, tiny_tokenizer, corpus, tmp_path):
    model = _model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = hypertext.load(path)
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.encode(corpus[:20]))
    assert restored.reconstruct(corpus[:20]) == model.reconstruct(corpus[:20])
    assert restored.config == model.config


@pytest.mark.skipif(backend() != "tensorflow", reason="runs once, on TF")
def test_export_drops_the_optimizer_and_keeps_the_outputs(tiny_config, tiny_tokenizer, corpus, tmp_path):
    model = compile_model(_model(tiny_config, tiny_tokenizer), tiny_config, total_steps=10)
    _one_fit_step(model, tiny_config, tiny_tokenizer, corpus[:32])
    trained, exported = str(tmp_path / "trained.keras"), str(tmp_path / "exported.keras")
    model.save(trained)
    hypertext.saving.export(trained, exported)
    assert os.path.getsize(exported) < 0.8 * os.path.getsize(trained)  # no Adam moments
    restored = hypertext.load(exported)
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.encode(corpus[:20]))
    assert restored.reconstruct(corpus[:20]) == model.reconstruct(corpus[:20])


def test_text_api(tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer)
    z = model.encode(corpus[:600], batch_size=256)  # several internal batches
    assert z.shape == (600, tiny_config.latent_dim) and z.dtype == np.float32
    np.testing.assert_array_equal(z, model.encode(corpus[:600]))  # deterministic
    np.testing.assert_allclose(z[:5], model.encode(corpus[:5]), atol=1e-5)  # independent of batching
    assert model.encode([]).shape == (0, tiny_config.latent_dim)
    unit = model.encode(corpus[:5], normalize=True)
    z64 = z[:5].astype("float64")
    np.testing.assert_allclose(unit, z64 / np.linalg.norm(z64, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert model.reconstruct([]) == [] and model.decode(np.zeros((0, tiny_config.latent_dim))) == []
    assert len(model.decode(z[:3])) == 3 and all(isinstance(t, str) for t in model.decode(z[:3]))
    assert len(model.interpolate("a small cat", "a large dog", steps=4)) == 4
    with pytest.warns(UserWarning, match=r"1 of 2 texts were longer than max_length=16 tokens \(eos included\)"):
        model.encode(["short", "a much longer text " * 20])


def test_text_api_errors(tiny_config, tiny_tokenizer):
    model = _model(tiny_config, tiny_tokenizer)
    with pytest.raises(ValueError, match=r"`z` must have shape \(N, 16\). Received: z.shape=\(2, 3\)"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"list of texts, not a single string"):
        model.encode("a cat")
    with pytest.raises(ValueError, match=r"`steps` must be an integer >= 2"):
        model.interpolate("a", "b", steps=1)
    with pytest.raises(ValueError, match=r"no tokenizer"):
        _model(tiny_config, None).encode(["a cat"])
    with pytest.raises(ValueError, match=r"`max_length` must be a multiple of 2\*\*num_stages = 4"):
        TextAutoencoder(tiny_config.replace(max_length=18))


@pytest.mark.skipif(backend() != "tensorflow", reason="file checks are backend-independent")
class TestLoadErrors:
    @pytest.fixture
    def saved(self, tiny_config, tiny_tokenizer, tmp_path):
        path = str(tmp_path / "model.keras")
        _model(tiny_config, tiny_tokenizer).save(path)
        return path

    def test_missing(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"No checkpoint at '.*nope.keras'"):
            hypertext.load(str(tmp_path / "nope.keras"))

    def test_empty_and_non_keras(self, tmp_path):
        (tmp_path / "empty.keras").write_bytes(b"")
        with pytest.raises(hypertext.CheckpointError, match=r"is empty \(0 bytes\)"):
            hypertext.load(str(tmp_path / "empty.keras"))
        (tmp_path / "text.keras").write_text("hello, not a model")
        with pytest.raises(hypertext.CheckpointError, match=r"not a .keras file \(not a zip archive\)"):
            hypertext.load(str(tmp_path / "text.keras"))

    @pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
    def test_truncated(self, saved, fraction, tmp_path):
        data = open(saved, "rb").read()
        cut = tmp_path / "cut.keras"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(hypertext.CheckpointError):
            hypertext.load(str(cut))

    def test_another_keras_model(self, tmp_path):
        path = str(tmp_path / "other.keras")
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
        with pytest.raises(hypertext.CheckpointError, match=r"holds a 'Sequential' model, not a hypertext"):
            hypertext.load(path)

    def test_missing_tokenizer_asset(self, saved, tmp_path):
        stripped = str(tmp_path / "stripped.keras")
        with zipfile.ZipFile(saved) as src, zipfile.ZipFile(stripped, "w") as dst:
            for item in src.infolist():
                if not item.filename.endswith("sentencepiece.model"):
                    dst.writestr(item, src.read(item.filename))
        with pytest.raises(hypertext.CheckpointError, match=r"has no tokenizer asset"):
            hypertext.load(stripped)
        assert os.path.isfile(saved)  # the original is untouched


def _log_softmax64(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


@pytest.mark.parametrize("idf", [False, True])
def test_bag_of_tokens_loss_matches_numpy(idf, tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer, bow_weight=0.5, bow_idf=idf)
    rng = np.random.default_rng(0)
    ids = model.texts_to_ids(corpus[:6])
    if idf:
        model.set_bag_of_tokens_idf(model.texts_to_ids(corpus[:200]))
    z = rng.normal(size=(6, tiny_config.latent_dim)).astype("float32")
    got = float(keras.ops.convert_to_numpy(model.bag_of_tokens_loss(ids, z)))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in model.bow_head.weights)
    log_probs = _log_softmax64(z.astype("float64") @ kernel + bias)
    weights = keras.ops.convert_to_numpy(model.bow_token_weights).astype("float64")
    assert idf == (np.ptp(weights) > 0)
    expected = []
    for row, lp in zip(ids, log_probs):
        words = [int(t) for t in row if t > 3]  # pad, unk, bos and eos are not part of the bag
        expected.append(-np.sum(weights[words] * lp[words]) / np.sum(weights[words]))
    np.testing.assert_allclose(got, np.mean(expected), rtol=1e-5)


def test_set_bag_of_tokens_idf(tiny_config, tiny_tokenizer):
    model = _model(tiny_config, tiny_tokenizer, bow_weight=0.5, bow_idf=True)
    ids = np.array([[5, 5, 6, 3, 0], [5, 7, 3, 0, 0], [8, 3, 0, 0, 0]])
    model.set_bag_of_tokens_idf(ids)
    weights = keras.ops.convert_to_numpy(model.bow_token_weights)
    # token 5 is in 2 of 3 texts (twice in one: still one document); 9 in none.
    np.testing.assert_allclose(weights[[5, 6, 9]], [np.log(4 / 3) + 1, np.log(4 / 2) + 1, np.log(4) + 1], rtol=1e-6)
    with pytest.raises(ValueError, match="has no bag-of-tokens head: set `bow_weight` > 0"):
        _model(tiny_config, tiny_tokenizer).set_bag_of_tokens_idf(ids)


def test_bag_of_tokens_loss_is_added_in_training_only(tiny_config, tiny_tokenizer, corpus):
    ids = _model(tiny_config, tiny_tokenizer).texts_to_ids(corpus[:4])
    plain = _model(tiny_config, tiny_tokenizer)
    plain(ids, training=True)
    assert plain.bow_head is None and not plain.losses
    model = _model(tiny_config, tiny_tokenizer, bow_weight=0.5)
    model(ids, training=False)
    assert not model.losses
    model(ids, training=True)
    expected = 0.5 * keras.ops.convert_to_numpy(model.bag_of_tokens_loss(ids, model.encode_ids(ids)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]), expected, rtol=1e-5)
    history, moved = _one_fit_step(model, tiny_config.replace(bow_weight=0.5), tiny_tokenizer, corpus[:32])
    assert moved == len(model.trainable_weights)  # the bow head trains too
    # fit's loss is reconstruction plus the weighted bag-of-tokens term; evaluate's is reconstruction alone.
    ids = model.texts_to_ids(corpus[:32])
    val_loss = model.evaluate(ids, ids, sample_weight=(ids != 0).astype("float32"), verbose=0)[0]
    assert history["loss"][-1] > val_loss + 1.0  # two steps in, the bag term is still near 0.5 * log(512) = 3.1


def test_pooled_latent_adds_the_mean_token_embedding(tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer, pooled_latent=True)
    ids = model.texts_to_ids(corpus[:5])
    pooled_to_latent, model.pooled_to_latent = model.pooled_to_latent, None
    positional = keras.ops.convert_to_numpy(model.encode_ids(ids)).astype("float64")
    model.pooled_to_latent = pooled_to_latent
    table = keras.ops.convert_to_numpy(model.embedding.embeddings).astype("float64")
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in model.pooled_to_latent.weights)
    pooled = np.stack([table[[t for t in row if t > 3]].mean(0) for row in ids])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.encode_ids(ids)), positional + pooled @ kernel + bias,
                               rtol=1e-4, atol=1e-5)


def _info_nce64(z, z_positive, temperature):
    """Symmetric InfoNCE in float64 NumPy: cross-entropy of the pair's index over cosine similarities / temperature,
    along rows and along columns."""
    a = z / np.linalg.norm(z, axis=1, keepdims=True)
    b = z_positive / np.linalg.norm(z_positive, axis=1, keepdims=True)
    logits = a @ b.T / temperature
    rows = -np.mean(np.diag(logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))))
    columns = -np.mean(np.diag(logits - np.log(np.sum(np.exp(logits), axis=0, keepdims=True))))
    return (rows + columns) / 2


@pytest.mark.parametrize("temperature", [0.05, 1.0])
def test_contrastive_loss_matches_numpy(temperature, tiny_config, tiny_tokenizer, rng):
    model = _model(tiny_config, tiny_tokenizer, contrastive_weight=1.0, contrastive_temperature=temperature)
    z, z_positive = rng.normal(size=(2, 7, tiny_config.latent_dim))
    got = float(keras.ops.convert_to_numpy(model.contrastive_loss(z.astype("float32"), z_positive.astype("float32"))))
    np.testing.assert_allclose(got, _info_nce64(z, z_positive, temperature), rtol=1e-4)
    # Orthogonal texts, each its own positive: cosine 1 with itself and 0 with the 6 others, whatever their norm.
    eye = np.eye(7, tiny_config.latent_dim, dtype="float32") * 3.0
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(model.contrastive_loss(eye, eye))),
                               np.log(np.exp(1 / temperature) + 6) - 1 / temperature, rtol=1e-4, atol=1e-6)


def test_contrastive_loss_is_added_when_positives_come(tiny_config, tiny_tokenizer, corpus):
    model = _model(tiny_config, tiny_tokenizer, contrastive_weight=0.5)
    ids = model.texts_to_ids(corpus[:8])
    positives = model.texts_to_ids(corpus[8:16])
    model(ids, training=True)
    assert not model.losses  # no positives, no contrastive term
    logits = model({"token_ids": ids, "positive_ids": positives}, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), keras.ops.convert_to_numpy(model(ids)), atol=1e-5)
    model({"token_ids": ids, "positive_ids": positives}, training=False)
    expected = 0.5 * keras.ops.convert_to_numpy(model.contrastive_loss(model.encode_ids(ids),
                                                                        model.encode_ids(positives)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]), expected, rtol=1e-5)
    off = _model(tiny_config, tiny_tokenizer)
    off({"token_ids": ids, "positive_ids": positives}, training=True)
    assert not off.losses  # contrastive_weight=0: positives are ignored
    with pytest.raises(ValueError, match="must have the key 'token_ids'.*Received: keys=\\['ids'\\]"):
        model({"ids": ids})


def _distill64(z, teacher, temperature):
    """The distillation loss in float64 NumPy: per row, the KL divergence from the softmax over the teacher's cosine
    similarities to the other rows to that over z's, averaged over rows."""
    def log_softmax_off_diagonal(v):
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        logits = v @ v.T / temperature
        off = ~np.eye(len(v), dtype=bool)
        out = np.zeros_like(logits)
        for i in range(len(v)):
            row = logits[i][off[i]]
            out[i][off[i]] = row - row.max() - np.log(np.sum(np.exp(row - row.max())))
        return out, off

    t, off = log_softmax_off_diagonal(teacher)
    s, _ = log_softmax_off_diagonal(z)
    return np.mean(np.sum(np.where(off, np.exp(t) * (t - s), 0.0), axis=1))


@pytest.mark.parametrize("temperature", [0.05, 1.0])
def test_distill_loss_matches_numpy(temperature, tiny_config, tiny_tokenizer, rng):
    model = _model(tiny_config, tiny_tokenizer, distill_weight=1.0, distill_temperature=temperature)

    def loss(z, teacher):
        return float(keras.ops.convert_to_numpy(model.distill_loss(z.astype("float32"), teacher.astype("float32"))))

    z, teacher = rng.normal(size=(9, tiny_config.latent_dim)), rng.normal(size=(9, 5))
    expected = _distill64(z, teacher, temperature)
    assert expected > 1e-3
    np.testing.assert_allclose(loss(z, teacher), expected, rtol=1e-4)
    # Only cosine similarities count: z that is the teacher rotated into another, wider basis and rescaled per row
    # matches it exactly.
    rotation, _ = np.linalg.qr(rng.normal(size=(tiny_config.latent_dim, tiny_config.latent_dim)))
    rotated = np.pad(teacher, ((0, 0), (0, tiny_config.latent_dim - 5))) @ rotation * rng.uniform(0.5, 3, (9, 1))
    assert abs(loss(rotated, teacher)) < 1e-4


def test_projection_distill_loss_matches_numpy_and_is_left_out_of_exports(tiny_config, tiny_tokenizer, corpus, rng,
                                                                         tmp_path):
    import hypertext

    model = _model(tiny_config, tiny_tokenizer, distill_weight=1.0, distill_mode="projection", teacher_dim=6)
    z, teacher = rng.normal(size=(9, tiny_config.latent_dim)), rng.normal(size=(9, 6))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in model.distill_head.weights)
    predicted = z @ kernel + bias
    expected = 1 - np.mean(np.sum(predicted * teacher, axis=1) /
                           (np.linalg.norm(predicted, axis=1) * np.linalg.norm(teacher, axis=1)))
    got = float(keras.ops.convert_to_numpy(model.distill_loss(z.astype("float32"), teacher.astype("float32"))))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert model.distill_head.weights[0] is model.training_head_variables()[-2]
    # An export drops the head (and says so in its config); encode() is unchanged.
    model.save(str(tmp_path / "m.keras"))
    hypertext.saving.export(str(tmp_path / "m.keras"), str(tmp_path / "export.keras"))
    exported = hypertext.load(str(tmp_path / "export.keras"))
    assert exported.distill_head is None and exported.config.distill_weight == 0.0
    np.testing.assert_allclose(exported.encode(corpus[:4]), model.encode(corpus[:4]), atol=1e-6)


def test_distill_loss_is_added_when_teacher_vectors_come(tiny_config, tiny_tokenizer, corpus, rng):
    model = _model(tiny_config, tiny_tokenizer, distill_weight=0.25)
    ids = model.texts_to_ids(corpus[:8])
    teacher = rng.normal(size=(8, 12)).astype("float32")
    model({"token_ids": ids, "teacher_vectors": teacher}, training=True)
    expected = 0.25 * keras.ops.convert_to_numpy(model.distill_loss(model.encode_ids(ids), teacher))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]), expected, rtol=1e-5)
    off = _model(tiny_config, tiny_tokenizer)
    off({"token_ids": ids, "teacher_vectors": teacher}, training=True)
    assert not off.losses  # distill_weight=0: the teacher is ignored
    with pytest.raises(ValueError, match="optionally 'positive_ids' and 'teacher_vectors'. Received: "
                                         "keys=\\['teacher', 'token_ids'\\]"):
        model({"token_ids": ids, "teacher": teacher})


def test_contrastive_training_pulls_positives_together(tiny_config, tiny_tokenizer, corpus):
    """A few steps with a heavy contrastive term raise the cosine of each text with its positive above its cosine
    with the other texts."""
    from hypertext.data.pairs import PairBatches

    config = tiny_config.replace(contrastive_weight=5.0, contrastive_temperature=0.1, learning_rate=3e-3,
                                 positive_drop=0.2)
    model = _model(config, tiny_tokenizer)
    sequences = [s for s in model.tokenizer.encode(corpus[:64], add_eos=True) if len(s) <= 16]
    batches = PairBatches([np.asarray(s) for s in sequences], batch_size=len(sequences), max_length=16,
                          length_multiple=4, positive_drop=0.2, seed=0)
    x, y, weights = batches[0]

    def margin():
        z = keras.ops.convert_to_numpy(model.encode_ids(x["token_ids"]))
        p = keras.ops.convert_to_numpy(model.encode_ids(x["positive_ids"]))
        z, p = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (z, p))
        s = z @ p.T
        return np.mean(np.diag(s)) - np.mean(s[~np.eye(len(s), dtype=bool)])

    compile_model(model, config, total_steps=30)
    before = margin()
    model.fit(x, y, sample_weight=weights, epochs=30, batch_size=len(y), verbose=0)
    assert margin() > before + 0.2
