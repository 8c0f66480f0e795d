"""`train.py --distribute multi-worker`: 2 JAX processes on 127.0.0.1, joined by Keras' environment variables, with
gloo collectives. Subprocesses on a tiny config. Both tests run in the thorough mode, HYPERTEXT_THOROUGH=1: they take
minutes on a 2-core CPU, most of it JAX compiling in both processes. The fast mode trains data-parallel on 2 logical
devices in one process (tests/training/test_distribution.py)."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import backend, history_epochs, write_corpus_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.backends("jax")  # multi-worker training runs on JAX
ARGS = ["--config", "tiny", "--max-length", "8", "--eval-limit", "8", "--verbose", "2"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(corpus, outputs, *args):
    """Starts process 0 and process 1 of one run; `outputs` gives each its --output."""
    port = _free_port()
    procs = []
    for rank, out in enumerate(outputs):
        env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1",
               "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
               "KERAS_DISTRIBUTION_PROCESS_ID": str(rank)}
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "train.py"), "--corpus", corpus, "--output", out,
             "--distribute", "multi-worker", *ARGS, *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT))
    return procs


def _finish(procs, timeout=900):
    return [(p.wait(timeout=timeout), p.stdout.read()) for p in procs]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus_file(tmp_path_factory, 800)


@pytest.mark.thorough  # two JAX processes compile and train: ~100 s on a 2-core CPU
def test_two_processes_train_one_model(corpus, tmp_path):
    """Process 1 gets its own --output, as on a machine without a shared folder: it must not even create it."""
    chief, other = str(tmp_path / "run"), str(tmp_path / "process1")
    (rc0, log0), (rc1, log1) = _finish(_launch(corpus, [chief, other], "--epochs", "2", "--steps-per-epoch", "4"))
    assert rc0 == 0, log0[-3000:]
    assert rc1 == 0, log1[-3000:]
    assert "distribute: multi-worker, 2 replicas, global batch 16; process 0 of 2" in log0
    assert "tokenizer: trained 512 pieces" in log1 and "(not saved: process 0 saves it)" in log1
    assert not os.path.exists(other)
    assert os.path.isfile(os.path.join(chief, "model.keras"))
    assert sorted(os.listdir(chief)) == ["backup", "config.json", "curves.png", "history.csv", "logs",
                                         "metrics.json", "model.keras", "tokenizer.model"]
    assert history_epochs(chief) == [0, 1]


@pytest.mark.thorough  # minutes
def test_kill_one_process_then_resume(corpus, tmp_path):
    """kill -9 of process 1 mid-run: process 0 exits with a clear error well within 3 minutes; both restarted with
    --resume go on from the last backup, and history.csv lists every epoch once."""
    out = str(tmp_path / "run")  # one folder for both, as on a shared filesystem
    schedule = ("--epochs", "4", "--steps-per-epoch", "4")
    procs = _launch(corpus, [out, out], *schedule)
    backup = os.path.join(out, "backup", "epoch-00001")
    deadline = time.time() + 900
    while not os.path.isdir(backup):
        assert time.time() < deadline and procs[0].poll() is None, "no backup after the first epoch"
        time.sleep(0.5)
    procs[1].send_signal(signal.SIGKILL)
    killed = time.time()
    rc0 = procs[0].wait(timeout=180)
    seconds = time.time() - killed
    log0 = procs[0].stdout.read()
    procs[1].wait()
    print(f"survivor exited {seconds:.1f}s after the kill")
    assert rc0 == 3, log0[-3000:]
    assert "training stopped: Process 0 of the multi-worker run lost the others" in log0
    assert "restart every process with --resume" in log0
    done = int(sorted(os.listdir(os.path.join(out, "backup")))[-1].split("-")[1])
    assert 1 <= done < 4

    (rc0, log0), (rc1, log1) = _finish(_launch(corpus, [out, out], *schedule, "--resume"))
    assert rc0 == 0, log0[-3000:]
    assert rc1 == 0, log1[-3000:]
    assert f"resume: restored the backup after epoch {done}" in log0
    assert history_epochs(out) == [0, 1, 2, 3]
