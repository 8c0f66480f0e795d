import keras
import numpy as np
import pytest

from hypertext import training
from hypertext.models import AutoencoderTask, TextAutoencoder
from hypertext.training.trainer import load_init_model, warm_start


def _model(config, tokenizer):
    model = TextAutoencoder(config, tokenizer)
    model.build()
    return model


def _numpy(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def test_warm_start_copies_the_backbone_and_keeps_the_task_heads(tiny_config, tiny_tokenizer, corpus):
    source = _model(tiny_config, tiny_tokenizer)  # a checkpoint: a backbone, no training-only head
    model = AutoencoderTask(tiny_config.replace(bow_weight=1.0, contrastive_weight=1.0), tiny_tokenizer)
    model.build()
    heads = _numpy(model.objective("bag_of_tokens").weights)
    ids = source.texts_to_ids(corpus[:5])
    assert not np.allclose(keras.ops.convert_to_numpy(model.backbone.encode_ids(ids)),
                           keras.ops.convert_to_numpy(source.encode_ids(ids)))
    assert warm_start(model.backbone, source.backbone) == len(source.weights)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(ids)), keras.ops.convert_to_numpy(source(ids)))
    for before, after in zip(heads, _numpy(model.objective("bag_of_tokens").weights)):
        np.testing.assert_array_equal(before, after)


def test_warm_start_refuses_another_architecture(tiny_config, tiny_tokenizer):
    model = _model(tiny_config, tiny_tokenizer)
    with pytest.raises(ValueError, match="same architecture: its weights do not match"):
        warm_start(model.backbone, _model(tiny_config.replace(channels=32), tiny_tokenizer).backbone)


def test_train_init_from_a_checkpoint_with_the_contrastive_objective(tiny_config, tiny_tokenizer, corpus, tmp_path):
    source = _model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "source.keras")
    source.save(path)
    with pytest.raises(ValueError, match="same architecture as the config. .* has latent_dim=16. Received: "
                                         "latent_dim=32"):
        load_init_model(path, tiny_config.replace(latent_dim=32))
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n".join(corpus[:400]) + "\n")
    lines = []
    config = tiny_config.replace(contrastive_weight=1.0, epochs=1, steps_per_epoch=3, batch_size=8)
    best = training.train(str(text_file), str(tmp_path / "run"), config, init_from=path, verbose=0,
                          log=lines.append)
    assert any(line.startswith(f"init_from: copied {len(source.weights)} of") for line in lines)
    assert any("contrastive: 0 of" in line for line in lines)  # a plain text file: noisy views only
    tuned = training.saved_run  # the run folder is a normal one
    assert tuned(str(tmp_path / "run"))[0].contrastive_weight == 1.0
    import hypertext

    model = hypertext.load(best)
    assert model.tokenizer.proto == source.tokenizer.proto  # the checkpoint's tokenizer, not a new one


def test_train_with_the_distillation_objective_reads_cached_teacher_vectors(tiny_config, corpus, tmp_path,
                                                                           monkeypatch, rng):
    """A run with `distill_weight` takes the teacher's vectors of its exact training and validation texts from the
    cache (filled here by a stand-in teacher, as the real one is an optional extra), and its loss includes the term."""
    from hypertext.models.objectives.teacher import teacher_vectors
    from hypertext.data.corpus_data import read_corpus

    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "cache"))
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n".join(corpus[:400]) + "\n")
    config = tiny_config.replace(distill_weight=1.0, epochs=1, steps_per_epoch=4, batch_size=8)
    data = read_corpus(str(text_file), config, log=lambda *_: None)
    for texts in (data.train, data.validation):
        teacher_vectors(texts, encode=lambda batch: rng.normal(size=(len(batch), 6)), log=lambda *_: None)
    lines = []
    training.train(str(text_file), str(tmp_path / "run"), config, verbose=0, log=lines.append)
    assert sum("vectors of all-MiniLM-L6-v2 from" in line for line in lines) == 2  # train and validation, cached
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and np.isfinite(float(history[1].split(",")[1]))


def test_warm_start_adds_a_semantic_path_that_starts_at_zero(tiny_config, tiny_tokenizer, corpus, tmp_path):
    source = _model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "source.keras")
    source.save(path)
    config = tiny_config.replace(semantic_width=8)
    model = _model(config, tiny_tokenizer)
    assert warm_start(model.backbone, load_init_model(path, config).backbone) == len(source.weights)
    ids = model.texts_to_ids(corpus[:6])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.encode_ids(ids)),
                               keras.ops.convert_to_numpy(source.encode_ids(ids)), atol=1e-6)
    # The path is there to learn: once its output layer moves, z does.
    semantic_out = model.backbone.semantic_out
    semantic_out.kernel.assign(np.ones(semantic_out.kernel.shape, "float32"))
    assert not np.allclose(keras.ops.convert_to_numpy(model.encode_ids(ids)),
                           keras.ops.convert_to_numpy(source.encode_ids(ids)), atol=1e-3)
    # A checkpoint with the path cannot start a model without it.
    model.save(str(tmp_path / "semantic.keras"))
    with pytest.raises(ValueError, match="has semantic_width=8. Received: semantic_width=0"):
        load_init_model(str(tmp_path / "semantic.keras"), tiny_config)
