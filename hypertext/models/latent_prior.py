"""`LatentPrior`: a Gaussian fitted to a model's training latents, to draw new ones from."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="hypertext")
class LatentPrior(keras.layers.Layer):
    """A full-covariance Gaussian over `z`, `N(mean, L L^T)`, fitted to the latents of training texts.

    Its two variables (`mean` and the lower-triangular Cholesky factor `scale_tril`) are saved with the model's
    weights, so a checkpoint carries its prior. `sample` draws with NumPy from a seeded generator: the same seed
    gives the same latents on every backend.

    Args:
        latent_dim: the width of `z`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> prior = LatentPrior(4)
    >>> prior.fit(np.random.default_rng(0).normal(size=(100, 4)))
    >>> prior.sample(3, seed=0).shape
    (3, 4)
    """

    def __init__(self, latent_dim, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be an integer >= 1. Received: latent_dim={latent_dim!r}")
        self.latent_dim = latent_dim
        self.mean = self.add_weight(name="mean", shape=(latent_dim,), initializer="zeros", trainable=False)
        self.scale_tril = self.add_weight(name="scale_tril", shape=(latent_dim, latent_dim), initializer="zeros",
                                          trainable=False)
        self.built = True

    @property
    def fitted(self):
        return bool(np.any(keras.ops.convert_to_numpy(self.scale_tril)))

    def fit(self, latents, jitter=1e-5):
        """Sets the mean and covariance to those of `latents` `(N, latent_dim)`, N >= 2; `jitter` times the mean
        variance is added to the diagonal so that the factor exists when N < latent_dim."""
        latents = np.asarray(latents, "float64")
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim or len(latents) < 2:
            raise ValueError(f"`latents` must have shape (N, {self.latent_dim}) with N >= 2. Received: "
                             f"latents.shape={latents.shape}")
        covariance = np.cov(latents, rowvar=False)
        covariance += jitter * max(np.trace(covariance) / self.latent_dim, 1e-12) * np.eye(self.latent_dim)
        self.mean.assign(latents.mean(axis=0).astype("float32"))
        self.scale_tril.assign(np.linalg.cholesky(covariance).astype("float32"))
        return self

    def sample(self, n, seed=None):
        """`n` latents, float32 `(n, latent_dim)`; the same `seed` gives the same latents."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"`n` must be an integer >= 0. Received: n={n!r}")
        if not self.fitted:
            raise ValueError("This prior has not been fitted: call `fit(latents)` (train.py fits it at the end of a "
                             "run).")
        noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        mean, factor = (keras.ops.convert_to_numpy(v).astype("float64") for v in (self.mean, self.scale_tril))
        return (mean + noise @ factor.T).astype("float32")

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}
