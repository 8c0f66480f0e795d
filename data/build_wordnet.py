"""Builds data/wordnet/glosses.tsv.gz from WordNet 3.0's database files, deterministically.

    apt-get install wordnet-base            # Debian's package holds the database and its license
    python data/build_wordnet.py --wordnet-dir /usr/share/wordnet

One row per definition and one per quoted usage example, with columns `split synset pos lexname kind text`. The split
(train/validation/test, about 90/5/5) comes from a stable hash of the synset id, so all rows of a synset share it.
"""

import argparse
import gzip
import io
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypertext.data.wordnet import COLUMNS, LEXNAMES, split_of  # noqa: E402

POS_FILES = ("noun", "verb", "adj", "adv")
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "wordnet", "glosses.tsv.gz")


def clean(text):
    return re.sub(r"\s+", " ", text).strip()


def parse_gloss(gloss):
    """Splits a gloss into its definition and its quoted usage examples."""
    examples = [clean(e) for e in re.findall(r'"([^"]*)"', gloss)]
    definition = clean(re.sub(r'"[^"]*"', "", gloss)).strip(" ;:,")
    return definition, [e for e in examples if e]


def read_rows(wordnet_dir):
    for pos_file in POS_FILES:
        with open(os.path.join(wordnet_dir, f"data.{pos_file}"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # the license header
                    continue
                fields, _, gloss = line.partition(" | ")
                offset, lex_filenum, ss_type = fields.split()[:3]
                synset = f"{offset}-{ss_type}"
                common = (split_of(synset), synset, ss_type, LEXNAMES[int(lex_filenum)])
                definition, examples = parse_gloss(gloss)
                if definition:
                    yield (*common, "definition", definition)
                for example in examples:
                    yield (*common, "example", example)


def build(wordnet_dir, output):
    buffer = io.StringIO()
    buffer.write("\t".join(COLUMNS) + "\n")
    for row in read_rows(wordnet_dir):
        buffer.write("\t".join(row) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp = output + ".tmp"
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    os.replace(tmp, output)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet-dir", default="/usr/share/wordnet", help="folder with data.{noun,verb,adj,adv}")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--license", default="/usr/share/doc/wordnet-base/copyright",
                        help="copied to LICENSE beside the output when it exists")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.wordnet_dir, "data.noun")):
        raise SystemExit(f"No WordNet database in {args.wordnet_dir!r} (apt-get install wordnet-base).")
    build(args.wordnet_dir, args.output)
    if os.path.isfile(args.license):
        shutil.copyfile(args.license, os.path.join(os.path.dirname(os.path.abspath(args.output)), "LICENSE"))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
