"""The docs, model cards and benchmark results speak of the software (dates, commits, machines, commands), not of
how the work on it was organised: `grep -rniE "session|agent|hidden benchmark"` over them finds only software words
(pytest's `scope="session"`, onnxruntime's `InferenceSession`)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACES = ["docs", "data/pretrained", "benchmarks/results", "README.md", "README-english.md", "CHANGELOG.md"]
WORDS = re.compile(r"session|agent|hidden benchmark", re.IGNORECASE)
# The software words the pattern also finds, removed from a line before it is searched.
SOFTWARE = re.compile(r"""scope=["']session["']|InferenceSession|SessionOptions|tf\.compat\.v1\.Session""")
TEXT_SUFFIXES = (".md", ".txt", ".json", ".csv", ".py", ".toml", ".cfg", ".yaml", ".yml", ".rst")


def files():
    for place in PLACES:
        path = os.path.join(ROOT, place)
        if os.path.isfile(path):
            yield path
        for folder, _, names in os.walk(path):
            for name in sorted(names):
                if name.endswith(TEXT_SUFFIXES):
                    yield os.path.join(folder, name)


def process_words(text):
    """The lines of `text` (numbered from 1) that hold a process word."""
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if WORDS.search(SOFTWARE.sub("", line))]


def test_the_pattern_finds_process_words_and_passes_software_words():
    assert process_words("Measured in session 9 on the quiet machine.\nother agents' jobs\nthe hidden benchmark") == [
        (1, "Measured in session 9 on the quiet machine."), (2, "other agents' jobs"), (3, "the hidden benchmark")]
    assert process_words('@pytest.fixture(scope="session")\nonnxruntime.InferenceSession(path)\n2026-12-01, f213e37') == []


def test_docs_speak_of_the_software():
    found = []
    for path in files():
        with open(path, encoding="utf-8", errors="replace") as f:
            found += [f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}" for n, line in process_words(f.read())]
    assert found == [], "\n".join(found)
    assert any(True for _ in files())
