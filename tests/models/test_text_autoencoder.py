import os
import zipfile

import keras
import numpy as np
import pytest

import hypertext
from hypertext.lengths import pad_batch
from hypertext.models import HypertextBackbone, TextAutoencoder, hypertext_preprocessor
from hypertext.training import compile_model
from tests.conftest import backend
from tests.models.helpers import one_fit_step, task, text_model


class CopyBackbone(HypertextBackbone):
    """A perfect autoencoder: its logits are the one-hot input."""

    def call(self, token_ids, training=False):
        return keras.ops.one_hot(token_ids, self.config.vocab_size) * 10.0


def test_reconstruct_returns_long_texts_whole_window_by_window(tiny_config, tiny_tokenizer, corpus, monkeypatch):
    model = TextAutoencoder(backbone=CopyBackbone(tiny_config), tokenizer=tiny_tokenizer)
    model.seen = []

    def recording_pad_batch(sequences, length):  # the batches the model is run on
        model.seen.append((len(sequences), length))
        return pad_batch(sequences, length)

    monkeypatch.setattr(hypertext_preprocessor, "pad_batch", recording_pad_batch)
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
    model = text_model(tiny_config, tiny_tokenizer)
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


# Not on JAX, whose CI leg is the longest (15 s there on a 2-core Intel Xeon): JAX training is covered by the train
# steps above and by tests/test_tf_free.py, which trains the tiny config with train.py.
@pytest.mark.backends("tensorflow", "torch")
def test_learns_to_reconstruct_a_few_sentences(tiny_config, tiny_tokenizer, corpus):
    """Margins that hold on any CPU, not one exact outcome: how many of the 8 sentences come back word for word after
    300 tiny steps depends on the floating-point path (7 of 8 on PyTorch on a 2-core Intel Xeon with AVX-512 in
    one CI run, 8 of 8 on AMD and in another Intel run)."""
    keras.utils.set_random_seed(0)
    config = tiny_config.replace(learning_rate=1e-2, warmup_steps=1)
    trainer = task(config, tiny_tokenizer)
    model = trainer.text_model()
    texts = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) < 10][:8]
    ids = model.texts_to_ids(texts)
    weights = (ids != 0).astype("float32")
    compile_model(trainer, config, total_steps=300)
    before = float(trainer.evaluate(ids, ids, sample_weight=weights, batch_size=8, verbose=0, return_dict=True)["loss"])
    # 300 steps on the one batch of 8, as 30 epochs of 10 copies (in order): one epoch's fixed cost per 10 steps
    copies = (10, 1)
    trainer.fit(np.tile(ids, copies), np.tile(ids, copies), sample_weight=np.tile(weights, copies), batch_size=8,
                epochs=30, shuffle=False, verbose=0)
    after = float(trainer.evaluate(ids, ids, sample_weight=weights, batch_size=8, verbose=0, return_dict=True)["loss"])
    assert after < before / 50, (before, after)  # measured: 3.51 -> 0.0028 (torch, Intel)
    # Teacher-forced token accuracy over the real (non-pad) tokens, eos included.
    predicted = np.argmax(keras.ops.convert_to_numpy(trainer.text_model().backbone(ids)), axis=-1)
    accuracy = float(((predicted == ids) * weights).sum() / weights.sum())
    assert accuracy >= 0.9, accuracy
    rebuilt = model.reconstruct(texts)
    assert sum(a == b for a, b in zip(rebuilt, texts)) >= 6, list(zip(texts, rebuilt))


@pytest.mark.backends("tensorflow")  # save/load round trip runs once, on TF
def test_save_load_round_trip(tiny_config, tiny_tokenizer, corpus, tmp_path):
    model = text_model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = hypertext.load(path)
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.encode(corpus[:20]))
    assert restored.reconstruct(corpus[:20]) == model.reconstruct(corpus[:20])
    assert restored.config == model.config


@pytest.mark.backends("tensorflow")  # runs once, on TF
def test_export_keeps_the_outputs_of_a_trained_model(tiny_config, tiny_tokenizer, corpus, tmp_path):
    trainer = task(tiny_config, tiny_tokenizer)
    one_fit_step(trainer, tiny_config, corpus[:32])
    model = trainer.text_model()  # the trained backbone, without the task's optimizer
    trained, exported = str(tmp_path / "trained.keras"), str(tmp_path / "exported.keras")
    model.save(trained)
    hypertext.saving.export(trained, exported)
    assert abs(os.path.getsize(exported) - os.path.getsize(trained)) < 0.05 * os.path.getsize(trained)
    restored = hypertext.load(exported)
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.encode(corpus[:20]))
    assert restored.reconstruct(corpus[:20]) == model.reconstruct(corpus[:20])


def test_text_api(tiny_config, tiny_tokenizer, corpus):
    model = text_model(tiny_config, tiny_tokenizer)
    z = model.encode(corpus[:600], batch_size=256)  # several internal batches
    assert z.shape == (600, tiny_config.latent_dim) and z.dtype == np.float32
    np.testing.assert_array_equal(z, model.encode(corpus[:600]))  # deterministic
    np.testing.assert_allclose(z[:5], model.encode(corpus[:5]), atol=1e-5)  # independent of batching
    assert model.encode([]).shape == (0, tiny_config.latent_dim)
    unit = model.encode(corpus[:5], normalize=True)
    z64 = z[:5].astype("float64")
    np.testing.assert_allclose(unit, z64 / np.linalg.norm(z64, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert model.reconstruct([]) == [] and model.decode(np.zeros((0, tiny_config.latent_dim))) == []
    # decode: the greedy piece at each position of the backbone's logits, cut at the first eos.
    logits = keras.ops.convert_to_numpy(model.backbone.decode_latent(z[:3]))
    greedy = [list(row[:list(row).index(3)]) if 3 in row else list(row) for row in logits.argmax(-1)]
    assert model.decode(z[:3]) == tiny_tokenizer.decode(greedy) and len(greedy) == 3
    # interpolate: the decoded points of the straight line between the two texts' z (no lexicon: plain decoding).
    ends = model.encode_latent(["a small cat", "a large dog"])
    line = [(1 - t) * ends[0] + t * ends[1] for t in np.linspace(0.0, 1.0, 4, dtype="float32")]
    assert model.interpolate("a small cat", "a large dog", steps=4) == model.decode(np.stack(line))
    with pytest.warns(UserWarning, match=r"1 of 2 texts were longer than max_length=16 tokens \(eos included\)"):
        model.encode(["short", "a much longer text " * 20])


def test_compiled_inference_reads_the_current_weights(tiny_config, tiny_tokenizer, corpus):
    """`encode`, `encode_latent` and `decode` run compiled (tf.function on TF, a stateless jax.jit on JAX): after the
    weights change, they give the new model's outputs, those of the eager backbone call, not the first call's."""
    model = text_model(tiny_config, tiny_tokenizer)
    texts = corpus[:4]
    ids = model.preprocessor.texts_to_ids(texts)
    before = model.encode_latent(texts)
    for w in model.backbone.weights:
        w.assign(keras.ops.convert_to_numpy(w) * 1.5 + 0.01)
    after = model.encode_latent(texts)
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, keras.ops.convert_to_numpy(model.backbone.encode_ids(ids)), atol=1e-5)
    logits = keras.ops.convert_to_numpy(model.backbone.decode_latent(after))
    assert model.decode(after) == model.tokenizer.decode(logits.argmax(-1))


def test_text_api_errors(tiny_config, tiny_tokenizer):
    model = text_model(tiny_config, tiny_tokenizer)
    with pytest.raises(ValueError, match=r"^`decode` reads latents z of shape \(N, 16\), as `encode_latent\(texts\)` "
                                         r"returns them\. Received: z.shape=\(2, 3\)$"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"list of texts, not a single string"):
        model.encode("a cat")
    with pytest.raises(ValueError, match=r"`steps` must be an integer >= 2"):
        model.interpolate("a", "b", steps=1)
    with pytest.raises(ValueError, match=r"no tokenizer"):
        text_model(tiny_config, None).encode(["a cat"])
    with pytest.raises(ValueError, match=r"`max_length` must be a multiple of 2\*\*num_stages = 4"):
        TextAutoencoder(tiny_config.replace(max_length=18))
    with pytest.raises(ValueError, match=r"Pass one of `config` and `backbone`"):
        TextAutoencoder()


@pytest.mark.backends("tensorflow")  # file checks are backend-independent
class TestLoadErrors:
    @pytest.fixture
    def saved(self, tiny_config, tiny_tokenizer, tmp_path):
        path = str(tmp_path / "model.keras")
        text_model(tiny_config, tiny_tokenizer).save(path)
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
        with pytest.raises(hypertext.CheckpointError, match="truncated"):
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


def test_encode_returns_the_embedding_head_and_encode_latent_z(tiny_config, tiny_tokenizer, corpus):
    texts = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) < 12][:5]
    plain = text_model(tiny_config, tiny_tokenizer)
    np.testing.assert_array_equal(plain.encode(texts), plain.encode_latent(texts))
    model = text_model(tiny_config, tiny_tokenizer, embedding_dim=6)
    vectors, latents = model.encode(texts), model.encode_latent(texts)
    assert vectors.shape == (5, 6) and latents.shape == (5, tiny_config.latent_dim)
    assert model.encode([]).shape == (0, 6) and model.encode_latent([]).shape == (0, tiny_config.latent_dim)
    ids = pad_batch(tiny_tokenizer.encode(texts, add_eos=True), 12)  # the bucket these texts are encoded at
    np.testing.assert_allclose(latents, keras.ops.convert_to_numpy(model.encode_ids(ids)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(vectors, keras.ops.convert_to_numpy(model.backbone.embed_ids(ids)), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.backends("tensorflow")  # save/load round trip runs once, on TF (passes on JAX too)
def test_sample_interpolate_and_their_round_trip(tiny_config, tiny_tokenizer, corpus, tmp_path):
    model = text_model(tiny_config, tiny_tokenizer)
    with pytest.raises(ValueError, match="This prior has not been fitted: call `fit\\(latents\\)`"):
        model.sample(2, seed=0)
    assert model.interpolate(corpus[0], corpus[1], steps=3)[1] == model.decode(
        model.encode_latent(corpus[:2]).mean(0, keepdims=True))[0]  # no lexicon yet: plain decoding
    model.fit_latent_space(corpus[:300], prior_texts=200)
    assert model.prior.fitted and model.lexicon.words == sorted({w for t in corpus[:300] for w in t.split()})
    samples = model.sample(12, seed=5)
    assert samples == model.sample(12, seed=5) and len(samples) == 12
    words = [w for t in samples for w in t.split()]
    assert words and all(w in model.lexicon for w in words)
    path = model.interpolate(corpus[0], corpus[1], steps=4)
    assert len(path) == 4 and [path[0], path[-1]] == model.decode(model.encode_latent(corpus[:2]))
    assert all(w in model.lexicon for t in path[1:-1] for w in t.split())
    saved = str(tmp_path / "model.keras")
    model.save(saved)
    with zipfile.ZipFile(saved) as archive:
        assert any(name.endswith("lexicon.txt") for name in archive.namelist())
    restored = hypertext.load(saved)
    assert restored.lexicon.words == model.lexicon.words
    np.testing.assert_array_equal(restored.prior.sample(3, seed=1), model.prior.sample(3, seed=1))
    assert restored.sample(12, seed=5) == samples
