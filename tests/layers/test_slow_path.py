import warnings

import numpy as np
import pytest

from hypertext.layers import PerSampleConv1D, PerSampleConv2D, slow_path
from tests.conftest import backend


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(slow_path, "_warned", False)
    return monkeypatch


def _run_both(rng):
    PerSampleConv1D()(rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 4, 3, 3)).astype("float32"))
    PerSampleConv2D()(rng.normal(size=(2, 5, 5, 3)).astype("float32"),
                      rng.normal(size=(2, 4, 3, 3, 3)).astype("float32"))


def test_warns_once_on_the_slow_path(fresh, rng):
    fresh.setattr(slow_path, "onednn_off_on_tf_cpu", lambda: True)
    with pytest.warns(UserWarning, match=r"TF_ENABLE_ONEDNN_OPTS=1") as record:
        _run_both(rng)
        _run_both(rng)
    assert len([w for w in record if "oneDNN" in str(w.message)]) == 1


def test_silent_elsewhere(fresh, rng):
    fresh.setattr(slow_path, "onednn_off_on_tf_cpu", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run_both(rng)


def test_detection_matches_tensorflow():
    if backend() != "tensorflow":
        assert slow_path.onednn_off_on_tf_cpu() is False
        return
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    expected = not tf.config.list_physical_devices("GPU") and not _pywrap_util_port.IsMklEnabled()
    assert slow_path.onednn_off_on_tf_cpu() == expected
