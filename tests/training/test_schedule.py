"""`learning_rate_schedule`: a linear warm-up from 1% of `learning_rate` to it (over `warmup_steps`, at most half of
the run), never above it, then a cosine decay to the floor of 10% of it at the last step."""

import math

import keras
import numpy as np
import pytest

from hypertext.configs import get_config
from hypertext.training import learning_rate_schedule


def rates(config, total_steps):
    schedule = learning_rate_schedule(config, total_steps)
    return np.array([float(keras.ops.convert_to_numpy(schedule(step))) for step in range(total_steps + 50)])


@pytest.mark.parametrize("warmup, total", [(10, 100), (1, 7), (200, 100)])
def test_warm_up_cap_and_floor(warmup, total):
    config = get_config("tiny").replace(learning_rate=1e-3, warmup_steps=warmup)
    lr = rates(config, total)
    steps = max(1, min(warmup, total // 2))  # the warm-up is at most half of the run
    np.testing.assert_allclose(lr[0], 1e-5, rtol=1e-5)  # starts at 1% of learning_rate
    np.testing.assert_allclose(lr[:steps + 1], 1e-5 + (1e-3 - 1e-5) * np.arange(steps + 1) / steps, rtol=1e-4)
    assert lr.max() <= 1e-3 * (1 + 1e-6) and np.argmax(lr) == steps  # the cap, reached at the end of the warm-up
    decay = lr[steps:total + 1]
    assert np.all(np.diff(decay) <= 1e-12)  # then it only falls
    progress = np.arange(total - steps + 1) / (total - steps)
    np.testing.assert_allclose(decay, 1e-3 * (0.1 + 0.9 * 0.5 * (1 + np.cos(math.pi * progress))), rtol=1e-4)
    np.testing.assert_allclose(lr[total:], 1e-4, rtol=1e-4)  # the floor: 10%, and it stays there
