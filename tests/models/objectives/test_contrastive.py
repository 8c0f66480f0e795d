import keras
import numpy as np
import pytest

from hypertext.models.objectives import Contrastive


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
def test_contrastive_loss_matches_numpy(temperature, tiny_config, rng):
    config = tiny_config.replace(contrastive_weight=1.0, contrastive_temperature=temperature)
    contrastive = Contrastive(config.model, config.objectives)
    z, z_positive = rng.normal(size=(2, 7, tiny_config.latent_dim))
    got = float(keras.ops.convert_to_numpy(contrastive.loss(z.astype("float32"), z_positive.astype("float32"))))
    np.testing.assert_allclose(got, _info_nce64(z, z_positive, temperature), rtol=1e-4)
    # Orthogonal texts, each its own positive: cosine 1 with itself and 0 with the 6 others, whatever their norm.
    eye = np.eye(7, tiny_config.latent_dim, dtype="float32") * 3.0
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(contrastive.loss(eye, eye))),
                               np.log(np.exp(1 / temperature) + 6) - 1 / temperature, rtol=1e-4, atol=1e-6)
