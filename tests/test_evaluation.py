"""The model card's measurements, checked on models whose right answers are known: a perfect reconstructor, and
encoders with known retrieval behaviour."""

import keras
import numpy as np
import pytest

from hypertext import evaluation
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.layers import KernelGenerator
from hypertext.lengths import pad_batch
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer



class PerfectCopy(TextAutoencoder):
    """Reconstructs every input exactly (its logits are the one-hot input, so `reconstruct` goes through the real
    bucketing and windowing); `encode` is a bag of its token ids (or a constant, when asked)."""

    constant_code = False

    def call(self, token_ids, training=False):
        return keras.ops.one_hot(token_ids, self.config.vocab_size) * 10.0

    def encode(self, texts, batch_size=256):
        ids = self.texts_to_ids(texts)
        bags = np.zeros((len(ids), self.config.vocab_size), "float32")
        for row, seq in enumerate(ids):
            np.add.at(bags[row], seq[seq > 3], 1.0)
        return np.ones_like(bags) if self.constant_code else bags


@pytest.fixture(scope="module")
def texts():
    return list(load_texts("wordnet", "test")[:1500])


@pytest.fixture(scope="module")
def model(texts):
    tokenizer = SentencePieceTokenizer.from_texts(load_texts("wordnet", "validation")[:3000], vocab_size=800)
    return PerfectCopy(get_config("tiny").replace(vocab_size=800, max_length=32, num_stages=1), tokenizer)


def test_metrics_by_length_buckets_and_windows(model, texts):
    table = evaluation.metrics_by_length(model, texts)
    lengths = np.array([len(p) for p in model.tokenizer.encode(texts)])
    assert list(table) == ["1-8", "9-16", "17-32", "33-64", "65-128", ">128"]
    edges = [(1, 8), (9, 16), (17, 32), (33, 64), (65, 128), (129, 10**9)]
    assert [table[k]["num_examples"] for k in table] == [int(((lengths >= a) & (lengths <= b)).sum()) for a, b in edges]
    assert sum(table[k]["num_examples"] for k in table) == len(texts)
    assert table["33-64"]["num_examples"] > 0  # texts longer than max_length=32: reconstructed window by window
    # A perfect copy scores 100 in every bucket against the full original texts, the long ones included.
    round_trips = np.array([model.tokenizer.decode(p) == t for p, t in zip(model.tokenizer.encode(texts), texts)])
    for name, (a, b) in zip(table, edges):
        if table[name]["num_examples"]:
            assert table[name]["bleu"] == 100.0
            chosen = (lengths >= a) & (lengths <= b)
            assert table[name]["exact_match"] == pytest.approx(round_trips[chosen].mean(), abs=1e-5)


def test_reconstruction_metrics_score_the_full_text(model, texts):
    long_text = " ".join(texts[:12])  # about 10 windows of max_length - 1 = 31 pieces
    assert len(model.tokenizer.encode([long_text])[0]) > 4 * model.config.max_length
    metrics, references, hypotheses = evaluation.reconstruction_metrics(model, [long_text, texts[0]],
                                                                        return_outputs=True)
    assert references == [long_text, texts[0]] and hypotheses == references
    assert metrics["token_accuracy"] == metrics["exact_match"] == 1.0 and metrics["bleu"] == 100.0

    class DropsTheLastWindow(PerfectCopy):
        def reconstruct_pieces(self, pieces, batch_size=256):
            return [p[:len(p) - len(p) % 31] if len(p) > 31 else p for p in pieces]

    cut = DropsTheLastWindow(model.config, model.tokenizer)
    metrics = evaluation.reconstruction_metrics(cut, [long_text])
    assert metrics["exact_match"] == 0.0 and metrics["bleu"] < 100.0 and metrics["token_accuracy"] < 1.0


def test_noise_retrieval_known_answers(model, texts):
    result = evaluation.noise_retrieval(model, texts, num_candidates=500)
    assert result["num_candidates"] == 500 and result["drop_fraction"] == 0.1
    # A bag of token ids survives dropping 10% of the tokens almost always; TF-IDF likewise.
    assert result["recall_at_1"] > 0.9 and result["tfidf_recall_at_1"] > 0.9
    model.constant_code = True
    try:  # identical codes for every text: every query ties and argmax picks the first candidate
        assert evaluation.noise_retrieval(model, texts, num_candidates=500)["recall_at_1"] == pytest.approx(1 / 500)
    finally:
        model.constant_code = False
    with pytest.raises(ValueError, match="at least 2 usable texts"):
        evaluation.noise_retrieval(model, ["a"])


def test_context_ablation(texts):
    tokenizer = SentencePieceTokenizer.from_texts(load_texts("wordnet", "validation")[:3000], vocab_size=800)
    config = get_config("tiny").replace(vocab_size=800, max_length=16, num_stages=1)
    keras.utils.set_random_seed(0)
    model = TextAutoencoder(config, tokenizer)
    model.build()
    result = evaluation.context_ablation(model, texts[:200])
    assert set(result) == {"token_accuracy", "token_accuracy_mean_context"}
    # The two numbers, counted here for one batch of texts of one length: each sample's own context, then the
    # batch's mean context for all.
    chosen = [(t, p + [3]) for t, p in zip(texts[:200], tokenizer.encode(texts[:200])) if 8 <= len(p) <= 11][:40]
    ids = pad_batch([p for _, p in chosen], 12)
    z = model.backbone.encode_ids(ids)
    context = keras.ops.convert_to_numpy(model.backbone.latent_context(z))
    mask = ids != 0
    expected = {}
    for name, c in (("token_accuracy", context), ("token_accuracy_mean_context",
                                                  np.broadcast_to(context.mean(0, keepdims=True), context.shape))):
        logits = keras.ops.convert_to_numpy(model.backbone.decode_latent(z, length=12, context=c))
        expected[name] = round(float((logits.argmax(-1) == ids)[mask].sum() / mask.sum()), 5)
    assert evaluation.context_ablation(model, [t for t, _ in chosen]) == expected
    assert expected["token_accuracy"] != expected["token_accuracy_mean_context"], expected  # the ablation ablates
    # Not degenerate: a model that writes eos everywhere, whatever its context, is right exactly at each text's eos
    # (texts read up to max_length pieces, eos included), on both sides.
    bias = model.backbone.output_bias
    saved = keras.ops.convert_to_numpy(bias)
    bias.assign(np.where(np.arange(config.vocab_size) == 3, 1e4, 0.0).astype("float32"))
    pieces = [p[:config.max_length - 1] + [3] for p in tokenizer.encode(texts[:200])]
    expected = round(len(pieces) / sum(len(p) for p in pieces), 5)
    assert evaluation.context_ablation(model, texts[:200]) == {"token_accuracy": expected,
                                                              "token_accuracy_mean_context": expected}
    bias.assign(saved)
    # With the context's weights zeroed, the generators emit the same kernels for every sample: sharing the mean
    # context then changes nothing.
    for layer in model._flatten_layers():
        if isinstance(layer, KernelGenerator):
            for variable in layer.weights:
                if "kernel" in variable.path.split("/")[-1]:
                    variable.assign(np.zeros(variable.shape, "float32"))
    result = evaluation.context_ablation(model, texts[:200])
    assert result["token_accuracy"] == result["token_accuracy_mean_context"]
    with pytest.raises(ValueError, match="needs a model with hyper layers"):
        evaluation.context_ablation(TextAutoencoder(config.replace(hyper=False), tokenizer), texts[:10])


def _reference_ranks(queries, keys, query_labels, key_labels, self_index=None):
    """Float64 NumPy reference without ties: the 1-based position of the first right key in the cosine ordering
    (leaving out key `self_index[i]` for query i, when given)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    k = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    ranks = []
    for i, row in enumerate(q @ k.T):
        order = [j for j in np.argsort(-row, kind="stable") if self_index is None or j != self_index[i]]
        ranks.append(1 + next(n for n, j in enumerate(order) if key_labels[j] == query_labels[i]))
    return np.array(ranks)


def test_retrieval_metrics_match_a_numpy_reference():
    rng = np.random.default_rng(0)
    queries, keys = rng.normal(size=(60, 16)), rng.normal(size=(150, 16))
    query_labels, key_labels = rng.integers(0, 40, 60), rng.integers(0, 40, 150)
    key_labels[:40] = np.arange(40)  # every label has a right key
    ranks = _reference_ranks(queries, keys, query_labels, key_labels)
    result = evaluation.retrieval_metrics(queries, keys, query_labels, key_labels, ks=(1, 5, 10))
    assert result["num_queries"] == 60 and result["num_candidates"] == 150
    for k in (1, 5, 10):
        assert result[f"recall_at_{k}"] == pytest.approx(np.mean(ranks <= k), abs=1e-5)
    assert result["mrr"] == pytest.approx(np.mean(1 / ranks), abs=1e-5)
    # Queries and keys the same texts: a query is no candidate for itself.
    labels = rng.integers(0, 20, 100)
    vectors = rng.normal(size=(100, 8))
    ranks = _reference_ranks(vectors, vectors, labels, labels, self_index=np.arange(100))
    result = evaluation.retrieval_metrics(vectors, vectors, labels, labels, exclude_self=True)
    assert result["num_candidates"] == 99
    assert result["recall_at_10"] == pytest.approx(np.mean(ranks <= 10), abs=1e-5)
    assert result["mrr"] == pytest.approx(np.mean(1 / ranks), abs=1e-5)


def test_retrieval_metrics_known_answers():
    # A one-hot vector per label finds the right key every time; scaling a vector does not change its cosine.
    labels = np.array([3, 0, 2, 1, 2])
    one_hot = np.eye(4)[labels] * np.array([[1.0], [2.0], [0.5], [3.0], [1.0]])
    result = evaluation.retrieval_metrics(one_hot, np.eye(4) * 7.0, labels, np.arange(4))
    assert result["recall_at_1"] == result["recall_at_10"] == result["mrr"] == 1.0
    # The right key ties with two wrong ones: recall@1 is 1/3 and MRR the mean of 1, 1/2 and 1/3 over the orders.
    keys = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    result = evaluation.retrieval_metrics(np.array([[1.0, 0.0]]), keys, [7], [7, 8, 9, 10], ks=(1, 2, 3))
    assert result["recall_at_1"] == pytest.approx(1 / 3, abs=1e-5)
    assert result["recall_at_2"] == pytest.approx(2 / 3, abs=1e-5) and result["recall_at_3"] == 1.0
    assert result["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3, abs=1e-5)
    # Two right keys tied with one wrong one, behind a wrong key that scores higher: the first right key is at
    # rank 2 with probability 2/3 and at rank 3 with 1/3.
    keys = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]])
    query = np.array([[1.0, 0.05]])
    result = evaluation.retrieval_metrics(query, keys, [1], [1, 1, 2, 2, 2], ks=(1, 2))
    assert result["recall_at_1"] == 0.0 and result["recall_at_2"] == pytest.approx(2 / 3, abs=1e-5)
    assert result["mrr"] == pytest.approx(2 / 3 / 2 + 1 / 3 / 3, abs=1e-5)
    # A constant encoder scores exactly chance, and random vectors about chance.
    n = 400
    result = evaluation.retrieval_metrics(np.ones((n, 3)), np.ones((n, 3)), np.arange(n), np.arange(n))
    assert result["recall_at_1"] == pytest.approx(1 / n, abs=1e-5)
    assert result["recall_at_10"] == pytest.approx(10 / n, abs=1e-5)
    assert result["mrr"] == pytest.approx(np.mean(1 / np.arange(1, n + 1)), abs=1e-5)
    rng = np.random.default_rng(1)
    result = evaluation.retrieval_metrics(rng.normal(size=(n, 32)), rng.normal(size=(n, 32)), np.arange(n),
                                          np.arange(n))
    assert result["recall_at_10"] == pytest.approx(10 / n, abs=0.02)


def test_retrieval_metrics_bad_input():
    v = np.ones((3, 4))
    with pytest.raises(ValueError, match="same number of columns"):
        evaluation.retrieval_metrics(v, np.ones((3, 5)), [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="one label per vector"):
        evaluation.retrieval_metrics(v, v, [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="right key among the candidates. Received: query 2"):
        evaluation.retrieval_metrics(v, v, [0, 1, 5], [0, 1, 2])
    with pytest.raises(ValueError, match="right key among the candidates. Received: query 0"):
        evaluation.retrieval_metrics(v, v, [0, 1, 2], [0, 1, 2], exclude_self=True)
    with pytest.raises(ValueError, match="`exclude_self` needs"):
        evaluation.retrieval_metrics(np.ones((4, 4)), v, [0, 1, 2, 3], [0, 1, 2], exclude_self=True)


def _synset_code_encoder(split):
    """An encoder that knows every text's synset: it returns the synset's own random code, so texts of one synset
    have cosine 1 and texts of different synsets less."""
    from hypertext.data import wordnet

    synset_of = {r["text"]: r["synset"] for r in wordnet.read_rows(split=split)}
    index = {s: i for i, s in enumerate(sorted(set(synset_of.values())))}
    codes = np.random.default_rng(0).normal(size=(len(index), 32)).astype("float32")
    return lambda texts: codes[[index[synset_of[t]] for t in texts]]


def test_synset_retrieval_known_answers():
    from hypertext.data import wordnet

    rows = list(wordnet.read_rows(split="validation"))
    for task in evaluation.SYNSET_TASKS:
        # Texts shared by two synsets map to one of them, so a few queries miss.
        result = evaluation.synset_retrieval(_synset_code_encoder("validation"), "validation", task)
        assert result["recall_at_1"] > 0.99 and result["mrr"] > 0.99
        assert result["split"] == "validation" and result["task"] == task
    result = evaluation.synset_retrieval(_synset_code_encoder("validation"), "validation", "definition")
    assert result["num_queries"] == sum(r["kind"] == "example" for r in rows)
    assert result["num_candidates"] == sum(r["kind"] == "definition" for r in rows)
    rng = np.random.default_rng(0)
    result = evaluation.synset_retrieval(lambda texts: rng.normal(size=(len(texts), 16)), "validation")
    assert result["recall_at_1"] < 0.01 and result["recall_at_10"] < 0.02
    with pytest.raises(ValueError, match="`split` must be one of"):
        evaluation.synset_retrieval(_synset_code_encoder("validation"), "train")
    with pytest.raises(ValueError, match="`task` must be one of"):
        evaluation.synset_retrieval(_synset_code_encoder("validation"), "validation", "hypernym")


def test_same_synset_queries_are_the_texts_that_share_a_synset():
    rng = np.random.default_rng(2)
    labels = np.array([0, 1, 1, 2, 3, 3, 3, 4])
    vectors = rng.normal(size=(8, 6))
    chosen = np.bincount(labels)[labels] > 1
    result = evaluation._same_synset_metrics(vectors, labels, chosen, ks=(1, 3))
    rows = np.flatnonzero(chosen)
    ranks = _reference_ranks(vectors[rows], vectors, labels[rows], labels, self_index=rows)
    assert result["num_queries"] == 5 and result["num_candidates"] == 7
    assert result["recall_at_3"] == pytest.approx(np.mean(ranks <= 3), abs=1e-5)
    assert result["mrr"] == pytest.approx(np.mean(1 / ranks), abs=1e-5)


def test_encode_function_checks_what_encoders_return(model):
    with pytest.raises(ValueError, match="`encoder` must be a model with an `encode"):
        evaluation.encode_function(3)
    with pytest.raises(ValueError, match=r"one vector per text.*Received: shape=\(2,\) for 2 texts"):
        evaluation.encode_function(lambda texts: np.zeros(len(texts)))(["a", "b"])
    with pytest.raises(ValueError, match="finite vectors"):
        evaluation.encode_function(lambda texts: np.full((len(texts), 2), np.nan))(["a"])
    # A model goes through its `encode`, a function is called as it is.
    bags = evaluation.encode_function(model)(["a cat", "a dog"])
    np.testing.assert_array_equal(bags, model.encode(["a cat", "a dog"]))


def test_noise_retrieval_takes_an_encode_function(model, texts):
    # The same bag-of-ids encoder as a plain function, given the model's tokenizer: the same numbers.
    as_model = evaluation.noise_retrieval(model, texts, num_candidates=300)
    as_function = evaluation.noise_retrieval(lambda t: model.encode(t), texts, num_candidates=300,
                                             tokenizer=model.tokenizer, max_length=model.config.max_length)
    assert as_function == as_model
    with pytest.raises(ValueError, match="`tokenizer` must be given"):
        evaluation.noise_retrieval(lambda t: model.encode(t), texts)


def test_lexname_probe_takes_an_encode_function():
    # The synset's one-hot code knows nothing of lexnames beyond the synsets seen in training, which are not the
    # test synsets: the probe should be near the majority class. A lexname one-hot is a perfect probe input.
    from hypertext.data import wordnet

    lexname_of = {r["text"]: r["lexname"] for s in ("train", "validation") for r in wordnet.read_rows(split=s)}
    index = {name: i for i, name in enumerate(wordnet.LEXNAMES)}
    oracle = lambda texts: np.eye(45, dtype="float32")[[index[lexname_of[t]] for t in texts]]  # noqa: E731
    result = evaluation.lexname_probe(oracle, train_limit=3000, test_limit=500, split="validation", baseline=False)
    assert set(result) == {"probe_accuracy", "probe_train_examples", "probe_test_examples"}
    assert result["probe_accuracy"] > 0.97 and result["probe_test_examples"] == 500
    with pytest.raises(ValueError, match="`split` must be one of"):
        evaluation.lexname_probe(oracle, split="train")
