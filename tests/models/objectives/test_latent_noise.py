import keras
import numpy as np

from hypertext.models.objectives import noisy_latent
from tests.models.helpers import task


def test_noise_is_a_random_direction_of_at_most_its_share_of_the_norm(rng):
    z = rng.normal(size=(512, 16)) * rng.uniform(0.5, 4, (512, 1))
    noisy = keras.ops.convert_to_numpy(noisy_latent(z.astype("float32"), 0.4, keras.random.SeedGenerator(3)))
    noise = noisy.astype("float64") - z
    share = np.linalg.norm(noise, axis=1) / np.linalg.norm(z, axis=1)
    assert share.min() >= 0 and share.max() <= 0.4 + 1e-5
    assert 0.17 < share.mean() < 0.23  # uniform on [0, 0.4]: mean 0.2, standard error 0.005
    assert share.max() > 0.35 and share.min() < 0.05
    cosine = np.sum(noise * z, 1) / np.maximum(np.linalg.norm(noise, axis=1) * np.linalg.norm(z, axis=1), 1e-12)
    assert abs(cosine.mean()) < 0.05 and np.abs(cosine).max() < 0.9  # neither towards nor away from z


def test_the_task_adds_noise_in_training_only(tiny_config, tiny_tokenizer, corpus):
    model = task(tiny_config, tiny_tokenizer, latent_noise=0.5)
    ids = model.text_model().texts_to_ids(corpus[:6])
    backbone = model.backbone
    clean = keras.ops.convert_to_numpy(backbone.decode_latent(backbone.encode_ids(ids), length=ids.shape[1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(ids, training=False)), clean, rtol=1e-5, atol=1e-5)
    assert np.abs(keras.ops.convert_to_numpy(model(ids, training=True)) - clean).max() > 1e-3
    off = task(tiny_config, tiny_tokenizer)
    assert off.noise_seed is None
