"""The run folder's crash safety, in-process: a crash at every file step of the backup, best-checkpoint and history
writes (`hypertext.training.fs`), torn backups, and the one-writer lock.

The crash harness drives the run's real callbacks (`AtomicBestCheckpoint`, `RunBackup`) and resume code
(`restore_backup`, `remove_stale_temporary_files`, `write_history_csv`) epoch by epoch without training: each
"epoch" sets the weights and the optimizer's step counter to known values. A crash raises `fs.InjectedCrash` at the
chosen step, which no cleanup handler catches, so the disk is left as `os._exit` leaves it (the subprocess test in
tests/test_reliability.py crashes a real `train.py` with `os._exit`). Fast by default: every step of one epoch's
writes. `HYPERTEXT_THOROUGH=1`: every step of every epoch.
"""

import csv
import fcntl
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

from hypertext.models import TextAutoencoder
from hypertext.training import (AtomicBestCheckpoint, RunBackup, TrainingError, compile_model, fs,
                                remove_stale_temporary_files, restore_backup, write_history_csv)
from hypertext.training.backups import MANIFEST_FILE, STATE_FILE, WEIGHTS_FILE, complete_backups, verify_backup
from hypertext.training.run_lock import LOCK_FILE, RunFolderInUse, claim_run_folder, release_run_folder
from tests.conftest import history_epochs

THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"
EPOCHS = 4
VAL_LOSS = [3.0, 2.0, 1.5, 1.8]  # epoch 3 does not improve: no best-checkpoint write
MIN_STEPS_PER_EPOCH = 20


@pytest.fixture
def model(tiny_config, tiny_tokenizer):
    model = TextAutoencoder(tiny_config, tiny_tokenizer)
    model.build()
    compile_model(model, tiny_config, total_steps=100)
    model.optimizer.build(model.trainable_variables)  # as after a first train step
    return model


def _marker(epochs_done):
    return float(epochs_done * 10 + 1)


def _run_epochs(model, out, first, history, last=EPOCHS, ends=None):
    """The chief's callbacks of `train()` over epochs `first` to `last - 1`; each epoch's 'training' sets the first
    weight and the optimizer's step to values that name the epoch. `ends`: a list that gets the step count at the
    end of each epoch."""
    best = min((row["val_loss"] for row in history), default=np.inf)
    callbacks = [AtomicBestCheckpoint(os.path.join(out, "model.keras"), best=best),
                 RunBackup(os.path.join(out, "backup"), os.path.join(out, "history.csv"), history)]
    for callback in callbacks:
        callback.set_model(model)
    for epoch in range(first, last):
        model.weights[0].assign(np.full(model.weights[0].shape, _marker(epoch + 1), "float32"))
        model.optimizer.iterations.assign(10 * (epoch + 1))
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"loss": 5.0 - epoch, "val_loss": VAL_LOSS[epoch]})
        if ends is not None:
            ends.append(fs.steps())


def _resume(model, out):
    """What `train(resume=True)` does with the folder before fitting again. Returns the epochs done."""
    remove_stale_temporary_files(out)
    model.weights[0].assign(np.zeros(model.weights[0].shape, "float32"))
    model.optimizer.iterations.assign(0)
    epochs_done, history = restore_backup(model, os.path.join(out, "backup"), log=lambda line: None)
    write_history_csv(os.path.join(out, "history.csv"), history)
    if epochs_done:
        assert float(keras.ops.convert_to_numpy(model.weights[0]).flat[0]) == _marker(epochs_done)
        assert int(model.optimizer.iterations) == 10 * epochs_done
    return epochs_done, history


def _check_finished(out):
    assert history_epochs(out) == list(range(EPOCHS))
    backups = complete_backups(os.path.join(out, "backup"))
    assert [os.path.basename(b) for b in backups] == ["epoch-00003", "epoch-00004"]
    assert all(verify_backup(b) is None for b in backups)
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:  # the best epoch's (3rd), complete
        assert archive.testzip() is None
    leftovers = [n for n in os.listdir(out) + os.listdir(os.path.join(out, "backup")) if n.startswith(".tmp-")]
    assert not leftovers


def test_a_crash_at_every_file_step_then_resume_gives_every_epoch_once(model, tmp_path):
    # A clean run, to list the steps and where each epoch's writes end.
    clean, log, ends = str(tmp_path / "clean"), [], [0]
    os.makedirs(clean)
    fs.crash_at(None, log=log)
    _run_epochs(model, clean, 0, [], ends=ends)
    fs.crash_at(None)
    _check_finished(clean)
    assert {kind for _, kind, _ in log} == {"open", "write", "fsync", "rename", "mkdir", "delete"}
    assert all(b - a >= MIN_STEPS_PER_EPOCH for a, b in zip(ends, ends[1:])), ends
    # Fast: every step of the third epoch's writes (best checkpoint; backup, with the deletion of the oldest one;
    # history), each from a copy of the folder after two epochs. Thorough: every step of every epoch, from scratch.
    first = 0 if THOROUGH else 2
    snapshot = str(tmp_path / "snapshot")
    os.makedirs(snapshot)
    _run_epochs(model, snapshot, 0, [], last=first)
    points = range(1, (ends[-1] if THOROUGH else ends[first + 1]) - ends[first] + 1)
    for n in points:
        out = str(tmp_path / f"crash-{n}")
        shutil.copytree(snapshot, out)
        history = _resume(model, out)[1]
        fs.crash_at(n)
        with pytest.raises(fs.InjectedCrash):
            _run_epochs(model, out, first, history)
        fs.crash_at(None)
        done, history = _resume(model, out)
        assert history_epochs(out) == list(range(done)) and done >= first
        _run_epochs(model, out, done, history)
        _check_finished(out)
        shutil.rmtree(out)
    print(f"\ncrash points covered: {len(points)} (every file step of epoch{'s 1-4' if THOROUGH else ' 3'}; "
          f"{ends[-1]} in the run)")
    assert len(points) >= MIN_STEPS_PER_EPOCH
