"""How every console script runs (`run_tool`, the entry point behind each tool's `run()`), with a quiet console:
TensorFlow's own log lines are hidden unless the user asks for them (`--tf-logs`).

These settings only work before TensorFlow is imported, so this module imports nothing heavy, and neither do
`hypertext` (its names load lazily) nor `hypertext.cli`.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings

# A glog/absl C++ log line: severity letter, MMDD, a space ("I0000 00:00:1795642031.531984 3608 port.cc:153] ...").
_CPP_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")
_SEVERITIES = {"I": 0, "W": 1, "E": 2, "F": 3}
# What absl prints before its first line when logging is used before absl::InitializeLog(), as TF's libraries do.
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def quiet_tensorflow():
    """Silences TensorFlow's console chatter; call it before anything imports TensorFlow (or Keras on TF).

    - If the user has not set `TF_CPP_MIN_LOG_LEVEL`, sets it to "3": TF's C++ info, warning and error lines (the
      CPU-feature banner, "failed call to cuInit" on machines without a GPU) are dropped. A value the user set is
      kept.
    - TensorFlow's shared libraries log a few lines while they load (the oneDNN banner, "Could not find cuda
      drivers"), before any log level applies. While `tensorflow` is first imported, stderr (file descriptor 2) goes
      to a temporary file; then every line below the log level (C++ log lines, and absl's "before
      absl::InitializeLog()" preamble) is dropped and the rest is written to stderr as it came.
    - TF's Python logger ("tensorflow", which prints its deprecation notices) and absl-py's logging show errors only;
      Python `DeprecationWarning`s raised in TensorFlow modules are ignored.

    It never imports TensorFlow itself, and is a no-op for the import filter if TensorFlow is already imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        level = 0
    if level > 0 and "tensorflow" not in sys.modules and not any(
            isinstance(finder, _FilterImportLogs) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FilterImportLogs(level))
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"tensorflow(\.|$)")
    try:
        from absl import logging as absl_logging  # absl-py, pure Python; TF depends on it
    except ImportError:
        pass
    else:
        absl_logging.set_verbosity(absl_logging.ERROR)


def run_tool(parse_args, main, argv=None, prog=None):
    """What every console script does before anything imports TensorFlow: turns TensorFlow's oneDNN kernels on unless
    the user set `TF_ENABLE_ONEDNN_OPTS` (`0` opts out), hides TensorFlow's log lines unless `--tf-logs` is given;
    then returns `main(argv, prog)`, the exit code.

    This TensorFlow build leaves oneDNN off on CPUs without AVX-512 (such as the 2-core AVX2 AMD machines the project
    measures on), where the per-sample convs run about 2.5x a shared conv; oneDNN makes the `wordnet` train step about
    19% faster there (benchmarks/train_step.py, batch 32: 76.6 -> 61.9 ms). TensorFlow reads the variable when it is
    first imported. So every tool runs at the faster setting, and none prints the layers' slow-path warning.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if not parse_args(argv, prog).tf_logs:
        quiet_tensorflow()
    return main(argv, prog)


def keep_line(line, level):
    """Whether a stderr line written while TensorFlow loads is shown under `TF_CPP_MIN_LOG_LEVEL=level`."""
    if line.startswith(_ABSL_PREAMBLE):
        return level == 0
    match = _CPP_LOG_LINE.match(line)
    return match is None or _SEVERITIES[match.group(1)] >= level


@contextlib.contextmanager
def _filtered_stderr(level):
    """Captures file descriptor 2 (C and Python writes alike), then writes back the lines that `keep_line` keeps."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if keep_line(line, level))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _FilterImportLogs(importlib.abc.MetaPathFinder):
    """Wraps the first import of `tensorflow` in `_filtered_stderr`, then steps aside."""

    def __init__(self, level):
        self.level = level

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # only the first import, and the real finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteringLoader(spec.loader, self.level)
        return spec


class _FilteringLoader(importlib.abc.Loader):
    def __init__(self, loader, level):
        self.loader, self.level = loader, level

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # TF sees its own loader
        with _filtered_stderr(self.level):
            self.loader.exec_module(module)
