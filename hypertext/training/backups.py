"""The backups that `--resume` restores: written so that a crash at any moment leaves a usable one, and verified
before use.

A backup is a folder `backup/epoch-NNNNN/` with the weights and optimizer state (`state.weights.h5`), the epoch
and the history rows (`state.json`) and, written last, `manifest.json`: the size and SHA-256 of each file. It is
built under a temporary name, every file flushed to disk, the manifest written (temporary name, fsync, rename) and
the folder renamed into place; only then are backups older than the last `KEEP` deleted (renamed away first, so
none is ever left half deleted). `restore_backup` checks
the manifest of the newest backup and falls back to an older one when it fails (a torn copy, a disk fault).

Every file operation goes through `hypertext.training.fs`, where a test can crash the writer at any step.
"""

import glob
import json
import os

from hypertext.checks import sha256_file
from hypertext.training import fs
from hypertext.training.errors import TrainingError
from hypertext.training.run_dir import TMP_PREFIX

WEIGHTS_FILE = "state.weights.h5"
STATE_FILE = "state.json"
MANIFEST_FILE = "manifest.json"
KEEP = 2


def backup_name(epochs_done):
    return f"epoch-{epochs_done:05d}"


def complete_backups(directory):
    """The backup folders in `directory` that were renamed into place, oldest first (not yet verified)."""
    return sorted(glob.glob(os.path.join(directory, "epoch-[0-9][0-9][0-9][0-9][0-9]")))


def write_backup(model, directory, epochs_done, history):
    """Writes the backup after `epochs_done` epochs (the model's weights and optimizer state, and `history`, the
    rows of every epoch so far), then deletes all but the newest `KEEP` backups."""
    fs.makedirs(directory)
    tmp = os.path.join(directory, TMP_PREFIX + backup_name(epochs_done))
    fs.remove(tmp)
    fs.makedirs(tmp)
    fs.write_with(os.path.join(tmp, WEIGHTS_FILE), model.save_weights)
    fs.write_bytes(os.path.join(tmp, STATE_FILE), json.dumps({"epoch": epochs_done, "history": history}).encode())
    files = {}
    for name in (WEIGHTS_FILE, STATE_FILE):
        path = os.path.join(tmp, name)
        fs.fsync(path)
        files[name] = {"size": os.path.getsize(path), "sha256": sha256_file(path)}
    manifest = os.path.join(tmp, MANIFEST_FILE)
    fs.write_bytes(manifest + ".tmp", json.dumps({"epoch": epochs_done, "files": files}, indent=1).encode())
    fs.fsync(manifest + ".tmp")
    fs.replace(manifest + ".tmp", manifest)
    final = os.path.join(directory, backup_name(epochs_done))
    _discard(final)  # an epoch run again after a resume
    fs.replace(tmp, final)
    for old in complete_backups(directory)[:-KEEP]:
        _discard(old)


def _discard(path):
    """Deletes a backup folder: first renamed to a temporary name, so a crash while it is deleted leaves no
    half-deleted backup, only a temporary folder that the next run removes."""
    if os.path.exists(path):
        doomed = os.path.join(os.path.dirname(path), f"{TMP_PREFIX}old-{os.path.basename(path)}")
        fs.replace(path, doomed)
        fs.remove(doomed)


def verify_backup(path):
    """None when the backup folder `path` is complete and every file matches its manifest; else why not (a
    phrase)."""
    try:
        with open(os.path.join(path, MANIFEST_FILE)) as f:
            files = json.load(f)["files"]
    except FileNotFoundError:
        return f"it has no {MANIFEST_FILE} (its writing never finished)"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"its {MANIFEST_FILE} is unreadable ({e})"
    for name in (WEIGHTS_FILE, STATE_FILE):
        if name not in files:
            return f"its {MANIFEST_FILE} does not list {name}"
    for name, entry in sorted(files.items()):
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            return f"{name} is missing"
        size = os.path.getsize(file)
        if size != entry["size"]:
            return f"{name} has {size:,} bytes, not the {entry['size']:,} of its manifest"
        if sha256_file(file) != entry["sha256"]:
            return f"{name} does not match the SHA-256 checksum in its manifest"
    return None


def restore_backup(model, directory, log=print):
    """Loads the newest verified backup into the compiled `model`, weights and optimizer state (step counter and
    moments) alike, and says so when it had to skip a newer one. Returns `(epochs_done, history_rows)`; `(0, [])`
    when there is no backup at all.

    A folder whose backups all lack a manifest was written before hypertext wrote them: its newest backup is
    loaded as before, unverified.

    Raises:
        TrainingError: there are backups, but none is intact.
    """
    backups = complete_backups(directory)
    if not backups:
        return 0, []
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    legacy = not any(os.path.exists(os.path.join(path, MANIFEST_FILE)) for path in backups)
    skipped = []
    for path in reversed(backups):
        reason = None if legacy else verify_backup(path)
        if reason is None:
            try:
                model.load_weights(os.path.join(path, WEIGHTS_FILE))
                with open(os.path.join(path, STATE_FILE)) as f:
                    state = json.load(f)
                epochs_done, history = int(state["epoch"]), list(state["history"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                reason = f"it cannot be loaded ({(str(e).strip() or type(e).__name__).splitlines()[0]})"
        if reason is not None:
            skipped.append(f"{os.path.basename(path)}: {reason}")
            continue
        if skipped:
            log(f"resume: skipped the damaged backup {'; '.join(skipped)}. Using {os.path.basename(path)}, the "
                "newest verified one")
        return epochs_done, history
    raise TrainingError(
        f"--resume: no verified backup is left in {directory!r} ({'; '.join(skipped)}). Start the run again into a "
        "new --output (the best model so far, model.keras, is untouched).")
