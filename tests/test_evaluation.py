"""The model card's measurements, checked on models whose right answers are known: a perfect reconstructor, and
encoders with known retrieval behaviour."""

import numpy as np
import pytest

from hypertext import evaluation
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "tensorflow", reason="backend-independent NumPy code; runs once, on TF")


class PerfectCopy(TextAutoencoder):
    """Reconstructs every input exactly; `encode` is a bag of its token ids (or a constant, when asked)."""

    constant_code = False

    def reconstruct_ids(self, ids, batch_size=256):
        return np.asarray(ids)

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


def test_metrics_by_length_buckets_and_truncation(model, texts):
    table = evaluation.metrics_by_length(model, texts)
    lengths = np.array([len(p) for p in model.tokenizer.encode(texts)])
    assert list(table) == ["1-8", "9-16", "17-32", ">32"]
    assert [table[k]["num_examples"] for k in table] == [
        int(((lengths >= 1) & (lengths <= 8)).sum()), int(((lengths >= 9) & (lengths <= 16)).sum()),
        int(((lengths >= 17) & (lengths <= 32)).sum()), int((lengths > 32).sum())]
    assert sum(table[k]["num_examples"] for k in table) == len(texts)
    for name in ("1-8", "9-16"):  # short texts fit: a perfect copy scores 100 against both references
        assert table[name]["bleu"] == table[name]["bleu_full_text"] == 100.0
        assert table[name]["exact_match"] == 1.0
    # The longest bucket is truncated to max_length: perfect against what fits, worse against the whole text.
    assert table[">32"]["bleu"] == 100.0 and table[">32"]["bleu_full_text"] < 90.0


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
    for block in model.blocks[0]:
        for variable in block.conv.generator.weights:
            if "kernel" in variable.path.split("/")[-1]:
                variable.assign(np.zeros(variable.shape, "float32"))
    result = evaluation.context_ablation(model, texts[:200])
    assert result["token_accuracy"] == result["token_accuracy_mean_context"]
    with pytest.raises(ValueError, match="needs a model with hyper layers"):
        evaluation.context_ablation(TextAutoencoder(config.replace(hyper=False), tokenizer), texts[:10])
