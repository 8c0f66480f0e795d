"""The skip check of tests/conftest.py: a run with a skip that `ALLOWED_SKIPS` does not name fails (exit 1), and
says which; an allowed skip passes. Run in a pytest session of its own (pytester)."""

import re

import pytest

from tests.conftest import ALLOWED_SKIPS, disallowed_skips

pytest_plugins = ["pytester"]

CONFTEST = """
from tests.conftest import SkipCheck

def pytest_configure(config):
    config.pluginmanager.register(SkipCheck(allowed=[r"an allowed reason"]), "skip-check-under-test")
"""
TESTS = """
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="{reason}")
def test_skipped():
    pass
"""


def test_the_allowed_reasons_are_regular_expressions_that_match_only_themselves():
    for pattern in ALLOWED_SKIPS:
        re.compile(pattern)
    assert disallowed_skips(["needs Debian's wordnet-base", "could not import 'tensorflow': No module named"]) == [
        "needs Debian's wordnet-base"]


@pytest.mark.parametrize("reason, exit_code", [("needs a tool this machine lacks", 1), ("an allowed reason", 0)])
def test_a_skip_off_the_list_fails_the_run(reason, exit_code, pytester, monkeypatch):
    monkeypatch.delenv("HYPERTEXT_ALLOW_SKIPS", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TESTS.format(reason=reason))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    assert result.ret == exit_code
    result.assert_outcomes(passed=1, skipped=1)
    listed = any("skips not on the allowed list" in line for line in result.outlines)
    assert listed == bool(exit_code)
    if exit_code:
        assert any(line.endswith(f"test_skipped: {reason}") for line in result.outlines)
    monkeypatch.setenv("HYPERTEXT_ALLOW_SKIPS", "1")
    assert pytester.runpytest("-p", "no:cacheprovider").ret == 0
