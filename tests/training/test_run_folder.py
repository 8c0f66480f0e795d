"""The run folder's crash safety, in-process: a crash at every file step of the backup, best-checkpoint and history
writes (`hypertext.training.fs`), torn backups, and the one-writer lock.

The crash harness drives the run's real callbacks (`AtomicBestCheckpoint`, `RunBackup`) and resume code
(`restore_backup`, `remove_stale_temporary_files`, `write_history_csv`) epoch by epoch without training: each
"epoch" sets the weights and the optimizer's step counter to known values. A crash raises `fs.InjectedCrash` at the
chosen step, which no cleanup handler catches, so the disk is left as `os._exit` leaves it (the subprocess test in
tests/test_reliability.py crashes a real `train.py` with `os._exit`). Fast by default: every step of one epoch's
writes. `HYPERTEXT_THOROUGH=1`: every step of every epoch.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

from hypertext.models import AutoencoderTask
from hypertext.training import (AtomicBestCheckpoint, RunBackup, TrainingError, compile_model, fs,
                                remove_stale_temporary_files, restore_backup, write_history_csv)
from hypertext.training.backups import MANIFEST_FILE, STATE_FILE, WEIGHTS_FILE, complete_backups, verify_backup
from hypertext.training.run_lock import LOCK_FILE, RunFolderInUse, claim_run_folder, release_run_folder
from tests.conftest import history_epochs

THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"
EPOCHS = 3
VAL_LOSS = [3.0, 3.5, 2.0]  # the second epoch does not improve: no best-checkpoint write
MIN_STEPS_PER_EPOCH = 20


@pytest.fixture
def model(tiny_config, tiny_tokenizer, monkeypatch):
    model = AutoencoderTask(tiny_config, tiny_tokenizer)
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
    # The last two backups, verified (and the one before, when the crash came before its deletion).
    backups = complete_backups(os.path.join(out, "backup"))
    assert [os.path.basename(b) for b in backups[-2:]] == ["epoch-00002", "epoch-00003"] and len(backups) <= 3
    assert all(verify_backup(b) is None for b in backups)
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:  # the best epoch's (the last), complete
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
    # Fast: every step of the last epoch's writes (best checkpoint; backup, with the deletion of the oldest one;
    # history), each from a copy of the folder after the epochs before. Thorough: every step of every epoch.
    first = 0 if THOROUGH else EPOCHS - 1
    snapshot = str(tmp_path / "snapshot")
    os.makedirs(snapshot)
    _run_epochs(model, snapshot, 0, [], last=first)
    before = [{"epoch": e, "loss": 5.0 - e, "val_loss": VAL_LOSS[e]} for e in range(first)]
    points = range(1, ends[-1] - ends[first] + 1)
    for n in points:
        out = str(tmp_path / f"crash-{n}")
        shutil.copytree(snapshot, out)
        fs.crash_at(n)
        with pytest.raises(fs.InjectedCrash):
            _run_epochs(model, out, first, before)
        fs.crash_at(None)
        done, history = _resume(model, out)
        assert history_epochs(out) == list(range(done)) and done >= first
        _run_epochs(model, out, done, history)
        _check_finished(out)
        shutil.rmtree(out)
    print(f"\ncrash points covered: {len(points)} of the run's {ends[-1]} (every file step of "
          f"{'every epoch' if THOROUGH else 'the last epoch; HYPERTEXT_THOROUGH=1 for every epoch'})")
    assert len(points) >= MIN_STEPS_PER_EPOCH


# ---- torn backups ----------------------------------------------------------------------------------------------
def _tear(path, how):
    if how == "deleted":
        os.remove(path)
    else:
        os.truncate(path, os.path.getsize(path) // 2 if how == "half" else 0)


def test_a_torn_newest_backup_falls_back_to_the_previous_one(model, tmp_path):
    finished = str(tmp_path / "finished")
    os.makedirs(finished)
    _run_epochs(model, finished, 0, [])
    newest = os.path.join("backup", "epoch-00003")
    cases = [(name, how) for name in (WEIGHTS_FILE, STATE_FILE, MANIFEST_FILE) for how in ("half", "zero", "deleted")]
    for name, how in cases:
        out = str(tmp_path / f"{name}-{how}")
        shutil.copytree(finished, out)
        _tear(os.path.join(out, newest, name), how)
        lines = []
        model.optimizer.iterations.assign(0)
        done, history = restore_backup(model, os.path.join(out, "backup"), log=lines.append)
        assert done == EPOCHS - 1 and [row["epoch"] for row in history] == list(range(EPOCHS - 1)), (name, how)
        assert int(model.optimizer.iterations) == 10 * (EPOCHS - 1)
        assert len(lines) == 1 and lines[0].startswith("resume: skipped the damaged backup epoch-00003: ")
        assert lines[0].endswith("Using epoch-00002, the newest verified one"), lines
        write_history_csv(os.path.join(out, "history.csv"), history)
        _run_epochs(model, out, done, history)  # the run goes on and writes epoch 3 again
        _check_finished(out)
    weights = os.path.join(finished, newest, WEIGHTS_FILE)
    size = os.path.getsize(weights)
    _tear(weights, "half")
    assert verify_backup(os.path.dirname(weights)) == (
        f"{WEIGHTS_FILE} has {size // 2:,} bytes, not the {size:,} of its manifest")
    with open(weights, "r+b") as f:  # the right size, one byte changed
        f.truncate(size)
        f.seek(size - 1)
        f.write(b"x")
    assert verify_backup(os.path.dirname(weights)) == (
        f"{WEIGHTS_FILE} does not match the SHA-256 checksum in its manifest")
    _tear(os.path.join(finished, "backup", "epoch-00002", MANIFEST_FILE), "deleted")
    with pytest.raises(TrainingError, match=re.escape(
            "--resume: no verified backup is left in ") + r".*\(epoch-00003: state.weights.h5 does not match .*; "
            r"epoch-00002: it has no manifest.json \(its writing never finished\)\)\. Start the run again"):
        restore_backup(model, os.path.join(finished, "backup"))


def test_backups_written_before_manifests_still_resume(model, tmp_path):
    os.makedirs(tmp_path / "backup")
    _run_epochs(model, str(tmp_path), 0, [], last=2)
    for backup in complete_backups(str(tmp_path / "backup")):
        os.remove(os.path.join(backup, MANIFEST_FILE))
    model.optimizer.iterations.assign(0)
    assert restore_backup(model, str(tmp_path / "backup"))[0] == 2 and int(model.optimizer.iterations) == 20


# ---- one writer --------------------------------------------------------------------------------------------------
HOLDER = textwrap.dedent("""
    import fcntl, json, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": "node7", "started": "2026-11-30 23:00:00 UTC"}).encode())
    print("locked", flush=True)
    time.sleep(600)
""")


def test_a_folder_held_by_a_live_process_is_refused_and_a_dead_ones_taken_over(tmp_path):
    out = str(tmp_path / "run")
    os.makedirs(out)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, os.path.join(out, LOCK_FILE)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(RunFolderInUse) as refused:
            claim_run_folder(out)
        assert str(refused.value) == (
            f"{out!r} is in use by another training run: process {holder.pid} on node7, started 2026-11-30 23:00:00 "
            f"UTC. Wait for it to finish, or stop it (kill {holder.pid}) and continue the run with --resume.")
    finally:
        holder.kill()
        holder.wait()
    lines = []
    claim_run_folder(out, log=lines.append)  # the kernel released the dead holder's lock
    try:
        assert lines == [f"run folder: taking {out!r} over from process {holder.pid} on node7, started 2026-11-30 "
                         "23:00:00 UTC, which ended without releasing it (killed, out of memory or a reboot)"]
        with open(os.path.join(out, LOCK_FILE)) as f:
            owner = json.load(f)
        assert owner["pid"] == os.getpid() and set(owner) == {"pid", "host", "started"}
        claim_run_folder(out, log=lines.append)  # this process holds it already: nothing happens
        assert len(lines) == 1
    finally:
        release_run_folder(out)
    assert os.listdir(out) == []  # a clean release deletes the lock file
    claim_run_folder(out, log=lines.append)  # ... so the next claim is no takeover
    release_run_folder(out)
    assert len(lines) == 1
    assert claim_run_folder(str(tmp_path / "absent"), create=False) is None and not os.path.exists(tmp_path / "absent")
