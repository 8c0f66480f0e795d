"""Builders shared by the model tests."""

import keras
import numpy as np

from hypertext.models import AutoencoderTask, TextAutoencoder
from hypertext.training import compile_model


def text_model(config, tokenizer, **changes):
    """A built `TextAutoencoder` of `config` with `changes`."""
    model = TextAutoencoder(config.replace(**changes), tokenizer)
    model.build()
    return model


def task(config, tokenizer, **changes):
    """A built `AutoencoderTask` of the recipe `config` with `changes` (objectives included)."""
    model = AutoencoderTask(config.replace(**changes), tokenizer)
    model.build()
    return model


def one_fit_step(model, config, texts):
    """Compiles the task `model` and fits two steps on `texts`; returns `(history, how many weights moved)`."""
    ids = model.text_model().texts_to_ids(texts)
    weights = (ids != 0).astype("float32")
    compile_model(model, config, total_steps=10)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(ids, ids, sample_weight=weights, batch_size=len(ids), epochs=2, verbose=0)
    moved = sum(not np.allclose(b, keras.ops.convert_to_numpy(a)) for b, a in zip(before, model.trainable_weights))
    return history.history, moved


def log_softmax64(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))
