"""The Matryoshka distillation loss and pair InfoNCE against float64 NumPy references."""

import keras
import numpy as np
import pytest

from hypertext.models.objectives.distillation import similarity_kl
from hypertext.models.objectives.matryoshka_distillation import (matryoshka_distillation_loss,
                                                                    matryoshka_pair_infonce_loss, pair_infonce_loss)


def unit(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def kl_reference(s, t, temperature):
    def log_softmax_offdiag(v):
        logits = unit(v) @ unit(v).T / temperature
        np.fill_diagonal(logits, -np.inf)
        m = logits.max(axis=1, keepdims=True)
        return logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))

    with np.errstate(invalid="ignore"):
        lt, ls = log_softmax_offdiag(t), log_softmax_offdiag(s)
    p = np.exp(lt)
    terms = np.where(p > 0, p * (lt - np.where(np.isfinite(ls), ls, 0.0)), 0.0)
    return terms.sum(axis=1).mean()


def loss_reference(s, t, dims, weight, temperature):
    total = 0.0
    for d in dims:
        total += 1 - (unit(s[:, :d]) * unit(t[:, :d])).sum(1).mean()
        total += weight * kl_reference(s[:, :d], t[:, :d], temperature)
    return total / len(dims)


@pytest.mark.parametrize("weight", [0.0, 1.0, 0.3])
def test_matches_the_reference(rng, weight):
    s, t = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    got = keras.ops.convert_to_numpy(matryoshka_distillation_loss(s.astype("float32"), t.astype("float32"),
                                                                  (2, 4, 8), weight, 0.5))
    np.testing.assert_allclose(got, loss_reference(s, t, (2, 4, 8), weight, 0.5), rtol=1e-4, atol=1e-5)


def test_is_zero_when_the_student_is_the_teacher_scaled(rng):
    t = rng.normal(size=(5, 6)).astype("float32")
    assert abs(float(matryoshka_distillation_loss(3 * t, t, (3, 6)))) < 1e-4


def test_similarity_kl_matches_the_reference(rng):
    s, t = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(similarity_kl(s.astype("float32"), t.astype("float32"),
                                                                        0.2)),
                               kl_reference(s, t, 0.2), rtol=1e-4, atol=1e-5)


def infonce_reference(a, b, temperature):
    logits = unit(a) @ unit(b).T / temperature

    def lse(x, axis):
        m = x.max(axis=axis, keepdims=True)
        return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)

    return ((lse(logits, 1) - np.diag(logits)).mean() + (lse(logits, 0) - np.diag(logits)).mean()) / 2


def test_pair_infonce_matches_the_reference(rng):
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    expected = infonce_reference(a, b, 0.1)
    got = keras.ops.convert_to_numpy(pair_infonce_loss(a.astype("float32"), b.astype("float32"), 0.1))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_matryoshka_pair_infonce_matches_the_reference(rng):
    a, b = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    expected = np.mean([infonce_reference(a[:, :d], b[:, :d], 0.05) for d in (2, 4, 8)])
    got = keras.ops.convert_to_numpy(matryoshka_pair_infonce_loss(a.astype("float32"), b.astype("float32"),
                                                                  (2, 4, 8), 0.05))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert abs(float(got) - infonce_reference(a, b, 0.05)) > 1e-3  # the narrow widths count
