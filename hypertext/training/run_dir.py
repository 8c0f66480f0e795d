"""The run folder on disk: its file names, the checks before a run starts, and crash-safe writes.

Every file a run writes goes through `write_atomically` (a temporary name, fsync, rename), so a kill or a full disk
at any moment leaves either the old file or the new one, never half of one. `saved_run` reads back the settings a
run was started with, for `--resume`.
"""

import csv
import glob
import json
import os
import shutil

from hypertext import configs
from hypertext.training import fs
from hypertext.training.errors import OutputDirError, TrainingError

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.model"
BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"
CONFIG_FILE = "config.json"
TMP_PREFIX = ".tmp-"


def unwritable_output_error(path, error):
    """The OutputDirError for an output folder that cannot be created or written."""
    return OutputDirError(f"Cannot write to the output folder {path!r}: {error.strerror or error}.")


def prepare_output_dir(path, resume):
    """Creates `path`, checks with a probe write that it is writable, and refuses to overwrite an earlier run."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-probe-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        os.remove(probe)
    except OSError as e:
        raise unwritable_output_error(path, e) from None
    has_run = any(os.path.exists(os.path.join(path, name)) for name in (MODEL_FILE, BACKUP_DIR, HISTORY_FILE))
    if has_run and not resume:
        raise OutputDirError(
            f"{path!r} already holds a training run. Pass --resume to continue it, or choose another --output."
        )
    if resume and not has_run:
        raise OutputDirError(f"--resume: {path!r} holds no run to continue.")


def write_atomically(path, write):
    """Calls `write(tmp_path)` on a temporary name in `path`'s folder, flushes it to disk, then renames it over
    `path`. A crash or a failed write at any moment leaves the old `path` untouched (POSIX rename is atomic). A
    failed write removes the temporary file; a crash leaves it for `remove_stale_temporary_files`. (The steps go
    through `hypertext.training.fs`, where a test can crash the writer.)"""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{name}")
    try:
        fs.write_with(tmp, write)
        fs.fsync(tmp)
        fs.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomically(path, obj):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)

    write_atomically(path, write)


def save_model_atomically(model, path):
    """`model.save(path)` through a temporary file and a rename. Raises `TrainingError` if the write fails (a full
    disk, say); the previous file at `path`, if any, is then intact."""
    try:
        write_atomically(path, model.save)
    except OSError as e:
        kept = "The previous checkpoint there is intact." if os.path.exists(path) else "No checkpoint was written."
        raise TrainingError(f"Could not write the checkpoint {path!r}: {e.strerror or e}. {kept}") from None


def remove_stale_temporary_files(output):
    """Deletes what an earlier killed run left half-written (`.tmp-*` files and backup folders)."""
    for stale in glob.glob(os.path.join(output, TMP_PREFIX + "*")) + glob.glob(
            os.path.join(output, BACKUP_DIR, TMP_PREFIX + "*")):
        shutil.rmtree(stale) if os.path.isdir(stale) else os.remove(stale)


def write_history_csv(path, history):
    """Writes the per-epoch rows (dicts with `epoch` and the metrics) as CSV, atomically."""
    keys = ["epoch"] + sorted({k for row in history for k in row} - {"epoch"})

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)

    write_atomically(path, write)


def saved_run(output):
    """The settings a run in `output` was started with (its config.json): `(config, corpus, text_key)`, for
    `--resume`. Raises OutputDirError when there is none."""
    path = os.path.join(output, CONFIG_FILE)
    if not os.path.exists(path):
        raise OutputDirError(f"--resume: {output!r} holds no run to continue (no {CONFIG_FILE}).")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise OutputDirError(f"--resume: cannot read the run's settings {path!r}: {e}.") from None
    fields = set(configs.Config.__dataclass_fields__)
    return configs.Config(**{k: v for k, v in saved.items() if k in fields}), saved["corpus"], saved["text_key"]
