"""The everyday-English corpus builders (data/build_everyday.py, data/corpus_tools.py), on small fixtures, and the
shipped corpus' invariants."""

import gzip
import os
import struct
import sys
import zipfile

import pytest

from hypertext.data import load_texts, wordnet

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")
sys.path.insert(0, DATA)

import build_everyday as be  # noqa: E402
import corpus_tools as ct  # noqa: E402


def test_acceptable_keeps_prose_and_drops_markup_code_digits_and_non_english():
    assert ct.acceptable("The quick brown fox jumps over the lazy dog.")
    assert not ct.acceptable("Short one.")  # under 20 characters
    assert not ct.acceptable("The value of x in <b>this</b> table is the one we want.")
    assert not ct.acceptable("Set the value to 1234 5678 9012 for the 3456 of it.")
    assert not ct.acceptable("Der schnelle braune Fuchs springt über den faulen Hund.")
    assert not ct.acceptable("and the rest of it was lost in the sea.")
    assert ct.acceptable("and the rest of it was lost in the sea.", capitalised=False)
    assert not ct.acceptable('He said "yes and then left the house.')  # unbalanced quote


def test_normalize_and_passages():
    assert ct.normalize("  \u201cHi,\u201d  she\nsaid \u2014 God`s \u00abword\u00bb\u2026 ") == \
        "\"Hi,\" she said - God's \"word\"..."
    long = " ".join(f"Sentence number {i} is here." for i in range(30))
    parts = ct.passages(long, max_chars=100)
    assert all(len(p) <= 100 for p in parts) and " ".join(parts) == long
    assert ct.passages("Short. Text.") == ["Short. Text."]
    assert ct.sentences('He left. "Why?" she asked. (Then silence.) And so on.') == \
        ["He left.", '"Why?" she asked.', "(Then silence.)", "And so on."]


def test_deduplicate_is_case_insensitive_and_shared():
    seen = {"old text"}
    assert ct.deduplicate(["A text", "a TEXT", "Old Text", "b"], seen) == ["A text", "b"]
    assert seen == {"old text", "a text", "b"}


def test_write_texts_is_byte_deterministic(tmp_path):
    texts = ["One text.", "Two texts, \u00e9t\u00e9."]
    ct.write_texts(texts, tmp_path / "a.txt.gz")
    ct.write_texts(texts, tmp_path / "b.txt.gz")
    data = (tmp_path / "a.txt.gz").read_bytes()
    assert data == (tmp_path / "b.txt.gz").read_bytes() and data[4:8] == b"\0\0\0\0"  # mtime 0
    assert ct.read_texts(tmp_path / "a.txt.gz") == texts


def _pythonbible_wheel(path, verses, shift=0):
    """A minimal pythonbible-<version> wheel: its readers module calls Bible(...) with content and offsets."""
    content, starts, ends = "", {}, {}
    for verse, text in verses.items():
        starts[verse] = len(content) + shift
        content += text
        ends[verse] = len(content) + shift
    module = (f"bible = Bible(\n    Version.X,\n    {content!r},\n    {starts!r},\n    {ends!r},\n"
              "    {},\n    {},\n    {},\n    False,\n)\n")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pythonbible_x/plain_text_readers_bible.py", module)
    return str(path)


def test_read_pythonbible_and_bible_verses(tmp_path):
    verses = {1001001: "In the beginning God created the heavens and the earth.",
              1001002: " The earth was formless,and empty. \"He said, 'Is it so?'\"They said yes to him."}
    read = be.read_pythonbible(_pythonbible_wheel(tmp_path / "x.whl", verses))
    assert read == verses
    assert be.bible_verses(read[1001002]) == [
        "The earth was formless, and empty. \"He said, 'Is it so?'\" They said yes to him."]
    assert be.bible_verses("[And] he [said] unto them, Go ye.") == ["And he said unto them, Go ye."]
    with pytest.raises(ValueError, match=r"verse offsets end at"):
        be.read_pythonbible(_pythonbible_wheel(tmp_path / "y.whl", verses, shift=3))


def test_heldout_chapters_are_whole_chapters_about_three_percent():
    chapters = [book * 1000 + chapter for book in range(1, 67) for chapter in range(1, 31)]
    held = [c for c in chapters if be.bible_heldout_chapter(c * 1000 + 1)]
    assert 0.015 < len(held) / len(chapters) < 0.045
    assert all(be.bible_heldout_chapter(c * 1000 + v) for c in held for v in (2, 17, 176))


def _fake_bibles():
    held = [c for c in (b * 1000 + ch for b in range(1, 67) for ch in range(1, 40)) if
            be.bible_heldout_chapter(c * 1000 + 1)][:6]
    bibles = {}
    for version in {v for pair in be.SIMILARITY_COLLECTIONS for v in pair}:
        bibles[version] = {c * 1000 + v: f"This is verse {v} of chapter {c} as the {version} translation has it."
                           for c in held for v in range(1, 13)}
        bibles[version][1001001] = "A verse of a chapter that is not held out, so never in a pair."
    return bibles


def test_similarity_pairs_grades():
    rows = be.similarity_pairs(_fake_bibles(), verses_per_collection=10)
    assert {r[0] for r in rows} == {f"{a}-{b}" for a, b in be.SIMILARITY_COLLECTIONS}
    ids = lambda text: tuple(int(w) for w in text.split() if w.isdigit())  # noqa: E731 (verse, chapter)
    for collection, grade, first, second in rows:
        a, b = collection.split("-")
        assert f"the {a} translation" in first and f"the {b} translation" in second
        (va, ca), (vb, cb) = ids(first), ids(second)
        if grade == 3:
            assert (va, ca) == (vb, cb)
        elif grade == 2:
            assert ca == cb and abs(va - vb) == 1
        elif grade == 1:
            assert ca == cb and abs(va - vb) >= 4
        else:
            assert ca // 1000 != cb // 1000
    assert not any("not held out" in r[2] + r[3] for r in rows)
    assert rows == be.similarity_pairs(_fake_bibles(), verses_per_collection=10)  # seeded


def _mo_file(path, messages):
    """A little-endian .mo catalog of (original, translation) byte strings."""
    messages = sorted(messages)
    n = len(messages)
    originals_at, translations_at = 28, 28 + 8 * n
    data_at = translations_at + 8 * n
    table_o, table_t, blob = b"", b"", b""
    for original, _ in messages:
        table_o += struct.pack("<II", len(original), data_at + len(blob))
        blob += original + b"\0"
    for _, translation in messages:
        table_t += struct.pack("<II", len(translation), data_at + len(blob))
        blob += translation + b"\0"
    path.write_bytes(struct.pack("<7I", 0x950412DE, 0, n, originals_at, translations_at, 0, 0) + table_o + table_t +
                     blob)


def test_gettext_reader(tmp_path):
    folder = tmp_path / "locale" / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    _mo_file(folder / "game.mo", [
        (b"", b"Content-Type: text/plain; charset=BROKEN\nPlural-Forms: EXPRESSION\n"),
        (b"menu\x04Open the door before the guards come back.", b"x"),
        (b"You found one coin in the chest.\x00You found many coins in the chest.", b"x\0y"),
        (b"<b>Bold</b> text that is markup and not prose.", b"x"), (b"Quit", b"x")])
    (tmp_path / "notes.txt").write_text("Not a catalog, so never read here at all.")
    assert sorted(be.read_gettext(str(tmp_path))) == [
        "Open the door before the guards come back.", "You found many coins in the chest.",
        "You found one coin in the chest."]
    (tmp_path / "bad.mo").write_bytes(b"not a catalog")
    with pytest.raises(ValueError, match=r"bad.mo: not a gettext .mo catalog"):
        list(be.read_gettext(str(tmp_path)))


def test_prose_readers(tmp_path):
    (tmp_path / "a.dict").write_text(
        "00-database-info\n This is the database header line here.\n\n"
        "ABSURDITY, n.  A statement or belief manifestly inconsistent with\none's own opinion.\n\n"
        "        Said a man to a crapulent youth, I thought you a total abstainer.\n\n"
        "    1. [techspeak] Acronym for a thing, see {kludge} for the rest of it.\n")
    with open(tmp_path / "a.dict", "rb") as f, gzip.open(tmp_path / "a.dict.dz", "wb") as g:
        g.write(f.read())
    assert list(be.read_dictd(str(tmp_path))) == [
        "A statement or belief manifestly inconsistent with one's own opinion.",
        "Acronym for a thing, see kludge for the rest of it."]
    (tmp_path / "C").mkdir()
    (tmp_path / "C" / "x.page").write_text(
        "<page><title>T</title><p>Click <gui>Settings</gui> to open the window &amp; the panel.</p>"
        "<p>Short.</p></page>")
    assert list(be.read_mallard(str(tmp_path))) == ["Click Settings to open the window & the panel."]
    (tmp_path / "es.txt").write_text(
        'mission "X"\n\tdescription `You land on the planet. "Hello there," she says to you.`\n')
    assert list(be.read_endless_sky(str(tmp_path))) == ["You land on the planet.",
                                                        '"Hello there," she says to you.']
    (tmp_path / "english").mkdir()
    (tmp_path / "english" / "c.yml").write_text(
        "categories:\n- x\nconversations:\n- - How are you doing this fine day?\n  - I am doing very well, "
        "thank you.\n")
    assert list(be.read_chatterbot(str(tmp_path))) == ["How are you doing this fine day?",
                                                         "I am doing very well, thank you."]
    (tmp_path / "Translation-en").write_text(
        "Package: foo\nDescription-md5: 0\nDescription-en: short\n This tool converts images between the "
        "formats.\n .\n Features:\n  * raw verbatim line that is ignored by the reader\n * It reads all of "
        "the common formats\n * It is fast and it is small\n\nPackage: bar\n")
    assert list(be.read_package_descriptions(str(tmp_path))) == [
        "This tool converts images between the formats.", "It reads all of the common formats",
        "It is fast and it is small"]


def test_build_source_dedupes_against_earlier_sources_and_lists_them(tmp_path, monkeypatch):
    monkeypatch.setattr(be, "ORDER", ("first", "second"))
    with pytest.raises(SystemExit, match=r"Build 'first' first"):
        be.build_source("second", ["Anything at all for the test."], str(tmp_path))
    texts = ["Beta text for the corpus here.", "Alpha text for the corpus here.", "ALPHA text for the corpus here."]
    assert be.build_source("first", texts, str(tmp_path)) == 2
    first = (tmp_path / "first.txt.gz").read_bytes()
    assert be.build_source("second", ["alpha TEXT for the corpus here.", "Gamma text for the corpus here."],
                           str(tmp_path)) == 1
    assert ct.read_texts(tmp_path / "second.txt.gz") == ["Gamma text for the corpus here."]
    assert (tmp_path / "SOURCES").read_text() == "first\nsecond\n"
    be.build_source("first", texts[::-1], str(tmp_path))
    assert (tmp_path / "first.txt.gz").read_bytes() == first  # input order does not matter


def test_load_texts_everyday_reads_the_listed_files_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERTEXT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"everyday-English corpus is missing.*build_everyday.py"):
        load_texts("everyday")
    folder = tmp_path / "everyday"
    ct.write_texts([f"b text {i}" for i in range(300)], folder / "b.txt.gz")
    ct.write_texts([f"a text {i}" for i in range(300)], folder / "a.txt.gz")
    (folder / "SOURCES").write_text("b\na\n")
    for split in wordnet.SPLITS:
        texts = load_texts("everyday", split)
        expected = [t for t in [f"b text {i}" for i in range(300)] + [f"a text {i}" for i in range(300)]
                    if wordnet.split_of(t) == split]
        assert texts == expected and texts.source == "everyday"
    assert sum(len(load_texts("everyday", s)) for s in wordnet.SPLITS) == 600


def test_shipped_corpus_keeps_the_similarity_pairs_out():
    folder = os.path.join(DATA, "everyday")
    with open(os.path.join(folder, "SOURCES")) as f:
        names = f.read().split()
    assert names == [n for n in be.ORDER if n in names] and names[0] == "bible"
    pairs = [line.split("\t") for line in ct.read_texts(os.path.join(DATA, "similarity", "bible-pairs.tsv.gz"))[1:]]
    assert len(pairs) > 3000
    pair_texts = {t.casefold() for row in pairs for t in row[2:]}
    assert not pair_texts & be.training_texts(folder)
