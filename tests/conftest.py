"""Shared fixtures, and how the suite is selected on each backend.

Backends. CI runs the whole suite once on TensorFlow (the home backend), then, on JAX and on PyTorch, only the tests
whose outcome can depend on the Keras backend. A test is backend-dependent when:

- it lives in `tests/layers/` or `tests/models/` (everything there builds or runs Keras layers), or
- it is marked `@pytest.mark.backend_dependent` (or its module sets `pytestmark = pytest.mark.backend_dependent`).

Every other test is backend-independent (NumPy code, file formats, command lines, docs) and is collected on
TensorFlow only. `@pytest.mark.backends("jax", "torch")` limits a test to the backends named (it is then
backend-dependent on those). Tests left out on a backend are deselected at collection time, never skipped, so the
skip list only holds what an environment could not run.

Modes. `HYPERTEXT_THOROUGH=1` is the thorough mode: it collects the tests marked `@pytest.mark.thorough` (the slow
kill/resume and multi-process tests, the real 16 MB checkpoints) and scales the property tests up. Without it they
are deselected (the fast mode, CI's); `pytest -m thorough` also selects them.

Skips. Every skip must match `ALLOWED_SKIPS` below (a test, tests/test_skips.py, checks the matcher): any other skip
fails the run, so an environment that cannot run a test (no `wordnet-base`, no onnxruntime, no git history) makes
the run red instead of quietly green. `HYPERTEXT_ALLOW_SKIPS=1` turns that into a warning, for a partial local setup.
"""

import os
import re
import sys

import keras
import numpy as np
import pytest

# Make `tests` importable as a package from any working directory.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TESTS = os.path.dirname(os.path.abspath(__file__))
HOME_BACKEND = "tensorflow"
# Folders whose tests are all backend-dependent (paths relative to tests/).
BACKEND_DEPENDENT_DIRS = ("layers", "models")
THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"
SLOW_FIRST = os.environ.get("HYPERTEXT_SLOW_FIRST") == "1"

# The slowest files (per-file times of CI runs on a 2-core AMD EPYC, 2026-12-03), which pytest-xdist workers start
# with when HYPERTEXT_SLOW_FIRST=1 (.ci/tf_free sets it): `--dist loadfile` hands files out in collection order, so a
# slow file collected last would run alone at the end while the other worker idles. Not in the TensorFlow leg: there,
# with three workers, the heavy files side by side made it slower (868 s in collection order, 959 s slowest first).
SLOW_FILES = [
    "test_every_preset.py", "test_reliability.py", "test_tf_free.py", "models/test_autoencoder_task.py",
    "models/test_text_autoencoder.py", "models/test_hypertext_backbone.py", "training/test_distribution.py",
    "test_cli_flags.py", "training/test_trainer.py", "test_pretrained.py", "test_cli.py", "test_export.py",
    "layers/test_per_sample_conv1d_transpose.py", "models/test_padding_invariance.py", "models/test_decoding.py",
]
# The skip reasons a run may report (regular expressions, matched against the start of the reason). Each says when it
# is right. Keep this list short: a skip that hides a gap is a defect.
ALLOWED_SKIPS = [
    # The TF-free job (.ci/tf_free) runs the backend-dependent tests in an environment without TensorFlow; the
    # tf.data half of the input-pipeline tests needs it (the NumPy half runs there).
    r"could not import 'tensorflow'",
]


def backend():
    return keras.backend.backend()


def pytest_configure(config):
    config.pluginmanager.register(SkipCheck(), "hypertext-skip-check")
    config.addinivalue_line("markers", "backend_dependent: runs on every Keras backend (see tests/conftest.py)")
    config.addinivalue_line("markers", "backends(*names): runs only on these Keras backends")
    config.addinivalue_line("markers", "thorough: slow; collected only with HYPERTEXT_THOROUGH=1 or -m thorough")


def _relative_parts(item):
    try:
        return os.path.relpath(str(item.path), TESTS).split(os.sep)
    except ValueError:
        return []


def runs_on(item, name):
    """Whether `item` is collected when the backend is `name`."""
    limited = item.get_closest_marker("backends")
    if limited is not None:
        return name in limited.args
    if name == HOME_BACKEND:
        return True
    return item.get_closest_marker("backend_dependent") is not None or \
        _relative_parts(item)[0] in BACKEND_DEPENDENT_DIRS


def pytest_ignore_collect(collection_path, config):
    """On a backend other than TensorFlow, a test file outside tests/layers and tests/models that names neither marker
    is not even imported (it may need TensorFlow, which the TF-free job does not have)."""
    if backend() == HOME_BACKEND or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    parts = os.path.relpath(str(collection_path), TESTS).split(os.sep)
    if parts[0] in BACKEND_DEPENDENT_DIRS or parts[0] == "..":
        return None
    text = collection_path.read_text(encoding="utf-8")
    return None if ("backend_dependent" in text or "mark.backends(" in text) else True


def _inherited_non_test(item):
    """`tf.test.TestCase.test_session`, which every TensorFlow test case inherits: a deprecated context manager that
    skips itself as "Not a test" when pytest runs it."""
    function = getattr(item, "function", None)
    return item.name == "test_session" and getattr(function, "__module__", "").startswith("tensorflow.")


def pytest_collection_modifyitems(config, items):
    name = backend()
    wants_thorough = THOROUGH or "thorough" in (config.getoption("markexpr", "") or "")
    keep, drop = [], []
    for item in items:
        if _inherited_non_test(item) or not runs_on(item, name) or (
                item.get_closest_marker("thorough") and not wants_thorough):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    if hasattr(config, "workerinput") and SLOW_FIRST:  # a pytest-xdist worker: the slowest files first (stable)
        rank = {name: i for i, name in enumerate(SLOW_FILES)}
        keep.sort(key=lambda item: rank.get("/".join(_relative_parts(item)), len(rank)))
    items[:] = keep


def disallowed_skips(reasons, allowed=ALLOWED_SKIPS):
    """The reasons in `reasons` that no pattern of `allowed` matches."""
    return [r for r in reasons if not any(re.match(pattern, r) for pattern in allowed)]


class SkipCheck:
    """The plugin that fails a run on a skip whose reason `allowed` does not match (registered for every run by
    `pytest_configure`; tests/test_skips.py runs it in a session of its own)."""

    def __init__(self, allowed=ALLOWED_SKIPS):
        self.allowed, self.bad = allowed, []

    def pytest_runtest_logreport(self, report):
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2]
            reason = reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
            if disallowed_skips([reason], self.allowed):
                self.bad.append((report.nodeid, reason))

    def pytest_terminal_summary(self, terminalreporter):
        if not self.bad:
            return
        terminalreporter.section("skips not on the allowed list (tests/conftest.py ALLOWED_SKIPS)", red=True)
        for node, reason in self.bad:
            terminalreporter.line(f"{node}: {reason}")
        if os.environ.get("HYPERTEXT_ALLOW_SKIPS") == "1":
            terminalreporter.line("HYPERTEXT_ALLOW_SKIPS=1: reported, not failed")

    def pytest_sessionfinish(self, session, exitstatus):
        if self.bad and os.environ.get("HYPERTEXT_ALLOW_SKIPS") != "1" and exitstatus == 0:
            session.exitstatus = 1


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _reset_keras_state():
    keras.utils.clear_session()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def write_corpus_file(tmp_path_factory, count):
    """A .txt corpus of the first `count` WordNet validation texts, for the command-line tests; returns its path."""
    from hypertext.data import load_texts

    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(load_texts("wordnet", "validation")[:count]) + "\n", encoding="utf-8")
    return str(path)


def history_epochs(out):
    """The epochs that a run folder's history.csv lists, in order."""
    import csv

    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]
