"""The dev benchmark's scoring (`hypertext.evaluation`), its pair mining (`data/build_dev_everyday.py`) and its
validation rule (`benchmarks/vectors.py`), on small data with known answers."""

import importlib.util
import os
import sys

import numpy as np
import pytest

from hypertext import evaluation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    spec.loader.exec_module(module)
    return module


def test_spearman_known_values_and_ties():
    assert evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert evaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ties take their average rank: ranks (1.5, 1.5, 3) against (1, 2, 3) -> Pearson of those.
    expected = np.corrcoef([1.5, 1.5, 3], [1, 2, 3])[0, 1]
    assert evaluation.spearman([5, 5, 7], [1, 2, 3]) == pytest.approx(expected)
    assert evaluation.spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_spearman_matches_a_naive_reference_on_random_data(rng):
    def average_ranks(values):
        # each value's rank is 1 + the number of smaller values + half the number of other equal values
        values = np.asarray(values, "float64")
        return np.array([1 + (values < v).sum() + ((values == v).sum() - 1) / 2 for v in values])

    x, y = rng.normal(size=200), rng.integers(0, 5, size=200)
    expected = np.corrcoef(average_ranks(x), average_ranks(y))[0, 1]
    assert evaluation.spearman(x, y) == pytest.approx(expected, abs=1e-12)


def lookup(table):
    return lambda texts: np.array([table[t] for t in texts], "float64")


def test_graded_pair_scores_per_collection_and_mean():
    table = {"a": [1, 0], "b": [1, 0.1], "c": [0, 1], "d": [1, 1], "e": [-1, 0]}
    collections = {"right": (["a", "a", "a"], ["b", "d", "c"], [3, 2, 1]),   # cosines fall with the grade
                   "wrong": (["a", "a", "a"], ["b", "d", "e"], [1, 2, 3])}   # they rise as it falls
    scores = evaluation.graded_pair_scores(lookup(table), collections)
    assert scores == {"right": 100.0, "wrong": -100.0, "mean": 0.0}


def test_retrieval_mrr_known_ranks():
    table = {"q1": [1, 0], "q2": [0, 1], "q3": [1, 1], "a1": [1, 0.01], "a2": [1, 0], "a3": [1, 1.02]}
    # By hand: q1's answer a1 (cos 0.99995) is beaten by a2 (1.0): rank 2. q2's answer a2 (cos 0) is beaten by a1
    # (0.01) and a3 (0.71): rank 3. q3's answer a3 (0.99995) beats a1 (0.714) and a2 (0.707): rank 1.
    got = evaluation.retrieval_mrr(lookup(table), ["q1", "q2", "q3"], ["a1", "a2", "a3"])
    assert got == pytest.approx((1 / 2 + 1 / 3 + 1) / 3)
    # A tie counts against the answer.
    assert evaluation.retrieval_mrr(lookup({"q": [1, 0], "x": [2, 0], "y": [1, 0]}), ["q", "q"], ["x", "y"]) == 0.5


def test_mining_pairs_gives_each_kind_and_no_self_pair(rng):
    build = load_script("data/build_dev_everyday.py", "build_dev_everyday")
    pool = [f"text {i}" for i in range(50)]
    judge = build.unit(rng.normal(size=(50, 8)))
    lexical = build.unit(rng.normal(size=(50, 8)))
    pairs = build.mine_pairs(pool, judge, lexical, anchors=10, seed=0)
    assert all(i != j for i, j in pairs) and len(set(map(frozenset, pairs))) == len(pairs)
    first = [j for i, j in pairs if i == 0]
    nearest = int(np.argmax(np.where(np.eye(50, dtype=bool)[0], -np.inf, judge[0] @ judge.T)))
    assert first[0] == nearest
    assert 30 <= len(pairs) <= 40
    assert build.mine_pairs(pool, judge, lexical, anchors=10, seed=0) == pairs  # deterministic


def test_build_writes_judged_and_natural_collections(rng):
    build = load_script("data/build_dev_everyday.py", "build_dev_everyday")
    words = "cat dog tree house river road car book song game".split()
    texts = [" ".join(rng.choice(words, 6)) + f" number {i}" for i in range(120)]
    pairs = [(texts[i], texts[i + 1]) for i in range(0, 58, 1)]

    def judge(batch):
        return np.stack([[t.count(w) for w in words] for t in batch]).astype("float64") + 0.1

    judged, natural = build.build({"toy": (texts, pairs)}, judge, pool_size=120, anchors=10, natural=45, seed=1,
                                  log=lambda *_: None)
    assert judged and all(row[0] == "toy" and -1 <= float(row[1]) <= 1 for row in judged)
    grade = float(judged[0][1])
    a, b = build.unit(judge([judged[0][2], judged[0][3]]))
    assert grade == pytest.approx(float(a @ b), abs=1e-4)
    assert len({row[2] for row in natural}) == len(natural) >= 40


def test_validation_rule():
    vectors = load_script("benchmarks/vectors.py", "vectors_benchmark")
    order = vectors.VALIDATION_ORDER

    def rows(scores):
        return [{"encoder": name, "judged": {"mean": s}} for name, s in zip(order, scores)]

    assert vectors.validate(rows([90, 88, 80, 70, 60]))[0]
    assert vectors.validate(rows([88, 88, 80, 70, 60]))[0]  # mpnet may tie MiniLM
    assert not vectors.validate(rows([90, 88, 84, 70, 60]))[0]  # MiniLM only 4 above model2vec
    assert not vectors.validate(rows([90, 88, 80, 60, 70]))[0]  # TF-IDF below wordnet
    assert not vectors.validate(rows([90, 88, 80, 70])[:4])[0]  # a reference missing
