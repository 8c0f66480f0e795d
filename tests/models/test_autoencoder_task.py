"""The training task: the objectives' losses are added when their inputs come (and, for the bag of tokens, in
training only), their heads train, and the text model it hands out holds none of them."""

import keras
import numpy as np
import pytest

import hypertext
from hypertext.training import compile_model
from tests.models.helpers import one_fit_step, task


def _loss(value):
    return keras.ops.convert_to_numpy(value)


def test_bag_of_tokens_loss_is_added_in_training_only(tiny_config, tiny_tokenizer, corpus):
    plain = task(tiny_config, tiny_tokenizer)
    ids = plain.text_model().texts_to_ids(corpus[:4])
    plain(ids, training=True)
    assert plain.objective("bag_of_tokens") is None and not plain.losses
    model = task(tiny_config, tiny_tokenizer, bow_weight=0.5)
    model(ids, training=False)
    assert not model.losses
    model(ids, training=True)
    bag = model.objective("bag_of_tokens")
    expected = 0.5 * _loss(bag.loss(ids, model.backbone.encode_ids(ids)))
    np.testing.assert_allclose(_loss(model.losses[0]), expected, rtol=1e-5)
    history, moved = one_fit_step(model, tiny_config.replace(bow_weight=0.5), corpus[:32])
    assert moved == len(model.trainable_weights)  # the bow head trains too
    # fit's loss is reconstruction plus the weighted bag-of-tokens term; evaluate's is reconstruction alone.
    ids = model.text_model().texts_to_ids(corpus[:32])
    val_loss = model.evaluate(ids, ids, sample_weight=(ids != 0).astype("float32"), verbose=0)[0]
    assert history["loss"][-1] > val_loss + 1.0  # two steps in, the bag term is still near 0.5 * log(512) = 3.1


def test_contrastive_loss_is_added_when_positives_come(tiny_config, tiny_tokenizer, corpus):
    model = task(tiny_config, tiny_tokenizer, contrastive_weight=0.5)
    text_model = model.text_model()
    ids = text_model.texts_to_ids(corpus[:8])
    positives = text_model.texts_to_ids(corpus[8:16])
    model(ids, training=True)
    assert not model.losses  # no positives, no contrastive term
    logits = model({"token_ids": ids, "positive_ids": positives}, training=False)
    np.testing.assert_allclose(_loss(logits), _loss(model(ids)), atol=1e-5)
    model({"token_ids": ids, "positive_ids": positives}, training=False)
    encode = model.backbone.encode_ids
    expected = 0.5 * _loss(model.objective("contrastive").loss(encode(ids), encode(positives)))
    np.testing.assert_allclose(_loss(model.losses[0]), expected, rtol=1e-5)
    off = task(tiny_config, tiny_tokenizer)
    off({"token_ids": ids, "positive_ids": positives}, training=True)
    assert not off.losses  # contrastive_weight=0: positives are ignored
    with pytest.raises(ValueError, match="must have the key 'token_ids'.*Received: keys=\\['ids'\\]"):
        model({"ids": ids})


def test_distill_loss_is_added_when_teacher_vectors_come(tiny_config, tiny_tokenizer, corpus, rng):
    model = task(tiny_config, tiny_tokenizer, distill_weight=0.25)
    ids = model.text_model().texts_to_ids(corpus[:8])
    teacher = rng.normal(size=(8, 12)).astype("float32")
    model({"token_ids": ids, "teacher_vectors": teacher}, training=True)
    expected = 0.25 * _loss(model.objective("distillation").loss(model.backbone.encode_ids(ids), teacher))
    np.testing.assert_allclose(_loss(model.losses[0]), expected, rtol=1e-5)
    off = task(tiny_config, tiny_tokenizer)
    off({"token_ids": ids, "teacher_vectors": teacher}, training=True)
    assert not off.losses  # distill_weight=0: the teacher is ignored
    with pytest.raises(ValueError, match="optionally 'positive_ids' and 'teacher_vectors'. Received: "
                                         "keys=\\['teacher', 'token_ids'\\]"):
        model({"token_ids": ids, "teacher": teacher})


def test_direct_distillation_trains_the_embedding_head(tiny_config, tiny_tokenizer, corpus, rng):
    model = task(tiny_config, tiny_tokenizer, distill_weight=0.25, distill_mode="direct", embedding_dim=6,
                 teacher_dim=6)
    for w in model.backbone.embedding_out.weights:  # away from its zero start
        w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    ids = model.text_model().texts_to_ids(corpus[:8])
    teacher = rng.normal(size=(8, 6)).astype("float32")
    model({"token_ids": ids, "teacher_vectors": teacher}, training=True)
    distillation = model.objective("distillation")
    expected = 0.25 * _loss(distillation.loss(model.backbone.embed_ids(ids), teacher))
    np.testing.assert_allclose(_loss(model.losses[0]), expected, rtol=1e-5)
    assert abs(expected - 0.25 * _loss(distillation.loss(model.backbone.encode_ids(ids)[:, :6], teacher))) > 1e-4


def test_the_text_model_holds_no_training_only_head_and_config_field(tiny_config, tiny_tokenizer, corpus, tmp_path):
    config = tiny_config.replace(bow_weight=1.0, bow_idf=True, distill_weight=1.0, distill_mode="projection",
                                 teacher_dim=6)
    model = task(config, tiny_tokenizer)
    heads = model.objective("bag_of_tokens").weights + model.objective("distillation").weights
    assert len(heads) == 5  # two Dense heads (kernel, bias) and the token weights: the task's only extra weights
    assert len(model.weights) == len(model.backbone.weights) + len(heads)
    text_model = model.text_model()
    assert text_model.backbone is model.backbone  # shared, not copied
    path = str(tmp_path / "m.keras")
    text_model.save(path)
    saved = hypertext.saving.inspect_checkpoint(path)["config"]["backbone"]["config"]["config"]
    assert set(saved) == set(config.model.to_dict())  # no optimiser, schedule, objective, epochs, batch or seed field
    restored = hypertext.load(path)
    # The backbone's weights and the latent prior's (mean and factor): no objective's head.
    assert len(restored.weights) == len(model.backbone.weights) + len(restored.prior.weights) == \
        len(model.backbone.weights) + 2
    np.testing.assert_allclose(restored.encode(corpus[:4]), text_model.encode(corpus[:4]), atol=1e-6)


def test_contrastive_training_pulls_positives_together(tiny_config, tiny_tokenizer, corpus):
    """A few steps with a heavy contrastive term raise the cosine of each text with its positive above its cosine
    with the other texts."""
    from hypertext.data.pairs import PairBatches

    config = tiny_config.replace(contrastive_weight=5.0, contrastive_temperature=0.1, learning_rate=3e-3,
                                 positive_drop=0.2)
    model = task(config, tiny_tokenizer)
    sequences = [s for s in tiny_tokenizer.encode(corpus[:64], add_eos=True) if len(s) <= 16]
    batches = PairBatches([np.asarray(s) for s in sequences], batch_size=len(sequences), max_length=16,
                          length_multiple=4, positive_drop=0.2, seed=0)
    x, y, weights = batches[0]

    def margin():
        z = _loss(model.backbone.encode_ids(x["token_ids"]))
        p = _loss(model.backbone.encode_ids(x["positive_ids"]))
        z, p = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (z, p))
        s = z @ p.T
        return np.mean(np.diag(s)) - np.mean(s[~np.eye(len(s), dtype=bool)])

    compile_model(model, config, total_steps=30)
    before = margin()
    model.fit(x, y, sample_weight=weights, epochs=30, batch_size=len(y), verbose=0)
    assert margin() > before + 0.2
