"""`benchmarks/minilm_onnx.py` (MiniLM's ONNX int8 path, on a tiny random BERT) and `benchmarks/encode_speed.py`'s
table and warm-up sample, against PyTorch and known values."""

import numpy as np
import pytest

from tests.test_dev_benchmark import load_script


class WordTokenizer:
    """A Hugging Face-style tokenizer for the test: one id per word (hash mod the vocabulary), [CLS] 1 and [SEP] 2."""

    def __init__(self, vocabulary_size):
        self.vocabulary_size = vocabulary_size

    def ids(self, text, max_length):
        words = [3 + sum(map(ord, w)) % (self.vocabulary_size - 3) for w in text.split()]
        return ([1] + words + [2])[:max_length]

    def __call__(self, texts, padding, truncation, max_length, return_tensors):
        assert padding and truncation and return_tensors == "np"
        rows = [self.ids(t, max_length) for t in texts]
        width = max(map(len, rows))
        return {"input_ids": np.asarray([r + [0] * (width - len(r)) for r in rows]),
                "attention_mask": np.asarray([[1] * len(r) + [0] * (width - len(r)) for r in rows])}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=64, max_position_embeddings=64)).eval()
    onnx = load_script("benchmarks/minilm_onnx.py", "minilm_onnx")
    folder = tmp_path_factory.mktemp("onnx")
    plain = onnx.export_transformer(model, folder / "model.onnx")
    return torch, model, onnx, plain, onnx.quantize(plain, folder / "model_int8.onnx")


def reference_vectors(torch, model, tokenizer, texts, max_length):
    """Mean of BERT's token vectors over the mask, unit length, one text at a time (no padding): float64."""
    out = []
    for text in texts:
        ids = torch.tensor([tokenizer.ids(text, max_length)])
        with torch.no_grad():
            tokens = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                           token_type_ids=torch.zeros_like(ids)).last_hidden_state[0].double().numpy()
        mean = tokens.mean(axis=0)
        out.append(mean / np.linalg.norm(mean))
    return np.stack(out)


TEXTS = ["a short one", "the longest text of them all by a good number of words", "mid length text here", "x",
         "four words in it", "another text that is fairly long as well"]


def test_onnx_encoder_matches_pytorch_in_any_batch_and_order(tiny_bert):
    torch, model, onnx, plain, _ = tiny_bert
    tokenizer = WordTokenizer(50)
    expected = reference_vectors(torch, model, tokenizer, TEXTS, max_length=8)
    for batch_size in (1, 4, 16):
        got = onnx.OnnxSentenceEncoder(plain, tokenizer, max_length=8, batch_size=batch_size)(TEXTS)
        assert got.dtype == np.float32 and got.shape == (len(TEXTS), 32)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_int8_export_stays_close_but_is_not_the_float_model(tiny_bert):
    torch, model, onnx, plain, int8 = tiny_bert
    tokenizer = WordTokenizer(50)
    float_vectors = onnx.OnnxSentenceEncoder(plain, tokenizer, max_length=32)(TEXTS)
    int8_vectors = onnx.OnnxSentenceEncoder(int8, tokenizer, max_length=32)(TEXTS)
    cosines = (float_vectors * int8_vectors).sum(axis=1)
    assert cosines.min() > 0.98
    assert np.abs(float_vectors - int8_vectors).max() > 1e-4  # the weights really are quantised
    import onnx as onnx_format

    ops = {node.op_type for node in onnx_format.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops and "MatMulInteger" not in {
        node.op_type for node in onnx_format.load(str(plain)).graph.node}


def test_speed_table_ratios_and_warmup_sample():
    speed = load_script("benchmarks/encode_speed.py", "encode_speed")
    rows = [{"encoder": "english", "load": 1.0, "first_call": 2.0, "seconds": 1.0, "texts_per_second": 1000.0},
            {"encoder": speed.MINILM, "load": 1.0, "first_call": 1.0, "seconds": 10.0, "texts_per_second": 100.0},
            {"encoder": speed.MINILM_ONNX, "load": 5.0, "first_call": 1.0, "seconds": 4.0, "texts_per_second": 250.0}]
    lines = speed.speed_table(rows).splitlines()  # imported there from benchmarks/tables.py
    assert lines[2] == "| english | 1.0 | 2.0 | 1.0 | 1,000 | 10.0× | 4.0× |"
    assert lines[4].endswith("| 250 | 2.5× | 1.0× |")
    texts = [str(i) * (i % 37 + 1) for i in range(2000)]
    sample = speed.warmup_texts(texts, count=100)
    assert 100 <= len(sample) <= 110
    lengths = sorted(map(len, texts))
    assert min(map(len, sample)) == lengths[0] and max(map(len, sample)) >= lengths[-25]


def test_unknown_baseline_is_one_clear_error(capsys):
    speed = load_script("benchmarks/encode_speed.py", "encode_speed")
    with pytest.raises(SystemExit):
        speed.main(["--baselines", "minilm,bert"])
    assert "--baselines must name some of minilm, minilm-onnx, model2vec. Received: --baselines=minilm,bert" in (
        capsys.readouterr().err)
