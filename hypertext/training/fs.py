"""The file operations of a run's crash-safe writes (backups, best checkpoint, history), in one place, so that a
test can crash the writer at any one of them.

Every function here is one *step*: an open, a write, an fsync, a rename, a directory made or an entry deleted. The
steps are counted; with `HYPERTEXT_CRASH_AT=N` in the environment the process dies at step N with `os._exit`
(exit code `CRASH_EXIT_CODE`), the way SQLite's crash tests cut a write. A crash in a write step first lets half of
the data reach the disk (a torn write); a crash in any other step comes before the operation. `crash_at(n,
exit=False)` does the same in-process by raising `InjectedCrash` (a `BaseException`, which no cleanup handler of
the writers catches, so the disk is left as a killed process leaves it); `HYPERTEXT_FS_LOG=PATH` appends every step
to PATH, one `N kind path` line each, to learn how many there are.

Without those, each function is the plain operation plus a counter increment.
"""

import os
import shutil
import sys

CRASH_ENV = "HYPERTEXT_CRASH_AT"
LOG_ENV = "HYPERTEXT_FS_LOG"
CRASH_EXIT_CODE = 86


class InjectedCrash(BaseException):
    """Raised at the crash step by `crash_at(n, exit=False)`: an in-process stand-in for `os._exit`."""


class _Injector:
    count = 0
    crash_at = None  # step number, or None
    exit = True
    log = None  # a list that records (step, kind, path), or None


def crash_at(n, exit=False, log=None):
    """Restarts the step counter and crashes at step `n` (None: never). `exit`: `os._exit` instead of raising
    `InjectedCrash`. `log`: a list to which each step is appended as `(step, kind, path)`."""
    _Injector.count, _Injector.crash_at, _Injector.exit, _Injector.log = 0, n, exit, log


def steps():
    """How many steps have run since the counter was last restarted (or since the process started)."""
    return _Injector.count


def _step(kind, path, tear=None):
    _Injector.count += 1
    n = _Injector.count
    if _Injector.log is not None:
        _Injector.log.append((n, kind, str(path)))
    if os.environ.get(LOG_ENV):
        with open(os.environ[LOG_ENV], "a") as f:
            f.write(f"{n} {kind} {path}\n")
    crash = _Injector.crash_at
    if crash is None and os.environ.get(CRASH_ENV):
        crash, _Injector.exit = int(os.environ[CRASH_ENV]), True
    if crash != n:
        return
    if tear is not None:
        tear()
    if _Injector.exit:
        sys.stderr.write(f"crash injected at step {n}: {kind} {path}\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
    raise InjectedCrash(f"step {n}: {kind} {path}")


def _truncate_to_half(path):
    if os.path.isfile(path):
        os.truncate(path, os.path.getsize(path) // 2)


def write_bytes(path, data):
    """Creates `path` (an open step) and writes `data` into it (a write step). Not flushed to disk: see `fsync`."""
    _step("open", path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _step("write", path, tear=lambda: os.write(fd, data[: len(data) // 2]))
        os.write(fd, data)
    finally:
        os.close(fd)


def write_with(path, writer):
    """Creates `path` (an open step), then `writer(path)` writes the whole file, e.g. `model.save` (a write step;
    a crash in it leaves half the file)."""
    _step("open", path)
    open(path, "wb").close()
    _step("write", path, tear=lambda: (writer(path), _truncate_to_half(path)))
    writer(path)


def fsync(path):
    """Flushes the file or folder `path` to disk."""
    _step("fsync", path)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(src, dst):
    """Renames `src` over `dst` (atomic on POSIX), then flushes the folder that holds `dst`, so the rename itself
    survives a power cut."""
    _step("rename", dst)
    os.replace(src, dst)
    fsync(os.path.dirname(os.path.abspath(dst)))


def _delete_first_entry(folder):
    entries = sorted(os.listdir(folder))
    if entries:
        first = os.path.join(folder, entries[0])
        shutil.rmtree(first) if os.path.isdir(first) else os.remove(first)


def makedirs(path):
    _step("mkdir", path)
    os.makedirs(path, exist_ok=True)


def remove(path):
    """Deletes a file or a whole folder; a crash in a folder's deletion leaves it half deleted (its first file
    gone)."""
    if os.path.isdir(path):
        _step("delete", path, tear=lambda: _delete_first_entry(path))
        shutil.rmtree(path)
    elif os.path.lexists(path):
        _step("delete", path)
        os.remove(path)
