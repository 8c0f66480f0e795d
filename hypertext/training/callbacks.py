"""The Keras callbacks of a run: the best checkpoint, the crash-safe backup that `--resume` restores, and the stop
on a non-finite loss.

What each keeps: `model.keras` (best checkpoint) is the model alone, weights, config and tokenizer, without the
optimizer state; the backup folder holds the weights *and* the optimizer state (step counter and moments), which
only a resume needs.
"""

import contextlib
import math
import os

import keras

from hypertext.training.backups import restore_backup, write_backup
from hypertext.training.errors import TrainingError
from hypertext.training.run_dir import save_model_atomically, write_history_csv

__all__ = ["AtomicBestCheckpoint", "RunBackup", "StopOnNonFiniteLoss", "restore_backup"]


class AtomicBestCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` whenever `monitor` improves on `best` (pass the best value of the epochs before a
    resume), through a temporary file and a rename, so an interrupted save never leaves a half-written file.

    The file holds the task's `text_model()` (`AutoencoderTask.text_model`): no optimizer state, which is a third of
    a compiled model's file with Adam and which only `--resume` needs (it reads it from the backup), and no
    training-only objective head.

    `context` (a function returning a context manager) wraps each save: a multi-worker run's chief saves outside
    the distribution (`Distributed.local`)."""

    def __init__(self, path, monitor="val_loss", best=math.inf, context=contextlib.nullcontext):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.best = best
        self.context = context

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        with self.context():
            save_model_atomically(self.model.text_model(), self.path)


class RunBackup(keras.callbacks.Callback):
    """Crash-safe training state, for `--resume`.

    After every epoch it writes the model and optimizer weights and the history of every epoch so far to
    `directory/epoch-NNNNN/` (`hypertext.training.backups.write_backup`: a temporary name, a manifest of sizes
    and checksums written last, a rename; the last two backups are kept). A kill at any moment therefore leaves a
    complete backup, and `restore_backup` finds the newest verified one. It then rewrites `history_csv` from the
    same rows, so the CSV never has a duplicated or missing epoch, even when the process dies between the two
    writes (a resume rewrites it from the backup).

    Args:
        directory: the backup folder.
        history_csv: the CSV file that mirrors the history.
        history: the rows of the epochs before a resume (from `restore_backup`).
        context: a function returning a context manager that wraps each backup (as in `AtomicBestCheckpoint`).
    """

    def __init__(self, directory, history_csv, history=(), context=contextlib.nullcontext):
        super().__init__()
        self.directory = directory
        self.history_csv = history_csv
        self.history = list(history)
        self.context = context

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        with self.context():
            self._write(epoch)

    def _write(self, epoch):
        write_backup(self.model, self.directory, epoch + 1, self.history)
        write_history_csv(self.history_csv, self.history)


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """Keras' `TerminateOnNaN`, but it stops at once with a `TrainingError` naming the epoch and step, before the
    epoch ends, so no callback saves the diverged weights: `model.keras` and the backup stay those of the last good
    epoch."""

    def __init__(self, checkpoint_path):
        super().__init__()
        self.checkpoint_path = checkpoint_path
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.model.stop_training = True
        kept = (f"The last good checkpoint, {self.checkpoint_path!r}, is kept."
                if os.path.isfile(self.checkpoint_path) else "No epoch finished, so there is no checkpoint.")
        raise TrainingError(
            f"The training loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}. "
            f"{kept} Try a lower --learning-rate (or more warm-up steps)."
        )
