"""The shipped WordNet 3.0 gloss corpus (data/wordnet/glosses.tsv.gz) and its constants."""

import csv
import gzip
import hashlib
import os

# WordNet's lexicographer files, indexed by the two-digit lex_filenum of each data line (WordNet's lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()
COLUMNS = ("split", "synset", "pos", "lexname", "kind", "text")
SPLITS = ("train", "validation", "test")
KINDS = ("definition", "example")


def split_of(key):
    """train / validation / test, about 90 / 5 / 5, from a stable hash of `key` (a synset id, or a text)."""
    # int.from_bytes of the digest is int(hexdigest, 16), without the hex string: it runs for every line of a corpus.
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest(), "big") % 100
    return "train" if bucket < 90 else ("validation" if bucket < 95 else "test")


def default_path():
    """Where the shipped corpus lives: $HYPERTEXT_DATA/wordnet/glosses.tsv.gz, else the repository's data/ folder."""
    root = os.environ.get("HYPERTEXT_DATA") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")
    return os.path.join(root, "wordnet", "glosses.tsv.gz")


def read_rows(path=None, split=None, kinds=KINDS):
    """Yields the corpus rows as dicts keyed by `COLUMNS`, optionally for one split and some kinds."""
    path = path or default_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The WordNet corpus is missing: {path!r}. Rebuild it with data/build_wordnet.py.")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = tuple(next(reader))
        if header != COLUMNS:
            raise ValueError(f"{path!r} is not a glosses file: its header is {header}, expected {COLUMNS}.")
        for values in reader:
            row = dict(zip(COLUMNS, values))
            if (split is None or row["split"] == split) and row["kind"] in kinds:
                yield row
