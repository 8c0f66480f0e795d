"""Latent noise (`latent_noise`): in training, the decoder reads `z` plus noise, so that points near `z` decode to
text too (issue #23; the Large Concept Model trains SONAR's decoder on noised vectors for the same reason)."""

import keras
from keras import ops

from hypertext.models.objectives.objective import unit


def noisy_latent(z, share, seed):
    """`z` plus, per row, a random direction of norm `s * ||z||` with `s` drawn uniformly from `[0, share]`.

    Args:
        z: `(batch, latent_dim)`.
        share: the largest noise norm, as a share of each row's norm.
        seed: a `keras.random.SeedGenerator`.

    Returns:
        The noisy `z`, in `z`'s dtype.
    """
    z32 = ops.cast(z, "float32")
    direction = unit(keras.random.normal(ops.shape(z32), seed=seed))
    scale = keras.random.uniform((ops.shape(z32)[0], 1), 0.0, share, seed=seed)
    norm = ops.sqrt(ops.sum(z32 * z32, axis=-1, keepdims=True))
    return ops.cast(z32 + direction * scale * norm, z.dtype)
