import numpy as np
import pytest

from hypertext.data import pairs
from hypertext.data.pairs import NO_GROUP, PairBatches, augment, wordnet_synset_groups
from hypertext.data import wordnet

pytestmark = pytest.mark.backend_dependent  # on every backend, and without TensorFlow (.ci/tf_free)

EOS = 3


def _sequences(rng, n, max_length):
    return [np.concatenate([rng.integers(4, 50, size=rng.integers(1, max_length)), [EOS]]).astype("int32")
            for _ in range(n)]


def test_augment_deletes_pieces_and_keeps_eos(rng):
    ids = np.arange(10, 60).tolist() + [EOS]
    out = augment(ids, 0.3, rng)
    assert out[-1] == EOS and 1 < len(out) < len(ids)
    assert set(out[:-1]) <= set(ids[:-1]) and list(out[:-1]) == sorted(out[:-1])  # a subsequence, order kept
    assert list(augment(ids, 0.0, rng)) == ids
    assert len(augment([7, EOS], 0.99, rng)) == 2  # at least one piece stays


def test_every_text_once_per_pass_with_a_positive_of_its_group(rng):
    sequences = _sequences(rng, 203, 30)
    groups = np.array([i // 2 if i < 100 else NO_GROUP for i in range(203)])  # pairs 0-1, 2-3, ... then singles
    batches = PairBatches(sequences, groups, batch_size=16, max_length=32, length_multiple=4, positive_drop=0.0)
    assert batches.num_paired == 100
    seen = []
    for index in range(len(batches)):
        x, y, w = batches[index]
        ids, positives = x["token_ids"], x["positive_ids"]
        assert ids.shape == positives.shape and ids.shape[1] % 4 == 0 and ids.shape[1] in pairs.bucket_lengths(32, 4)
        np.testing.assert_array_equal(y, ids)
        np.testing.assert_array_equal(w, (ids != 0).astype("float32"))
        for row, positive in zip(ids, positives):
            text = next(i for i, s in enumerate(sequences) if len(s) <= len(row) and
                        np.array_equal(row[:len(s)], s) and not row[len(s):].any())
            seen.append(text)
            expected = sequences[text ^ 1] if text < 100 else sequences[text]  # the partner, else itself
            real = positive[positive != 0]
            cut = expected if len(expected) <= len(row) else np.concatenate([expected[:len(row) - 1], [EOS]])
            np.testing.assert_array_equal(real, cut)
    assert sorted(seen) == list(range(203))


def test_passes_are_seeded_and_reshuffled(rng):
    sequences = _sequences(rng, 100, 20)
    first = PairBatches(sequences, batch_size=10, max_length=32, seed=3)
    again = PairBatches(sequences, batch_size=10, max_length=32, seed=3)
    batch = lambda b, i: b[i][0]["token_ids"]  # noqa: E731
    np.testing.assert_array_equal(batch(first, 0), batch(again, 0))
    epoch0 = [batch(first, i) for i in range(len(first))]
    first.on_epoch_end()
    epoch1 = [batch(first, i) for i in range(len(first))]
    assert any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(epoch0, epoch1))
    fixed = PairBatches(sequences, batch_size=10, max_length=32, shuffle=False)
    before = [fixed[i][0]["positive_ids"] for i in range(len(fixed))]
    fixed.on_epoch_end()
    for i, b in enumerate(before):
        np.testing.assert_array_equal(fixed[i][0]["positive_ids"], b)  # validation positives never change


def test_steps_per_epoch_chains_passes(rng):
    sequences = _sequences(rng, 30, 10)
    batches = PairBatches(sequences, batch_size=10, max_length=16, steps_per_epoch=7)
    assert len(batches) == 7 and batches.batches_per_pass < 7
    for index in range(7):
        assert batches[index][0]["token_ids"].shape[0] <= 10


def test_bad_input_raises(rng):
    sequences = _sequences(rng, 5, 10)
    with pytest.raises(ValueError, match="`positive_drop` must be in \\[0, 1\\). Received: positive_drop=1.5"):
        PairBatches(sequences, positive_drop=1.5)
    with pytest.raises(ValueError, match="one id per sequence. Received: 2 groups for 5 sequences"):
        PairBatches(sequences, groups=[0, 1])
    with pytest.raises(ValueError, match="at most max_length=4 ids"):
        PairBatches(sequences, max_length=4)
    with pytest.raises(ValueError, match="at least one sequence"):
        PairBatches([])
    with pytest.raises(ValueError, match="`teacher` must be a 2-D array with one row per sequence. Received: "
                                         "shape=\\(4, 3\\) for 5 sequences"):
        PairBatches(sequences, teacher=np.zeros((4, 3)))


def test_teacher_vectors_come_with_their_own_texts(rng):
    """Each batch's `teacher_vectors` are the rows of `teacher` of the very texts in `token_ids`, in order."""
    sequences = [np.concatenate([[4 + i % 40], rng.integers(4, 50, size=rng.integers(0, 20)), [EOS]]).astype("int32")
                 for i in range(90)]
    teacher = rng.normal(size=(90, 6)).astype("float16")
    batches = PairBatches(sequences, batch_size=8, max_length=32, length_multiple=4, teacher=teacher, seed=1)
    rows = 0
    for index in range(len(batches)):
        x, _, _ = batches[index]
        assert x["teacher_vectors"].dtype == np.float32 and len(x["teacher_vectors"]) == len(x["token_ids"])
        for ids, vector in zip(x["token_ids"], x["teacher_vectors"]):
            matches = [i for i, s in enumerate(sequences) if np.array_equal(ids[:len(s)], s) and not ids[len(s):].any()]
            assert any(np.array_equal(vector, teacher[i].astype("float32")) for i in matches)
            rows += 1
    assert rows == 90
    assert "teacher_vectors" not in PairBatches(sequences, batch_size=8, max_length=32)[0][0]


def test_wordnet_synset_groups_use_only_their_split():
    rows = list(wordnet.read_rows(split="train"))[:500]
    texts = [r["text"] for r in rows] + ["not a gloss at all"]
    groups = wordnet_synset_groups(texts, "train")
    assert groups[-1] == NO_GROUP and (groups[:-1] != NO_GROUP).all()
    first = {}  # a text that several synsets share belongs to the first
    for row in wordnet.read_rows(split="train"):
        first.setdefault(row["text"], row["synset"])
    same = np.array([[first[a["text"]] == first[b["text"]] for b in rows] for a in rows])
    assert same.sum() > len(rows)  # some synsets have several texts here
    np.testing.assert_array_equal(groups[:-1, None] == groups[None, :-1], same)
    # The same texts looked up among validation synsets: none of them belongs there.
    assert (wordnet_synset_groups(texts[:-1], "validation") == NO_GROUP).all()


def test_paired_repeats_visit_paired_texts_more_often(rng):
    sequences = _sequences(rng, 40, 10)
    groups = np.array([i // 2 if i < 10 else NO_GROUP for i in range(40)])  # texts 0-9 have partners
    batches = PairBatches(sequences, groups, batch_size=8, max_length=16, paired_repeats=3, positive_drop=0.0)
    counts = np.zeros(40, int)
    for index in range(batches.batches_per_pass):
        for row in batches[index][0]["token_ids"]:
            counts[next(i for i, s in enumerate(sequences) if np.array_equal(row[:len(s)], s)
                        and not row[len(s):].any())] += 1
    np.testing.assert_array_equal(counts, [3] * 10 + [1] * 30)
    with pytest.raises(ValueError, match="`paired_repeats` must be an integer >= 1. Received: paired_repeats=0"):
        PairBatches(sequences, groups, paired_repeats=0)
