"""Loading text corpora: local files, the shipped WordNet glosses and English texts, TFDS datasets, and mixes."""

import gzip
import itertools
import math
import os
import random

from hypertext.checks import check_int
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


class Reservoir:
    """A uniform random sample of at most `size` items of a stream of unknown length, in memory bounded by `size`
    (reservoir sampling, Li's "Algorithm L": it draws random numbers only for the items it keeps, so a long stream
    costs one counter step per item). Seeded: the same stream and seed give the same sample.

    Until `size` items have been added, the sample is all of them, in their order.

    Attributes:
        items: the sample, a list of at most `size` items.
        count: how many items were added.
    """

    def __init__(self, size, seed=0):
        check_int("size", size)
        self.size, self.items, self.count = size, [], 0
        self._random = random.Random(seed)
        self._weight = 1.0
        self._next = size  # the index of the next item that enters the full sample
        self._step()

    def _uniform(self):
        return 1.0 - self._random.random()  # in (0, 1]: its log is finite

    def _step(self):
        self._weight *= math.exp(math.log(self._uniform()) / self.size)
        if self._weight < 1.0:  # (1.0 only by rounding, for a huge `size`: then the very next item enters)
            self._next += int(math.log(self._uniform()) / math.log1p(-self._weight))

    def add(self, item):
        """Offers the next item of the stream."""
        if self.count < self.size:
            self.items.append(item)
        elif self.count == self._next:
            self.items[self._random.randrange(self.size)] = item
            self._next += 1
            self._step()
        self.count += 1


def _check_split(split):
    if split not in wordnet.SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(repr(s) for s in wordnet.SPLITS)}. Received: split={split!r}")


def _check_errors(errors):
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {', '.join(repr(e) for e in ERRORS)}. Received: errors={errors!r}")


def iter_text_file(path, errors="strict", stats=None):
    """Yields the texts of a `.txt` or `.txt.gz` file, one per non-empty line, reading one line at a time.

    Args:
        path: the file.
        errors: the policy for lines that are not valid UTF-8, as in `read_text_file`.
        stats: an optional dict whose `empty_lines` and `undecodable_lines` counts are increased as lines are read.

    The file is checked (it exists, `errors` is known) when this is called, not at the first `next()`.
    """
    _check_errors(errors)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Corpus file not found: {path!r}")
    return _lines(path, errors, {} if stats is None else stats)


def _lines(path, errors, stats):
    stats.setdefault("empty_lines", 0)
    stats.setdefault("undecodable_lines", 0)
    opener = gzip.open if path.endswith(".gz") else open
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
                    stats["undecodable_lines"] += 1
                    if errors == "skip":
                        continue
                    line = raw.decode("utf-8", errors="replace")
                line = line.rstrip("\r\n")
                if not line.strip():
                    stats["empty_lines"] += 1
                    continue
                yield line
    except (OSError, EOFError) as e:  # e.g. a corrupt .gz
        raise ValueError(f"Could not read {path!r}: {e}") from None


def read_text_file(path, errors="strict"):
    """Reads one text per line from a `.txt` or `.txt.gz` file into memory (`iter_text_file` streams it instead).

    Args:
        errors: what to do with a line that is not valid UTF-8: "strict" raises a `ValueError` naming the file and
            line, "replace" decodes it with U+FFFD replacement characters, "skip" drops it. Replaced or skipped lines
            are counted in `stats["undecodable_lines"]`.

    Returns:
        `Texts`, with empty (or whitespace-only) lines skipped and counted in `stats["empty_lines"]`.
    """
    stats = {}
    texts = list(iter_text_file(path, errors, stats))
    return Texts(texts, path, None, **stats)


def english_path():
    """Where the shipped general-English corpus lives: $HYPERTEXT_DATA/english/texts.txt.gz, else data/ in the repo."""
    return os.path.join(os.path.dirname(os.path.dirname(wordnet.default_path())), "english", "texts.txt.gz")


def everyday_paths():
    """The files of the shipped everyday-English corpus, one per source, in the order its list
    ($HYPERTEXT_DATA/everyday/SOURCES, else data/everyday/SOURCES in the repo) gives them."""
    folder = os.path.join(os.path.dirname(os.path.dirname(wordnet.default_path())), "everyday")
    listing = os.path.join(folder, "SOURCES")
    if not os.path.isfile(listing):
        raise FileNotFoundError(f"The everyday-English corpus is missing: {listing!r}. Rebuild it with "
                                "data/build_everyday.py.")
    with open(listing, encoding="utf-8") as f:
        return [os.path.join(folder, f"{name.strip()}.txt.gz") for name in f if name.strip()]


REGISTER_FILE_SPLITS = {"train": "train", "validation": "dev", "test": "test"}


def registers_dir():
    """Where the shipped everyday-registers corpus lives: $HYPERTEXT_DATA/registers, else data/registers in the repo."""
    return os.path.join(os.path.dirname(os.path.dirname(wordnet.default_path())), "registers")


def register_sources():
    """The names of the register corpus' sources, in the order its list (registers/SOURCES) gives them."""
    listing = os.path.join(registers_dir(), "SOURCES")
    if not os.path.isfile(listing):
        raise FileNotFoundError(f"The everyday-registers corpus is missing: {listing!r}. Rebuild it with "
                                "data/build_registers.py.")
    with open(listing, encoding="utf-8") as f:
        return [name.strip() for name in f if name.strip()]


def registers_paths(split):
    """The files of one split ("train", "validation" or "test"; "dev" is "validation") of the register corpus, one
    per source: registers/SOURCE.{train,dev,test}.txt.gz. Its splits are fixed per document (a dialogue, a page)
    when it is built, not hashed per text."""
    split = _register_split(split)
    return [os.path.join(registers_dir(), f"{name}.{REGISTER_FILE_SPLITS[split]}.txt.gz")
            for name in register_sources()]


def _register_split(split):
    split = "validation" if split == "dev" else split
    _check_split(split)
    return split


def load_pairs(source="registers", split="train", kinds=None, sources=None):
    """The text pairs of one split of a corpus that has them.

    - `"registers"`: a turn and its reply, a question and its answer, a title and its body, a question and its
      disfluent rewording; the split is that of the pair's document.
    - `"wordnet"`: a usage example and the definition of its synset (kind "example_definition"), for the synsets
      of the split (the split of `load_texts("wordnet")`, by synset), so no test synset is ever paired in training.

    Args:
        source: "registers" or "wordnet".
        split: "train", "validation" (or "dev") or "test".
        kinds: None for every kind, or a collection of kinds ("reply", "title_body", "question_answer",
            "query_answer", "subject_body", "disfluent"; "example_definition").
        sources: None for every source of registers/SOURCES, or a collection of source names (registers only).

    Returns:
        A list of (text_a, text_b, kind).
    """
    if source not in ("registers", "wordnet"):
        raise ValueError(f"`source` must be 'registers' or 'wordnet': only those corpora have pairs. Received: "
                         f"source={source!r}")
    if source == "wordnet":
        if sources is not None:
            raise ValueError(f"`sources` applies to the register corpus only. Received: sources={sorted(sources)!r} "
                             f"with source='wordnet'")
        return _wordnet_pairs(_register_split(split), kinds)
    file_split = REGISTER_FILE_SPLITS[_register_split(split)]
    known = register_sources()
    if sources is not None:
        unknown = sorted(set(sources) - set(known))
        if unknown:
            raise ValueError(f"`sources` must name sources of the register corpus ({', '.join(known)}). "
                             f"Received: sources={sorted(sources)!r}")
    pairs = []
    for name in known:
        path = os.path.join(registers_dir(), f"{name}.pairs.tsv.gz")
        if (sources is not None and name not in sources) or not os.path.isfile(path):
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            next(f)  # the header row
            for line in f:
                row_split, a, b, kind = line.rstrip("\n").split("\t")
                if row_split == file_split and (kinds is None or kind in kinds):
                    pairs.append((a, b, kind))
    return pairs


def _wordnet_pairs(split, kinds):
    """(example, definition, "example_definition") for every example of a synset of `split` that has a definition."""
    if kinds is not None and "example_definition" not in kinds:
        return []
    definitions, examples = {}, []
    for row in wordnet.read_rows(split=split):
        if row["kind"] == "definition":
            definitions.setdefault(row["synset"], row["text"])
        else:
            examples.append((row["synset"], row["text"]))
    return [(text, definitions[synset], "example_definition") for synset, text in examples if synset in definitions]


def _parts(source):
    """Checks `source` and splits a joined one: `(source as str, [part, ...])`; "everyday" stands for its files."""
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            f"`source` must be a file path, 'wordnet', 'english', 'everyday', 'registers' or 'tfds:NAME', or several "
            f"joined by '+'. Received: source={source!r}")
    source = os.fspath(source)
    if "+" not in source or os.path.isfile(source):
        parts = [source]
    else:
        parts = source.split("+")
        if not all(part.strip() for part in parts):
            raise ValueError(
                "`source` joined by '+' must name a corpus on each side of every '+', e.g. 'wordnet+english'. "
                f"Received: source={source!r}")
    return source, [path for part in parts for path in (everyday_paths() if part == "everyday" else [part])]


def _split_for(parts, split):
    """`split`, checked; "dev" is accepted for "validation" when a part is the register corpus (whose files say dev)."""
    if split == "dev" and "registers" in parts:
        return "validation"
    _check_split(split)
    return split


def is_streamable(source):
    """Whether `TextStream` can read `source`: every part of it is a local file, "wordnet" or "english" (TFDS
    datasets are loaded whole, with `load_texts`)."""
    return not any(part.startswith("tfds:") for part in _parts(source)[1])


class TextStream:
    """The texts of one split of a local corpus, read lazily: each iteration reads the source again from its start
    and holds one line at a time, so a corpus of any size streams in constant memory.

    A local file is split per line, by a stable hash of the text (`wordnet.split_of`), the same assignment as
    `load_texts`; "wordnet" rows carry their split. Parts joined by `+` are read one after the other.

    Args:
        source: a local `.txt`/`.txt.gz` path, "wordnet", "english", or several joined by `+` (no `tfds:` part).
        split: "train", "validation" or "test".
        errors: the policy for lines that are not valid UTF-8 (see `read_text_file`).
        kinds: for "wordnet", which rows.

    Attributes:
        stats: `empty_lines` and `undecodable_lines` met by the current (or last) iteration, over every split.
    """

    def __init__(self, source, split="train", errors="strict", kinds=wordnet.KINDS):
        if not isinstance(split, str):
            _check_split(split)
        _check_errors(errors)
        self.source, self.parts = _parts(source)
        split = _split_for(self.parts, split)
        for part in self.parts:
            if part == "registers":
                for path in registers_paths(split):
                    if not os.path.isfile(path):
                        raise FileNotFoundError(f"A file of the everyday-registers corpus is missing: {path!r}. "
                                                "Rebuild it with data/build_registers.py.")
                continue
            if part.startswith("tfds:"):
                raise ValueError(f"TFDS datasets are not streamed; `load_texts` reads them. Received: source={source!r}")
            path = _part_path(part)
            if path is not None and not os.path.isfile(path):
                raise FileNotFoundError(_missing_message(part, path))
        self.split, self.errors, self.kinds = split, errors, kinds
        self.stats = {"empty_lines": 0, "undecodable_lines": 0}

    def __iter__(self):
        self.stats = {"empty_lines": 0, "undecodable_lines": 0}
        for part in self.parts:
            if part == "registers":  # only this split's files are read
                for path in registers_paths(self.split):
                    yield from iter_text_file(path, self.errors, self.stats)
                continue
            for text, split in self._labelled_part(part):
                if (split or wordnet.split_of(text)) == self.split:
                    yield text

    def labelled(self):
        """Yields `(text, split)` for the texts of every split, in source order: `split` is a WordNet row's split,
        or None for a line of a file, whose split is `wordnet.split_of(text)`, left to the caller (hashing every
        line is most of the cost of a pass: a caller that needs the split of a few texts saves it)."""
        self.stats = {"empty_lines": 0, "undecodable_lines": 0}
        for part in self.parts:
            yield from self._labelled_part(part)

    def _labelled_part(self, part):
        if part == "wordnet":
            yield from ((row["text"], row["split"]) for row in wordnet.read_rows(kinds=self.kinds))
        elif part == "registers":
            for split in wordnet.SPLITS:
                for path in registers_paths(split):
                    yield from ((text, split) for text in iter_text_file(path, self.errors, self.stats))
        else:
            yield from ((text, None) for text in iter_text_file(_part_path(part), self.errors, self.stats))


def _part_path(part):
    """The file a corpus part reads (None for "wordnet", whose rows `wordnet.read_rows` reads)."""
    return None if part in ("wordnet", "registers") else english_path() if part == "english" else part


def _missing_message(part, path):
    if part == "english":
        return f"The English corpus is missing: {path!r}. Rebuild it with data/build_english.py."
    return f"Corpus file not found: {path!r}"


def load_texts(source, split="train", text_key="text", errors="strict", data_dir=None, kinds=wordnet.KINDS,
               limit=None):
    """Loads the texts of one split of a corpus into memory (`TextStream` streams a local one instead).

    Args:
        source: one of
            - a path to a local `.txt` or `.txt.gz` file, one text per line. Such a file has no splits: each text
              goes to train, validation or test (about 90/5/5) by a stable hash of the text itself;
            - `"wordnet"`: the shipped WordNet 3.0 glosses (data/wordnet/glosses.tsv.gz);
            - `"english"`: the shipped general-English corpus (data/english/texts.txt.gz: quotations, usage notes
              and definitions from GCIDE, one text per line), split like a local file, by a hash of each text;
            - `"everyday"`: the shipped everyday-English corpus (data/everyday/: one file per source, read in the
              order of data/everyday/SOURCES), split like a local file;
            - `"registers"`: the shipped everyday-registers corpus (data/registers/: dialogue, chat, questions and
              answers, manuals, speeches, email, meetings; one set of files per source, read in the order of
              data/registers/SOURCES). Its splits were fixed when it was built, per document (a dialogue, a page,
              a thread: about 97/1.5/1.5), so no text is hashed; `split` may also be "dev" (= "validation").
              Its pairs: `load_pairs`;
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
        limit: None for every text of the split, or an int: only its first `limit` texts. A local source is then
            read only as far as they go (a TFDS dataset is still loaded whole).

    Returns:
        `Texts` (a list of str with loading statistics).
    """
    if not isinstance(split, str):
        _check_split(split)
    source, parts = _parts(source)
    split = _split_for(parts, split)
    if limit is not None:
        check_int("limit", limit, 0)
    if len(parts) > 1:
        loaded = []
        for part in parts:
            remaining = None if limit is None else limit - sum(len(texts) for texts in loaded)
            loaded.append(load_texts(part, split, text_key=text_key, errors=errors, data_dir=data_dir, kinds=kinds,
                                     limit=remaining))
        stats = {}
        for texts in loaded:
            for key, value in texts.stats.items():
                stats[key] = stats.get(key, 0) + value
        stats.pop("texts")
        return Texts([text for texts in loaded for text in texts], source, split, **stats)
    if source.startswith("tfds:"):
        texts = _load_tfds(source[len("tfds:"):], split, text_key, data_dir)
        return texts if limit is None else Texts(texts[:limit], texts.source, split,
                                                 empty_lines=texts.stats["empty_lines"])
    stream = TextStream(source, split, errors=errors, kinds=kinds)
    texts = list(itertools.islice(stream, limit))
    return Texts(texts, source, split, **stream.stats)


def _load_tfds(name, split, text_key, data_dir):
    try:
        import tensorflow_datasets as tfds

        from hypertext.data import wordnet_glosses  # noqa: F401  (registers the `wordnet_glosses` builder)
    except ImportError as e:
        raise ValueError(f"`tfds:` corpora need TensorFlow and TensorFlow Datasets, which are not installed ({e}). "
                         "Install them (pip install tensorflow tensorflow-datasets), or train from a local file or "
                         "'wordnet'.") from None

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
