"""One writer per run folder: `claim_run_folder` takes an exclusive `fcntl.flock` on `RUN/run.lock` and holds it
until `release_run_folder` or the end of the process.

The file records the owner (pid, host, start time) as JSON, for the message that refuses a second writer. The lock
itself is the kernel's: it goes away with the process, however the process ends (SIGKILL, the OOM killer, a
reboot), so a folder is never left locked by a dead run. A lock file that still holds an owner when it is claimed
was left by such a run; the claim then says that it takes the folder over. A clean release deletes the file.

On a network filesystem the lock is as good as its `flock` (Linux maps it to NFS byte-range locks). In a
multi-worker run only process 0, which alone writes the folder, claims it.
"""

import datetime
import fcntl
import json
import os
import socket
import time

from hypertext.training.errors import OutputDirError
from hypertext.training.run_dir import unwritable_output_error

LOCK_FILE = "run.lock"

_held = {}  # real path of the folder -> the open, locked file descriptor
_created = set()  # real paths of the folders that claim_run_folder created


class RunFolderInUse(OutputDirError):
    """Another live process holds the run folder."""


def _owner_text(owner):
    if not owner:
        return "another process (its pid is not recorded yet)"
    return f"process {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}"


def _read_owner(fd):
    try:
        data = os.pread(fd, 4096, 0)
        return json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return {}


def claim_run_folder(path, log=print, create=True):
    """Makes this process the only writer of the run folder `path` (created when `create`; when it does not exist
    and not `create`, nothing is claimed). Claiming a folder this process already holds does nothing.

    Raises:
        RunFolderInUse: another live process holds it (before anything in the folder is read).
        OutputDirError: the folder cannot be created or the lock file written.
    """
    key = os.path.realpath(path)
    if key in _held or (not create and not os.path.isdir(path)):
        return
    lock_path = os.path.join(path, LOCK_FILE)
    try:
        if not os.path.isdir(path):
            _created.add(key)
        os.makedirs(path, exist_ok=True)
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                for _ in range(20):  # the owner writes its record just after it locks
                    if owner is not None:
                        break
                    time.sleep(0.05)
                    owner = _read_owner(fd)
                os.close(fd)
                pid = (owner or {}).get("pid", "PID")
                raise RunFolderInUse(
                    f"{path!r} is in use by another training run: {_owner_text(owner)}. Wait for it to finish, or "
                    f"stop it (kill {pid}) and continue the run with --resume.") from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # its owner deleted it on release between our open and lock: lock the new file
        previous = _read_owner(fd)
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        os.fsync(fd)
    except OSError as e:
        raise unwritable_output_error(path, e) from None
    _held[key] = fd
    if previous is not None:
        log(f"run folder: taking {path!r} over from {_owner_text(previous)}, which ended without releasing it "
            "(killed, out of memory or a reboot)")


def release_run_folder(path):
    """Deletes the lock file and releases the folder, if this process holds it. A folder that the claim created and
    that holds nothing else (a run refused before it wrote anything) is removed too."""
    key = os.path.realpath(path)
    fd = _held.pop(key, None)
    if fd is None:
        return
    try:
        os.remove(os.path.join(path, LOCK_FILE))  # still locked: a process that opened it meanwhile retries
    except OSError:
        pass
    os.close(fd)
    if key in _created:
        _created.discard(key)
        try:
            os.rmdir(path)  # only if empty
        except OSError:
            pass
