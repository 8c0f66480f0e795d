"""Shared helpers of the corpus builders (data/build_*.py): what counts as a usable English text, sentence
splitting, case-insensitive deduplication and the deterministic gzip writer.

The builders import this module as a sibling (`python data/build_english.py` puts data/ on sys.path).
"""

import gzip
import hashlib
import os
import random
import re
import unicodedata

MIN_CHARS, MAX_CHARS = 20, 400

# The commonest English function words (plus archaic forms, for older prose): a text needs some of them to count as
# English.
ENGLISH_WORDS = frozenset(
    "the of and to a in is it that he was for on are as with his they i at be this have from or one had by not but "
    "what all were we when your can said there an which she do their if will up other about out many then them "
    "these so some her would make like him into has more no my me thee thou thy our you who its may shall upon "
    "than such any those let must nor yet ye hath doth".split())

_MARKUP = re.compile(r"[\[\]{}\\<>|*_=@#$%^~]|https?:|www\.|--\S|\S--$")
# After ".", "!" or "?" and up to two closing quotes or parentheses (each a fixed-width look-behind, which keeps them
# in the sentence), whitespace and then a capital letter, perhaps after an opening quote or parenthesis.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)])|(?<=[.!?][\"'\u201d\u2019)]{2}))\s+"
                           r"(?=[\"'\u201c\u2018(]?[A-Z])")


def normalize(text):
    """NFC, typographic quotes and dashes folded to ASCII where that loses nothing, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "`": "'",
                                         "\u00a0": " ", "\u2014": " - ", "\u2013": "-", "\u2026": "...",
                                         "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'"}))
    return re.sub(r"\s+", " ", text).strip()


def acceptable(text, min_chars=MIN_CHARS, max_chars=MAX_CHARS, capitalised=True):
    """Whether `text` is a usable English text: `min_chars`-`max_chars` long, no markup characters or links, mostly
    letters and few digits, balanced double quotes, at least four words, some of them common English words, and
    (if `capitalised`) starting with a capital letter, a quote or a parenthesis."""
    if not min_chars <= len(text) <= max_chars or _MARKUP.search(text):
        return False
    letters = sum(c.isalpha() for c in text)
    if letters < 0.7 * len(text.replace(" ", "")) or sum(c.isdigit() for c in text) > 0.1 * len(text):
        return False
    if (capitalised and not (text[0].isupper() or text[0] in "\"'(")) or text.count('"') % 2:
        return False
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) < 4:
        return False
    return sum(w in ENGLISH_WORDS for w in words) >= max(1, 0.12 * len(words))


def sentences(text):
    """Splits normalised prose into sentences: after `.`, `!` or `?` (and any closing quote or parenthesis) that
    a capital letter (or an opening quote) follows."""
    return [s for s in _SENTENCE_END.split(text) if s]


def passages(text, max_chars=MAX_CHARS):
    """`text` itself if it fits in `max_chars`, else its sentences, neighbours joined while they fit."""
    if len(text) <= max_chars:
        return [text]
    out, current = [], ""
    for sentence in sentences(text):
        if current and len(current) + 1 + len(sentence) <= max_chars:
            current += " " + sentence
        else:
            if current:
                out.append(current)
            current = sentence
    if current:
        out.append(current)
    return out


def deduplicate(texts, seen=None):
    """The texts not met before, case-insensitively, in order; `seen` (a set of casefolded texts) is updated."""
    seen = set() if seen is None else seen
    out = []
    for text in texts:
        key = text.casefold()
        if key not in seen:
            seen.add(key)
            out.append(text)
    return out


def shuffled(texts, seed):
    """The texts in a random order drawn with `seed`."""
    texts = list(texts)
    random.Random(seed).shuffle(texts)
    return texts


def hash_ordered(texts, seed):
    """The texts in a pseudo-random order that each text's own SHA-256 hash (with `seed`) decides: the same for any
    input order, and adding or removing texts leaves the others in the same relative order."""
    return sorted(texts, key=lambda text: hashlib.sha256(f"{seed}\0{text}".encode("utf-8")).digest())


def write_texts(texts, path):
    """Writes one text per line, UTF-8, gzipped with a fixed header (no name, mtime 0), so that the same texts always
    give the same bytes."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(("\n".join(texts) + "\n").encode("utf-8"))


def read_texts(path):
    """The lines of a file `write_texts` wrote."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]
