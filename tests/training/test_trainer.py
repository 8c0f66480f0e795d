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
    assert warm_start(model.backbone, source.backbone) == len(source.backbone.weights)
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
    assert any(line.startswith(f"init_from: copied {len(source.backbone.weights)} of") for line in lines)
    assert any("contrastive: 0 of" in line for line in lines)  # a plain text file: noisy views only
    tuned = training.saved_run  # the run folder is a normal one
    assert tuned(str(tmp_path / "run"))[0].contrastive_weight == 1.0
    import hypertext

    model = hypertext.load(best)
    assert model.tokenizer.proto == source.tokenizer.proto  # the checkpoint's tokenizer, not a new one


def test_train_with_the_distillation_objective_reads_cached_teacher_vectors(tiny_config, corpus, tmp_path,
                                                                           monkeypatch, rng):
    """A run with `distill_weight` takes the teacher's vectors of its exact training and validation texts from the
    cache (filled here by a stand-in teacher, as the real one is an optional extra), and its loss includes the term.
    Its new sentence-embedding head ("direct" distillation) starts from the teacher's vectors of its pieces, and the
    run ends with a fitted prior and lexicon in its checkpoint."""
    import hypertext
    from hypertext.models.objectives import teacher
    from hypertext.models.objectives.teacher import teacher_vectors
    from hypertext.data.corpus_data import read_corpus

    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(teacher, "load_teacher", lambda: _stand_in_teacher)  # for the pieces' vectors
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n".join(corpus[:400]) + "\n")
    config = tiny_config.replace(distill_weight=1.0, distill_mode="direct", embedding_dim=6, teacher_dim=6, epochs=1,
                                 steps_per_epoch=4, batch_size=8)
    data = read_corpus(str(text_file), config, log=lambda *_: None)
    for texts in (data.train, data.validation):
        teacher_vectors(texts, encode=lambda batch: rng.normal(size=(len(batch), 6)), log=lambda *_: None)
    lines = []
    training.train(str(text_file), str(tmp_path / "run"), config, verbose=0, log=lines.append)
    assert sum("vectors of all-MiniLM-L6-v2 from" in line for line in lines) == 2  # train and validation, cached
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and np.isfinite(float(history[1].split(",")[1]))
    assert any(line.startswith("embedding head: ") and "piece vectors from the teacher" in line for line in lines)
    assert any(line.startswith("latent space: prior fitted, lexicon of") for line in lines)
    model = hypertext.load(str(tmp_path / "run" / "model.keras"))
    assert model.prior.fitted and len(model.lexicon.words) > 100
    assert set(model.lexicon.words) <= {w for t in corpus[:400] for w in t.split()}
    assert len(model.sample(3, seed=0)) == 3 and model.encode(corpus[:2]).shape == (2, 6)
    assert model.encode(corpus[:2], precision="int8").dtype == np.int8  # calibrated at the end of the run
    assert not [p for p in (tmp_path / "run").iterdir() if ".tmp" in p.name]


def test_warm_start_adds_a_semantic_path_that_starts_at_zero(tiny_config, tiny_tokenizer, corpus, tmp_path):
    source = _model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "source.keras")
    source.save(path)
    config = tiny_config.replace(semantic_width=8)
    model = _model(config, tiny_tokenizer)
    assert warm_start(model.backbone, load_init_model(path, config).backbone) == len(source.backbone.weights)
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


def _stand_in_teacher(texts):
    """A deterministic stand-in for the teacher: a fixed random 6-vector per text."""
    import zlib

    return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=6) for t in texts])


def _unit16(v):
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("float16").astype("float32")


def test_init_piece_vectors_reads_each_pieces_text_from_the_teacher(tiny_config, tiny_tokenizer, tmp_path,
                                                                     monkeypatch):
    from hypertext.models.objectives import teacher
    from hypertext.training.trainer import init_piece_vectors

    monkeypatch.setenv("HYPERTEXT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(teacher, "load_teacher", lambda: _stand_in_teacher)
    model = _model(tiny_config.replace(embedding_dim=6), tiny_tokenizer)
    init_piece_vectors(model.backbone, tiny_tokenizer, log=lambda *_: None)
    table = keras.ops.convert_to_numpy(model.backbone.embedding_pieces.embeddings)
    processor = tiny_tokenizer.processor
    the = processor.piece_to_id("\u2581the")
    np.testing.assert_array_equal(table[the], _unit16(_stand_in_teacher(["the"]))[0])
    texts = [processor.id_to_piece(i).replace("\u2581", " ").strip() for i in range(tiny_tokenizer.vocab_size)]
    textless = [i for i, text in enumerate(texts) if i <= 3 or processor.is_byte(i) or not text]  # "\u2581" alone
    assert len(textless) == 4 + 256 + 1 and not table[textless].any()
    rest = [i for i in range(tiny_tokenizer.vocab_size) if i not in textless]
    np.testing.assert_array_equal(table[rest], _unit16(_stand_in_teacher([texts[i] for i in rest])))


def test_warm_start_from_a_checkpoint_without_an_embedding_head(tiny_config, tiny_tokenizer, corpus, tmp_path):
    source = _model(tiny_config, tiny_tokenizer)
    path = str(tmp_path / "source.keras")
    source.save(path)
    config = tiny_config.replace(embedding_dim=6, embedding_width=8)
    model = _model(config, tiny_tokenizer)
    head = model.backbone.embedding_pieces, model.backbone.embedding_in, model.backbone.embedding_out
    before = [_numpy(layer.weights) for layer in head]
    assert warm_start(model.backbone, load_init_model(path, config).backbone) == len(source.backbone.weights)
    for layer, weights in zip(head, before):
        for b, a in zip(weights, _numpy(layer.weights)):
            np.testing.assert_array_equal(a, b)
    ids = model.texts_to_ids(corpus[:6])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(ids)), keras.ops.convert_to_numpy(source(ids)))
