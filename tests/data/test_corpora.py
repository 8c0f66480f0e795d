import gzip
import re

import pytest
import tensorflow_datasets as tfds

from hypertext.data import load_texts, read_text_file


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def test_local_txt_and_gz_with_deterministic_holdout(tmp_path):
    lines = [f"sentence number {i}" for i in range(400)]
    txt = _write(tmp_path / "c.txt", ("\n".join(lines) + "\n").encode())
    gz = tmp_path / "c.txt.gz"
    with gzip.open(gz, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode())
    splits = {s: load_texts(txt, s) for s in ("train", "validation", "test")}
    assert sorted(sum(splits.values(), [])) == sorted(lines)  # a partition
    assert 0.8 < len(splits["train"]) / 400 < 0.97 and len(splits["validation"]) > 0
    assert load_texts(str(gz), "validation") == splits["validation"] == load_texts(txt, "validation")


def test_wordnet_source():
    texts = load_texts("wordnet", "validation")
    assert len(texts) == 8390 and all(texts)
    assert len(load_texts("wordnet", "validation", kinds=("definition",))) == 5911


def test_empty_lines_are_skipped_and_counted(tmp_path):
    path = _write(tmp_path / "c.txt", b"one\n\n   \ntwo\r\n\nthree")
    texts = read_text_file(path)
    assert texts == ["one", "two", "three"] and texts.stats["empty_lines"] == 3


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Corpus file not found: '.*nope.txt'"):
        load_texts(str(tmp_path / "nope.txt"))


def test_non_utf8_strict_replace_skip(tmp_path):
    path = _write(tmp_path / "c.txt", b"fine\nbad \xff\xfe bytes\nalso fine\n")
    with pytest.raises(ValueError, match=r"c.txt:2: not valid UTF-8"):
        read_text_file(path)
    replaced = read_text_file(path, errors="replace")
    assert replaced == ["fine", "bad \ufffd\ufffd bytes", "also fine"] and replaced.stats["undecodable_lines"] == 1
    skipped = read_text_file(path, errors="skip")
    assert skipped == ["fine", "also fine"] and skipped.stats["undecodable_lines"] == 1
    with pytest.raises(ValueError, match=r"`errors` must be one of 'strict', 'replace', 'skip'"):
        read_text_file(path, errors="ignore")


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "c.txt.gz", b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match=r"Could not read"):
        read_text_file(path)


def test_bad_split():
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'validation', 'test'. Received: split='dev'"):
        load_texts("wordnet", "dev")


def test_tfds_source_with_mock_data():
    with tfds.testing.mock_data(num_examples=9):
        texts = load_texts("tfds:imdb_reviews", "train", text_key="text")
    assert len(texts) == 9 and all(isinstance(t, str) and t for t in texts)


def test_tfds_unknown_feature_with_mock_data():
    with tfds.testing.mock_data(num_examples=3):
        with pytest.raises(ValueError, match=r"has no feature 'body'. Its features: \['label', 'text'\]"):
            load_texts("tfds:imdb_reviews", text_key="body")


def test_tfds_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown TFDS dataset 'no_such_dataset_xyz'"):
        load_texts("tfds:no_such_dataset_xyz")


def test_tfds_not_downloaded_offline(tmp_path):
    with pytest.raises(ValueError, match=r"'imdb_reviews' is not downloaded and prepared .*offline"):
        load_texts("tfds:imdb_reviews", data_dir=str(tmp_path))


def test_english_source_splits():
    splits = {s: load_texts("english", s) for s in ("train", "validation", "test")}
    total = sum(len(t) for t in splits.values())
    assert total > 100_000
    assert 0.87 < len(splits["train"]) / total < 0.93
    assert 0.035 < len(splits["validation"]) / total < 0.065 and 0.035 < len(splits["test"]) / total < 0.065
    sets = {s: set(t) for s, t in splits.items()}
    assert not (sets["train"] & sets["validation"] or sets["train"] & sets["test"] or sets["validation"] & sets["test"])
    assert all(20 <= len(text) <= 400 and text == " ".join(text.split()) for t in splits.values() for text in t)
    assert splits["test"].source == "english" and splits["test"].split == "test"


def test_joined_sources_concatenate_in_order(tmp_path):
    joined = load_texts("wordnet+english", "validation")
    wordnet_part, english_part = load_texts("wordnet", "validation"), load_texts("english", "validation")
    assert joined == wordnet_part + english_part
    assert joined.stats["texts"] == len(wordnet_part) + len(english_part) and joined.source == "wordnet+english"
    path = _write(tmp_path / "c.txt", ("\n".join(f"line {i}" for i in range(200)) + "\n\n").encode())
    mixed = load_texts(f"{path}+wordnet", "test", kinds=("example",))
    assert mixed == load_texts(path, "test") + load_texts("wordnet", "test", kinds=("example",))
    assert mixed.stats["empty_lines"] == 1


def test_plus_in_an_existing_file_name_is_one_file(tmp_path):
    path = _write(tmp_path / "c++.txt", ("\n".join(f"text {i}" for i in range(100)) + "\n").encode())
    assert sum(len(load_texts(path, s)) for s in ("train", "validation", "test")) == 100


@pytest.mark.parametrize("source", ["wordnet+", "+english", "wordnet++english", "wordnet+ "])
def test_joined_sources_with_an_empty_part(source):
    with pytest.raises(ValueError, match=r"must name a corpus on each side of every '\+'.*Received: source=" +
                       re.escape(repr(source))):
        load_texts(source)


def test_wordnet_pairs_join_each_example_to_its_synsets_definition_within_a_split():
    from hypertext.data import load_pairs, wordnet

    rows = list(wordnet.read_rows())
    synset_of = {}
    for row in rows:
        synset_of.setdefault(row["text"], set()).add((row["split"], row["synset"], row["kind"]))
    for split in ("train", "test"):
        pairs = load_pairs("wordnet", split)
        assert pairs and {kind for *_, kind in pairs} == {"example_definition"}
        for example, definition, _ in pairs[::97]:
            shared = {s for sp, s, k in synset_of[example] if sp == split and k == "example"} & \
                     {s for sp, s, k in synset_of[definition] if sp == split and k == "definition"}
            assert shared, (example, definition)
    train_examples = {a for a, *_ in load_pairs("wordnet", "train")}
    test_only = {row["text"] for row in rows if row["split"] == "test"} - {row["text"] for row in rows
                                                                           if row["split"] != "test"}
    assert not train_examples & test_only
    assert len(load_pairs("wordnet", "validation")) == sum(
        1 for row in rows if row["split"] == "validation" and row["kind"] == "example")
    assert load_pairs("wordnet", "train", kinds={"reply"}) == []
