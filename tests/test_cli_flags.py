"""The command-line flags no other test reaches: train.py's --jit, --init-from, --text-key, --vocab-size and
--mixed-precision, and evaluate.py's --probe, --by-length, --noise and --context-ablation. In-process
(tests.test_cli.run), on TensorFlow."""

import json
import os

import keras
import numpy as np
import pytest

import hypertext
from hypertext import evaluation, training
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer
from tests.conftest import backend
from tests.test_cli import run


class _Stop(ValueError):
    pass


def test_train_passes_its_flags_to_train(monkeypatch, tmp_path):
    seen = {}

    def fake_train(corpus, output, config, **kwargs):
        seen.update(kwargs, corpus=corpus, output=output, config=config)
        raise _Stop("stopped here")  # a ValueError: train.py reports it as one line and exits 2

    monkeypatch.setattr(training, "train", fake_train)
    out = str(tmp_path / "run")
    result = run("train.py", "--corpus", "tfds:imdb_reviews", "--text-key", "review", "--output", out, "--config",
                 "tiny", "--vocab-size", "400", "--jit", "--mixed-precision", "--init-from", "wordnet")
    assert result.returncode == 2 and result.stderr.strip() == "train.py: error: stopped here"
    assert seen["corpus"] == "tfds:imdb_reviews" and seen["text_key"] == "review" and seen["output"] == out
    assert seen["config"] == get_config("tiny").replace(vocab_size=400)
    assert seen["jit_compile"] is True and seen["mixed_precision"] is True and seen["init_from"] == "wordnet"
    result = run("train.py", "--output", str(tmp_path / "run2"), "--config", "tiny")
    assert seen["jit_compile"] == "auto" and seen["mixed_precision"] is False and seen["init_from"] is None
    assert seen["text_key"] == "text" and seen["config"].vocab_size == get_config("tiny").vocab_size


@pytest.mark.backend_dependent  # "auto" resolves per backend
def test_compile_model_with_jit_compiles_the_train_step_with_xla(tmp_path):
    from tests.models.helpers import task

    texts = load_texts("wordnet", "validation")[:200]
    config = get_config("tiny")
    model = task(config, SentencePieceTokenizer.from_texts(texts, vocab_size=400))
    training.compile_model(model, config, total_steps=10, jit_compile=True)
    assert model.jit_compile is True
    training.compile_model(model, config, total_steps=10)  # "auto": XLA on JAX, where the step else runs op by op
    assert model.jit_compile is (backend() == "jax")


@pytest.mark.thorough  # XLA compiles the tiny model's train step: minutes on a 2-core CPU
def test_a_real_run_with_jit(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(load_texts("wordnet", "validation")[:300]) + "\n", encoding="utf-8")
    result = run("train.py", "--corpus", str(corpus), "--config", "tiny", "--epochs", "1", "--steps-per-epoch", "3",
                 "--verbose", "0", "--eval-limit", "10", "--output", str(tmp_path / "run"), "--jit")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["num_examples"] == 10


def test_a_real_run_with_vocab_size_and_init_from(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(load_texts("wordnet", "validation")[:300]) + "\n", encoding="utf-8")
    first = str(tmp_path / "first")
    args = ["--corpus", str(corpus), "--config", "tiny", "--epochs", "1", "--steps-per-epoch", "3", "--verbose", "0",
            "--eval-limit", "10"]
    result = run("train.py", *args, "--output", first, "--vocab-size", "400")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.load(open(os.path.join(first, "config.json")))["vocab_size"] == 400
    source = hypertext.load(os.path.join(first, "model.keras"))
    assert source.tokenizer.vocab_size == 400 and source.config.vocab_size == 400
    # --init-from: the second run starts from the first one's weights and tokenizer.
    second = str(tmp_path / "second")
    result = run("train.py", *args, "--output", second, "--vocab-size", "400", "--init-from",
                 os.path.join(first, "model.keras"), "--set", "learning_rate=1e-9")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tokenizer: from init_from" in result.stdout
    warm = hypertext.load(os.path.join(second, "model.keras"))
    assert warm.tokenizer.proto == source.tokenizer.proto
    np.testing.assert_allclose(warm.encode_latent(["a small cat"]), source.encode_latent(["a small cat"]), atol=1e-3)


def test_train_with_mixed_precision_sets_the_policy_back(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(load_texts("wordnet", "validation")[:200]) + "\n", encoding="utf-8")
    config = get_config("tiny").replace(epochs=1, steps_per_epoch=2)
    keras.config.set_dtype_policy("float32")
    best = training.train(str(corpus), str(tmp_path / "run"), config, mixed_precision=True, verbose=0,
                          log=lambda *_: None)
    assert keras.config.dtype_policy().name == "float32"  # not left mixed for the rest of the process
    model = hypertext.load(best)
    assert model.backbone.dtype_policy.name == "mixed_float16"  # the run did train in mixed precision
    assert np.isfinite(model.encode(["a small cat"])).all()
    # ... also when the run stops with an error after setting it.
    with pytest.raises(FileNotFoundError):
        training.train(str(tmp_path / "missing.txt"), str(tmp_path / "run2"), config, mixed_precision=True,
                       verbose=0, log=lambda *_: None)
    assert keras.config.dtype_policy().name == "float32"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    texts = load_texts("wordnet", "train")[:2000]
    model = TextAutoencoder(get_config("tiny"), SentencePieceTokenizer.from_texts(texts, vocab_size=512),
                            metadata={"corpus": "wordnet", "text_key": "text"})
    model.build()
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    model.save(path)
    return path


def test_evaluate_reports_each_flag_as_the_library_computes_it(tiny_checkpoint, monkeypatch, tmp_path):
    probed = []
    monkeypatch.setattr(evaluation, "lexname_probe", lambda model: probed.append(model) or {"lexname_probe": 0.25})
    out = str(tmp_path / "metrics.json")
    result = run("evaluate.py", "--checkpoint", tiny_checkpoint, "--limit", "60", "--by-length", "--noise",
                 "--context-ablation", "--probe", "--json", out)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics == json.load(open(out))
    model, texts = hypertext.load(tiny_checkpoint), load_texts("wordnet", "validation")[:60]
    assert metrics["num_examples"] == 60
    assert metrics["by_length"] == json.loads(json.dumps(evaluation.metrics_by_length(model, texts)))
    assert metrics["noise_retrieval"] == json.loads(json.dumps(evaluation.noise_retrieval(model, texts)))
    assert metrics["context_ablation"] == evaluation.context_ablation(model, texts)
    assert metrics["lexname_probe"] == 0.25 and len(probed) == 1
    result = run("evaluate.py", "--checkpoint", tiny_checkpoint, "--limit", "10")
    assert not {"by_length", "noise_retrieval", "context_ablation", "lexname_probe"} & set(
        json.loads(result.stdout.strip().splitlines()[-1]))
