"""Loading text corpora: local files, the shipped WordNet glosses and English texts, TFDS datasets, and mixes."""

import gzip
import os

from hypertext.data import wordnet

ERRORS = ("strict", "replace", "skip")


class Texts(list):
    """A list of strings that also says what loading it skipped or changed.

    Attributes:
        source, split: where the texts came from.
        stats: counts: `empty_lines` (skipped), `undecodable_lines` (replaced or skipped, by the `errors` policy),
            and `texts`.
    """

    def __init__(self, texts, source, split, **stats):
        super().__init__(texts)
        self.source = source
        self.split = split
        self.stats = {"texts": len(self), "empty_lines": 0, "undecodable_lines": 0, **stats}


def _check_split(split):
    if split not in wordnet.SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(repr(s) for s in wordnet.SPLITS)}. Received: split={split!r}")


def read_text_file(path, errors="strict"):
    """Reads one text per line from a `.txt` or `.txt.gz` file.

    Args:
        errors: what to do with a line that is not valid UTF-8: "strict" raises a `ValueError` naming the file and
            line, "replace" decodes it with U+FFFD replacement characters, "skip" drops it. Replaced or skipped lines
            are counted in `stats["undecodable_lines"]`.

    Returns:
        `Texts`, with empty (or whitespace-only) lines skipped and counted in `stats["empty_lines"]`.
    """
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {', '.join(repr(e) for e in ERRORS)}. Received: errors={errors!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Corpus file not found: {path!r}")
    opener = gzip.open if path.endswith(".gz") else open
    texts, empty, undecodable = [], 0, 0
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    if errors == "strict":
                        raise ValueError(
                            f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start}). Fix the file, or pass "
                            "errors='replace' or errors='skip' (train.py: --encoding-errors)."
                        ) from None
                    undecodable += 1
                    if errors == "skip":
                        continue
                    line = raw.decode("utf-8", errors="replace")
                line = line.rstrip("\r\n")
                if not line.strip():
                    empty += 1
                    continue
                texts.append(line)
    except (OSError, EOFError) as e:  # e.g. a corrupt .gz
        raise ValueError(f"Could not read {path!r}: {e}") from None
    return Texts(texts, path, None, empty_lines=empty, undecodable_lines=undecodable)


def english_path():
    """Where the shipped general-English corpus lives: $HYPERTEXT_DATA/english/texts.txt.gz, else data/ in the repo."""
    return os.path.join(os.path.dirname(os.path.dirname(wordnet.default_path())), "english", "texts.txt.gz")


def load_texts(source, split="train", text_key="text", errors="strict", data_dir=None, kinds=wordnet.KINDS):
    """Loads the texts of one split of a corpus.

    Args:
        source: one of
            - a path to a local `.txt` or `.txt.gz` file, one text per line. Such a file has no splits: each text
              goes to train, validation or test (about 90/5/5) by a stable hash of the text itself;
            - `"wordnet"`: the shipped WordNet 3.0 glosses (data/wordnet/glosses.tsv.gz);
            - `"english"`: the shipped general-English corpus (data/english/texts.txt.gz: quotations, usage notes
              and definitions from GCIDE, one text per line), split like a local file, by a hash of each text;
            - `"tfds:NAME"` (e.g. `"tfds:imdb_reviews"`): a TensorFlow Datasets dataset, reading `text_key`. A dataset
              without a validation split gives the last 5% of its train split as validation;
            - several of these joined by `+`, e.g. `"wordnet+english"` or `"wordnet+my.txt"`: the texts of each
              part for this split (loaded with the same arguments), concatenated in order, with their `stats`
              added up. A path that names an existing file is read as one file even if its name contains `+`.
        split: "train", "validation" or "test".
        text_key: the feature holding the text, for TFDS sources.
        errors: the policy for lines that are not valid UTF-8 ("strict", "replace" or "skip"), for local files
            and "english".
        data_dir: the TFDS data directory.
        kinds: for "wordnet", which rows: ("definition", "example") by default.

    Returns:
        `Texts` (a list of str with loading statistics).
    """
    _check_split(split)
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            f"`source` must be a file path, 'wordnet', 'english' or 'tfds:NAME', or several joined by '+'. "
            f"Received: source={source!r}")
    source = os.fspath(source)
    if "+" in source and not os.path.isfile(source):
        parts = source.split("+")
        if not all(part.strip() for part in parts):
            raise ValueError(
                "`source` joined by '+' must name a corpus on each side of every '+', e.g. 'wordnet+english'. "
                f"Received: source={source!r}")
        loaded = [load_texts(part, split, text_key=text_key, errors=errors, data_dir=data_dir, kinds=kinds)
                  for part in parts]
        stats = {}
        for texts in loaded:
            for key, value in texts.stats.items():
                stats[key] = stats.get(key, 0) + value
        stats.pop("texts")
        return Texts([text for texts in loaded for text in texts], source, split, **stats)
    if source == "wordnet":
        return Texts([row["text"] for row in wordnet.read_rows(split=split, kinds=kinds)], source, split)
    if source.startswith("tfds:"):
        return _load_tfds(source[len("tfds:"):], split, text_key, data_dir)
    if source == "english":
        path = english_path()
        if not os.path.isfile(path):
            raise FileNotFoundError(f"The English corpus is missing: {path!r}. Rebuild it with data/build_english.py.")
        return _hash_split(read_text_file(path, errors=errors), split, source)
    return _hash_split(read_text_file(source, errors=errors), split, source)


def _hash_split(everything, split, source):
    texts = [t for t in everything if wordnet.split_of(t) == split]
    return Texts(texts, source, split, **{k: v for k, v in everything.stats.items() if k != "texts"})


def _load_tfds(name, split, text_key, data_dir):
    import tensorflow_datasets as tfds

    if not name:
        raise ValueError("`source` 'tfds:' needs a dataset name, e.g. 'tfds:imdb_reviews'.")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"Unknown TFDS dataset {name!r}: TensorFlow Datasets has no dataset of that name.") from None
    splits = builder.info.splits  # empty when TFDS knows nothing about the data yet (not prepared)
    tfds_split = split
    if splits:
        if split not in splits:
            if split == "validation" and "train" in splits:
                tfds_split = "train[95%:]"
            elif split == "test" and "validation" in splits:
                tfds_split = "validation"
            else:
                raise ValueError(f"TFDS dataset {name!r} has no {split!r} split. Its splits: {sorted(splits)}.")
        elif split == "train" and "validation" not in splits:
            tfds_split = "train[:95%]"
    try:
        dataset = tfds.load(name, split=tfds_split, data_dir=data_dir, download=False)
    except AssertionError as e:  # TFDS's way of saying the data was never downloaded and prepared
        raise ValueError(
            f"TFDS dataset {name!r} is not downloaded and prepared in {data_dir or 'the default data_dir'} and "
            f"this process cannot download it (offline?). Prepare it where the network is reachable with "
            f"`tfds.builder({name!r}).download_and_prepare()`, then pass its data_dir. ({str(e).splitlines()[0]})"
        ) from None
    if text_key not in dataset.element_spec:
        raise ValueError(
            f"TFDS dataset {name!r} has no feature {text_key!r}. Its features: {sorted(dataset.element_spec)}."
        )
    texts, empty = [], 0
    for value in dataset.map(lambda example: example[text_key]).as_numpy_iterator():
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
        if text.strip():
            texts.append(text)
        else:
            empty += 1
    return Texts(texts, f"tfds:{name}", split, empty_lines=empty)
