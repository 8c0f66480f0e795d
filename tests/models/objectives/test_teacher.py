import sys

import numpy as np
import pytest

from hypertext.models.objectives.teacher import cache_dir, load_teacher, teacher_vectors


def _counting_encoder(rng, calls):
    def encode(texts):
        calls.append(len(texts))
        return rng.normal(size=(len(texts), 5)) * 4.0

    return encode


def test_teacher_vectors_are_unit_length_and_cached_by_exact_texts(tmp_path, rng):
    texts = [f"text number {i}" for i in range(23)]
    calls = []
    first = teacher_vectors(texts, encode=_counting_encoder(rng, calls), directory=tmp_path, chunk=10,
                            log=lambda *_: None)
    assert calls == [10, 10, 3] and first.shape == (23, 5) and first.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(first.astype("float64"), axis=1), 1.0, atol=2e-3)

    def must_not_run(texts):
        raise AssertionError("the cache should have answered")

    lines = []
    np.testing.assert_array_equal(teacher_vectors(texts, encode=must_not_run, directory=tmp_path, log=lines.append),
                                  first)
    assert "from" in lines[0] and str(tmp_path) in lines[0]
    # Another list (one text changed, or the same texts in another order) is encoded anew.
    teacher_vectors(texts[:-1] + ["another"], encode=_counting_encoder(rng, calls), directory=tmp_path,
                    log=lambda *_: None)
    teacher_vectors(texts[::-1], encode=_counting_encoder(rng, calls), directory=tmp_path, log=lambda *_: None)
    assert calls == [10, 10, 3, 23, 23]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npy"] * 3  # no partial files left behind


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("HYPERTEXT_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "hypertext")


def test_missing_teacher_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "all_minilm_l6_v2", None)  # import fails, as without the extra
    with pytest.raises(ImportError, match=r"needs the optional extra: pip install -e '\.\[minilm\]'"):
        load_teacher()


def test_the_real_teacher_when_installed(tmp_path):
    pytest.importorskip("all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    texts = ["a small domesticated carnivore", "a domestic cat", "the act of paying taxes"]
    vectors = teacher_vectors(texts, directory=tmp_path, log=lambda *_: None).astype("float64")
    assert vectors.shape == (3, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]
