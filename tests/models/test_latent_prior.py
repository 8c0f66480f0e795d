import keras
import numpy as np
import pytest

from hypertext.models.latent_prior import LatentPrior


def test_fit_matches_numpy_and_samples_follow_it(rng):
    latents = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6) * 3
    prior = LatentPrior(6).fit(latents, jitter=0.0)
    factor = keras.ops.convert_to_numpy(prior.scale_tril).astype("float64")
    np.testing.assert_allclose(factor @ factor.T, np.cov(latents, rowvar=False), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(prior.mean), latents.mean(0), rtol=1e-5, atol=1e-5)
    assert np.allclose(np.triu(factor, 1), 0)
    samples = prior.sample(20000, seed=3).astype("float64")
    # The samples' mean (np.cov below removes it): within 5 standard errors of the latents' mean, on every axis.
    standard_error = np.sqrt(np.diag(np.cov(latents, rowvar=False)) / len(samples))
    assert np.all(np.abs(samples.mean(0) - latents.mean(0)) < 5 * standard_error), samples.mean(0) - latents.mean(0)
    np.testing.assert_allclose(np.cov(samples, rowvar=False), np.cov(latents, rowvar=False), atol=0.15 * np.abs(
        np.cov(latents, rowvar=False)).max())


def test_the_same_seed_gives_the_same_latents(rng):
    prior = LatentPrior(4).fit(rng.normal(size=(50, 4)))
    np.testing.assert_array_equal(prior.sample(5, seed=7), prior.sample(5, seed=7))
    assert not np.array_equal(prior.sample(5, seed=7), prior.sample(5, seed=8))


def test_errors(rng):
    with pytest.raises(ValueError, match="This prior has not been fitted"):
        LatentPrior(3).sample(2)
    with pytest.raises(ValueError, match=r"`latents` must have shape \(N, 3\) with N >= 2. Received: "
                                         r"latents.shape=\(5, 4\)"):
        LatentPrior(3).fit(rng.normal(size=(5, 4)))
    with pytest.raises(ValueError, match="`n` must be an integer >= 0. Received: n=-1"):
        LatentPrior(3).fit(rng.normal(size=(5, 3))).sample(-1)
    with pytest.raises(ValueError, match="`latent_dim` must be an integer >= 1. Received: latent_dim=0"):
        LatentPrior(0)
    # Fewer latents than dimensions: the jitter keeps the factor defined.
    assert LatentPrior(8).fit(rng.normal(size=(3, 8))).fitted
