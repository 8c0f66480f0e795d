"""Builds data/english/texts.txt.gz, a general-English corpus, from GCIDE (Debian's `dict-gcide` package).

GCIDE, the GNU Collaborative International Dictionary of English (GPL-2+), is Webster's Revised Unabridged
Dictionary (1913) with later additions. Besides definitions it quotes about fifty thousand illustrative passages
from English literature (Shakespeare, Milton, Dryden, Addison, the Bible, ...). This script extracts, as plain text
with the dictionary markup stripped:

- the quotations, block ("   The element of absolutism ... controlling.   --Palfrey.") and inline
  ('"Government . . . granting absolution to the nation." --Froude.'), without their attributions;
- the usage notes ("Note: ...");
- the definitions, without headword, pronunciation, etymology, sense numbers and field labels.

Senses that GCIDE took from WordNet (tagged "[WordNet 1.5]") are left out: they would duplicate, and leak into the
held-out splits of, the WordNet gloss corpus.

Each text is whitespace normalised, 20-400 characters, mostly letters and recognisably English; the texts are
deduplicated, shuffled with a fixed seed and written one per line, UTF-8, with a fixed gzip header (so the output is
byte-identical for the same package version).

Usage:
    apt-get download dict-gcide && dpkg-deb -x dict-gcide_*.deb /tmp/gcide     # no dictd needed
    python data/build_english.py --dict /tmp/gcide/usr/share/dictd/gcide.dict.dz
or, with the package installed (`apt-get install dict-gcide`), just `python data/build_english.py`.
"""

import argparse
import gzip
import os
import re
import unicodedata

from corpus_tools import MAX_CHARS, MIN_CHARS, acceptable, shuffled, write_texts

DEFAULT_DICT = "/usr/share/dictd/gcide.dict.dz"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "english", "texts.txt.gz")
MAX_LINES = 200_000
SEED = 20240601

# GCIDE's dictd text writes non-ASCII letters as bracketed codes: [ae], ['e], [=o], ...
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", ",": "\u0327", "=": "\u0304"}
_LIGATURES = {"ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "deg": "°", "eth": "ð", "thorn": "þ", "ng": "ŋ",
              "frac12": "½", "frac14": "¼", "frac34": "¾", "pound": "£", "sect": "§", "cent": "¢", "times": "×",
              "ntil": "ñ", "cced": "ç"}
_CODE = re.compile(r"\[([^\]\s]{1,6})\]")
_SOURCE_TAG = re.compile(r"^\s*\[[^\]]*\]\s*$")  # a line holding only "[1913 Webster]", "[PJC]", "[Obs.]", ...
_LABEL = re.compile(r"^(?:\d+\.\s*|\([A-Za-z][^()]{0,40}\)\s*,?\s*|\[[A-Z][^\]]{0,30}\]\s*|[a-z]\)\s*)+")
_ATTRIBUTION = re.compile(r"\s--\S[^\"]{0,100}$")
_INLINE_QUOTE = re.compile(r"\"([^\"]{%d,%d})\"" % (MIN_CHARS, MAX_CHARS + 20))


def _decode_codes(text):
    def replace(match):
        code = match.group(1)
        if code in _LIGATURES:
            return _LIGATURES[code]
        if len(code) == 2 and code[0] in _ACCENTS and code[1].isalpha():
            return unicodedata.normalize("NFC", code[1] + _ACCENTS[code[0]])
        if len(code) == 2 and code[1] in "^" and code[0].isalpha():  # [a^], [e^]: pronunciation marks
            return code[0]
        return match.group(0)  # left for the markup filter to reject
    return _CODE.sub(replace, text)


def _clean(text):
    text = _decode_codes(text)
    text = re.sub(r"\{([^{}]*)\}", r"\1", text)  # cross references {Absolve}
    text = text.replace(". . .", "...").replace(" . .", "...")
    text = re.sub(r"\s+", " ", text).strip()
    return text


def units(lines):
    """Groups the dictionary's lines into units: what lies between blank lines and source tags such as
    "[1913 Webster]". Yields (lines, tag) pairs; `tag` is the closing tag line, or "" if none."""
    current = []
    for line in lines:
        if not line.strip() or _SOURCE_TAG.match(line):
            if current:
                yield current, line.strip()
                current = []
            continue
        current.append(line.rstrip())
    if current:
        yield current, ""


def extract(lines):
    """Yields (kind, text) pairs, kind in "quotation", "note", "definition", from the dict file's lines."""
    headword = None
    for unit, tag in units(lines):
        if "WordNet" in tag or any("[WordNet" in line for line in unit):
            continue
        first = unit[0]
        indent = len(first) - len(first.lstrip())
        if indent == 0:  # a new entry: "Absolution \Ab`so*lu"tion\, n. [F. absolution, ...]"
            headword = first.split("\\")[0].strip()
            if headword.startswith("00-database") or "\\" not in first:
                headword = None
                continue
            body = " ".join(unit)
            # Drop the headword, pronunciation and part of speech, then a balanced etymology bracket.
            body = re.sub(r"^[^\\]*\\[^\\]*\\\s*(?:\([^()]*\))?\s*[,;]?\s*(?:(?:[a-z]{1,6}\.|&)\s*)*", "", body, count=1)
            if body.startswith("["):
                depth = 0
                for i, c in enumerate(body):
                    depth += {"[": 1, "]": -1}.get(c, 0)
                    if depth == 0:
                        body = body[i + 1:]
                        break
                else:
                    body = ""
            text = body
        elif headword is None:
            continue
        elif indent >= 8:  # a block quotation, its attribution right-aligned on the last line
            text = re.sub(r"\s{2,}--\S.*$", "", " ".join(line.strip() for line in unit))
            text = _ATTRIBUTION.sub("", _clean(text))
            if acceptable(text):
                yield "quotation", text
            continue
        else:
            text = " ".join(line.strip() for line in unit)
        if text.lstrip().startswith("{"):  # a phrase sub-entry: "{Absolute zero} (Physics), the beginning ..."
            continue
        text = _clean(text)
        if not text or text.startswith(("Syn:", "Syn.", "See ", "Usage:")):
            continue
        for match in _INLINE_QUOTE.finditer(text):
            quote = match.group(1).strip()
            if acceptable(quote):
                yield "quotation", quote
        if text.startswith("Note:"):
            text = _ATTRIBUTION.sub("", text[len("Note:"):].strip())
            text = re.sub(r"\"[^\"]*\"\s*(--\S+(?: \S+)?\.)?", "", text).strip() if text.count('"') % 2 == 0 else ""
            if acceptable(re.sub(r"\s+", " ", text)):
                yield "note", re.sub(r"\s+", " ", text)
            continue
        # A definition: the text before its first example or quotation, labels and sense numbers stripped.
        text = _LABEL.sub("", text)
        text = re.split(r"\"|\s--\S|;\s*as,|:\s*as,|\bas, ", text)[0].strip().rstrip(";:,")
        if text and text[0].islower():
            text = text[0].upper() + text[1:]
        if text and text[-1] not in ".!?)":
            text += "."
        if acceptable(text):
            yield "definition", text


def build(dict_path, out_path, max_lines=MAX_LINES, seed=SEED):
    opener = gzip.open if dict_path.endswith((".gz", ".dz")) else open
    with opener(dict_path, "rt", encoding="utf-8", errors="replace") as f:
        pairs = list(extract(f))
    seen, by_kind = set(), {"quotation": [], "note": [], "definition": []}
    for kind, text in pairs:
        key = text.casefold()
        if key not in seen:
            seen.add(key)
            by_kind[kind].append(text)
    texts = []
    for kind in ("quotation", "note", "definition"):  # quotations first if the cap bites
        texts.extend(by_kind[kind][:max(0, max_lines - len(texts))])
    write_texts(shuffled(texts, seed), out_path)
    return {kind: len(v) for kind, v in by_kind.items()}, len(texts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict", default=DEFAULT_DICT, help="GCIDE's dictd data file, gcide.dict.dz")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = parser.parse_args()
    if not os.path.isfile(args.dict):
        raise SystemExit(f"{args.dict} not found: `apt-get install dict-gcide`, or `apt-get download dict-gcide && "
                         "dpkg-deb -x dict-gcide_*.deb DIR` and pass --dict DIR/usr/share/dictd/gcide.dict.dz")
    counts, written = build(args.dict, args.out, args.max_lines)
    print(f"unique texts by kind: {counts}; wrote {written} lines to {args.out} "
          f"({os.path.getsize(args.out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
