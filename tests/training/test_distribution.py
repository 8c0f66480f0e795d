"""`train(distribute=..., cpu_devices=...)` and `train.py --distribute/--cpu-devices`: the choices and their errors
in-process; data-parallel runs over 2 logical CPU devices in subprocesses (device counts are fixed before the
backend starts), whose loss curves must match a single-device run."""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from hypertext import training
from hypertext.configs import get_config
from hypertext.data import load_texts
from tests.conftest import backend

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# On TensorFlow in the suite, and on JAX alone in .ci/run (its last step); PyTorch has no data-parallel engine.
pytestmark = pytest.mark.backends("tensorflow", "jax")
# Measured with this test's settings (20 steps): the per-epoch mean losses of the 2-replica run differ from the
# one-device run's by at most 3.6e-4 (relative) on TF and 7.7e-8 on JAX (float32 sums in another order, which
# Adam carries forward). Token accuracy is an argmax count, so such differences flip a token now and then: not compared.
LOSS_RTOL = 1e-3


@pytest.mark.parametrize("kwargs, message", [
    ({"distribute": "data"}, "`distribute` must be one of 'none', 'mirrored', 'multi-worker'. Received: distribute="
                             "'data'"),
    ({"cpu_devices": 0}, "`cpu_devices` must be an integer >= 1 (or None: the CPU as one device). Received: "
                         "cpu_devices=0"),
    ({"cpu_devices": "2"}, "Received: cpu_devices='2'"),
    ({"cpu_devices": True}, "Received: cpu_devices=True"),
])
def test_bad_choices(kwargs, message, tmp_path):
    with pytest.raises(ValueError) as info:
        training.train(str(tmp_path / "corpus.txt"), str(tmp_path / "run"), get_config("tiny"), **kwargs)
    assert message in str(info.value)
    assert not os.path.exists(tmp_path / "run")  # refused before anything is written


@pytest.mark.parametrize("fake_backend, strategy, message", [
    ("torch", "mirrored", "`distribute='mirrored'` needs the TensorFlow or JAX backend"),
    ("torch", "multi-worker", "`distribute='multi-worker'` needs the TensorFlow or JAX backend"),
    ("tensorflow", "multi-worker", "needs the JAX backend (KERAS_BACKEND=jax): TensorFlow's MultiWorkerMirrored"
                                   "Strategy does not work with Keras 3 (keras-team/keras#20585)"),
])
def test_unsupported_backends(fake_backend, strategy, message, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: fake_backend)
    with pytest.raises(ValueError, match="Received: distribute=") as info:
        training.setup_distribution(strategy)
    assert message in str(info.value)


def test_multi_worker_needs_keras_environment(monkeypatch):
    if backend() != "jax":
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    for name in training.distribution.JOB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    with pytest.raises(ValueError) as info:
        training.setup_distribution("multi-worker")
    assert ("set KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_PROCESS_ID in every process (see the README). "
            "Received: no KERAS_DISTRIBUTION_JOB_ADDRESSES") in str(info.value)


def test_cpu_devices_after_the_backend_started():
    if backend() == "torch":
        with pytest.raises(ValueError, match="`cpu_devices` is for the TensorFlow and JAX backends"):
            training.set_cpu_devices(2)
        return
    keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)  # the runtime has started
    with pytest.raises(ValueError, match=r"`cpu_devices` must be set before .* Received: cpu_devices=7 after"):
        training.set_cpu_devices(7)


def test_none_is_one_replica():
    dist = training.setup_distribution("none", batch_size=5)
    assert (dist.strategy, dist.num_replicas, dist.num_processes, dist.is_chief) == ("none", 1, 1, True)


# ---- subprocesses: 2 logical CPU devices ----

def _train(corpus, out, backend_name, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend_name}
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--corpus", corpus, "--output", out,
                           "--config", "tiny", "--max-length", "8", "--epochs", "4", "--steps-per-epoch", "5",
                           "--eval-limit", "8", "--verbose", "0", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def _history(out):
    with open(os.path.join(out, "history.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(load_texts("wordnet", "validation")[:800]) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.backends("tensorflow", "jax")  # no data-parallel engine on torch (tested above)
def test_mirrored_two_devices_matches_one(corpus, tmp_path):
    """The loss curve of 2 replicas (global batch 16, 8 per device) matches one device's, epoch by epoch.

    The baseline is the single-device run: `--distribute none` on JAX. On TF it is `--distribute mirrored
    --cpu-devices 1`, one device under the same engine: Keras' TF trainer pulls one batch from the iterator for a
    symbolic build whenever a tf.distribute strategy is in use (`_maybe_symbolic_build`), so any strategy run's
    batch stream is one batch behind a strategy-free run's, and the curves are not comparable step for step."""
    name = backend()
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    baseline = ["--distribute", "none"] if name == "jax" else ["--distribute", "mirrored", "--cpu-devices", "1"]
    for out, args in ((one, baseline), (two, ["--distribute", "mirrored", "--cpu-devices", "2"])):
        result = _train(corpus, out, name, *args)
        assert result.returncode == 0, result.stderr[-3000:]
    assert "distribute: mirrored, 2 replicas, global batch 16" in result.stdout
    config = json.load(open(os.path.join(two, "config.json")))
    assert (config["backend"], config["strategy"], config["num_replicas"], config["num_processes"]) == (
        name, "mirrored", 2, 1)
    first, second = _history(one), _history(two)
    assert [r["epoch"] for r in first] == [r["epoch"] for r in second] == ["0", "1", "2", "3"]
    # On JAX the baseline also validates on each bucket's short last batch, which the 2-replica run drops.
    for key in ("loss", "val_loss") if name == "tensorflow" else ("loss",):
        a, b = (np.array([float(r[key]) for r in rows]) for rows in (first, second))
        print(key, "max relative difference", np.max(np.abs(b - a) / np.abs(a)))
        np.testing.assert_allclose(b, a, rtol=LOSS_RTOL, err_msg=key)
    assert float(first[-1]["loss"]) < float(first[0]["loss"])  # it trained


@pytest.mark.backends("tensorflow")  # a check of the CLI's error path; once, on TF
def test_batch_must_split_over_the_replicas(corpus, tmp_path):
    result = _train(corpus, str(tmp_path / "run"), "tensorflow", "--distribute", "mirrored", "--cpu-devices", "2",
                    "--batch-size", "15")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "train.py: error: `batch_size` must be a multiple of the number of replicas (2, with distribute='mirrored'): "
        "the global batch is split evenly. Received: batch_size=15")
    assert not os.path.exists(tmp_path / "run")
