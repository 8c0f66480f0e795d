"""The model card's measurements, checked on models whose right answers are known: a perfect reconstructor, and
encoders with known retrieval behaviour."""

import keras
import numpy as np
import pytest

from hypertext import evaluation
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.layers import KernelGenerator
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "tensorflow", reason="backend-independent NumPy code; runs once, on TF")


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
    model = TextAutoencoder(config, tokenizer)
    model.build()
    result = evaluation.context_ablation(model, texts[:200])
    assert set(result) == {"token_accuracy", "token_accuracy_mean_context"}
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
