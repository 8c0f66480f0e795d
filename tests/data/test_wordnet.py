import collections
import csv
import gzip
import os
import subprocess
import sys

import pytest

from hypertext.data import wordnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, "data", "wordnet", "glosses.tsv.gz")


@pytest.fixture(scope="module")
def rows():
    with gzip.open(SHIPPED, "rt", encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_columns_and_counts(rows):
    assert tuple(rows[0]) == ("split", "synset", "pos", "lexname", "kind", "text")
    body = rows[1:]
    assert all(len(r) == 6 and r[5] for r in body)
    assert len({r[1] for r in body}) == 117_659  # every WordNet 3.0 synset has its definition row
    assert collections.Counter(r[4] for r in body) == {"definition": 117_659, "example": 48_339}
    assert set(r[3] for r in body) == set(wordnet.LEXNAMES) and len(wordnet.LEXNAMES) == 45
    assert set(r[2] for r in body) == {"n", "v", "a", "s", "r"}


def test_splits_are_disjoint_by_synset_and_about_90_5_5(rows):
    split_of_synset = {}
    for split, synset, *_ in rows[1:]:
        assert split_of_synset.setdefault(synset, split) == split
    counts = collections.Counter(split_of_synset.values())
    total = sum(counts.values())
    assert abs(counts["train"] / total - 0.90) < 0.01
    assert abs(counts["validation"] / total - 0.05) < 0.01
    assert abs(counts["test"] / total - 0.05) < 0.01


def test_known_synset_row(rows):
    cat = [r for r in rows[1:] if r[1] == "02121620-n"]
    assert cat and cat[0][3] == "noun.animal" and cat[0][4] == "definition"
    assert "feline mammal" in cat[0][5]


def test_readme_counts_match(rows):
    readme = open(os.path.join(ROOT, "data", "README.md"), encoding="utf-8").read()
    counts = collections.Counter((r[0], r[4]) for r in rows[1:])
    for (split, kind), n in counts.items():
        assert f"| {split} | {kind} | {n:,} |" in readme, (split, kind, n)


@pytest.mark.skipif(not os.path.isfile("/usr/share/wordnet/data.noun"), reason="needs Debian's wordnet-base")
def test_rebuild_is_byte_identical(tmp_path):
    out = tmp_path / "glosses.tsv.gz"
    subprocess.run([sys.executable, os.path.join(ROOT, "data", "build_wordnet.py"), "--output", str(out),
                    "--license", "/nonexistent"], check=True, capture_output=True)
    assert out.read_bytes() == open(SHIPPED, "rb").read()


def test_license_is_shipped():
    text = open(os.path.join(ROOT, "data", "wordnet", "LICENSE"), encoding="utf-8").read()
    assert "Princeton University" in text and "WordNet" in text
