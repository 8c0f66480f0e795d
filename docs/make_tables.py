"""Renders the tables of docs/benchmarks.md from the benchmark scripts' JSON output, in place: each
`<!-- table: NAME -->` marker is followed by its table, up to `<!-- end table -->`. Run it after a benchmark writes
new JSON:

    python docs/make_tables.py
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from tables import evaluation_table, vectors_table  # noqa: E402

PRETRAINED = os.path.join(ROOT, "data", "pretrained")
# (label, evaluate.py --json output) of the shipped checkpoint
EVALUATIONS = [("WordNet test split, first 2,000", "test-wordnet-2000.json"),
               ("WordNet test split, all", "test-wordnet.json"),
               ("GCIDE test split (general English), first 2,000", "test-english-2000.json"),
               ("Python standard-library docstrings (out of domain)", "dev-stdlib-docstrings.json")]


def read(name):
    with open(os.path.join(PRETRAINED, name), encoding="utf-8") as f:
        return json.load(f)


def tables():
    return {"vectors": vectors_table(read("vectors-test.json")["rows"]),
            "evaluation": evaluation_table([(label, read(name)) for label, name in EVALUATIONS])}


def render(text, rendered):
    def fill(match):
        return f"<!-- table: {match.group(1)} -->\n\n{rendered[match.group(1)]}\n\n<!-- end table -->"

    return re.sub(r"<!-- table: (\w+) -->(?:\n.*?<!-- end table -->)?", fill, text, flags=re.S)


def main():
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(text, tables()))


if __name__ == "__main__":
    main()
