import keras
import numpy as np
import pytest

from hypertext.models.objectives import Distillation


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
def test_distill_loss_matches_numpy(temperature, tiny_config, rng):
    config = tiny_config.replace(distill_weight=1.0, distill_temperature=temperature)
    distillation = Distillation(config.model, config.objectives)

    def loss(z, teacher):
        return float(keras.ops.convert_to_numpy(distillation.loss(z.astype("float32"), teacher.astype("float32"))))

    z, teacher = rng.normal(size=(9, tiny_config.latent_dim)), rng.normal(size=(9, 5))
    expected = _distill64(z, teacher, temperature)
    assert expected > 1e-3
    np.testing.assert_allclose(loss(z, teacher), expected, rtol=1e-4)
    # Only cosine similarities count: z that is the teacher rotated into another, wider basis and rescaled per row
    # matches it exactly.
    rotation, _ = np.linalg.qr(rng.normal(size=(tiny_config.latent_dim, tiny_config.latent_dim)))
    rotated = np.pad(teacher, ((0, 0), (0, tiny_config.latent_dim - 5))) @ rotation * rng.uniform(0.5, 3, (9, 1))
    assert abs(loss(rotated, teacher)) < 1e-4


def test_projection_distill_loss_matches_numpy(tiny_config, rng):
    config = tiny_config.replace(distill_weight=1.0, distill_mode="projection", teacher_dim=6)
    distillation = Distillation(config.model, config.objectives)
    distillation.build()
    z, teacher = rng.normal(size=(9, tiny_config.latent_dim)), rng.normal(size=(9, 6))
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in distillation.distill_head.weights)
    predicted = z @ kernel + bias
    expected = 1 - np.mean(np.sum(predicted * teacher, axis=1) /
                           (np.linalg.norm(predicted, axis=1) * np.linalg.norm(teacher, axis=1)))
    got = float(keras.ops.convert_to_numpy(distillation.loss(z.astype("float32"), teacher.astype("float32"))))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert Distillation(config.model, config.replace(distill_mode="similarity").objectives).distill_head is None


def test_direct_distill_loss_matches_numpy_and_needs_the_teachers_width(tiny_config, rng):
    config = tiny_config.replace(distill_weight=1.0, distill_mode="direct", embedding_dim=5, teacher_dim=5,
                                 distill_temperature=0.5)
    distillation = Distillation(config.model, config.objectives)
    student, teacher = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    cosine = np.sum(student * teacher, 1) / (np.linalg.norm(student, axis=1) * np.linalg.norm(teacher, axis=1))
    expected = 1 - cosine.mean() + _distill64(student, teacher, 0.5)
    got = keras.ops.convert_to_numpy(distillation.loss(student.astype("float32"), teacher.astype("float32")))
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
    with pytest.raises(ValueError, match=r"`distill_mode='direct'` needs a sentence-embedding head of the teacher's "
                                         r"width: `embedding_dim` = teacher_dim = 5. Received: embedding_dim=0"):
        Distillation(config.model.replace(embedding_dim=0), config.objectives)
