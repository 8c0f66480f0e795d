"""`HypertextPreprocessor.check_window` and `TextAutoencoder.decode(lexicon=True)`, which `sample` and `interpolate`
use, here against the lexicon's own constrained decoding of the backbone's logits."""

import keras
import numpy as np
import pytest

from tests.models.helpers import text_model


def test_check_window_defaults_caps_and_refuses(tiny_config, tiny_tokenizer):
    model = text_model(tiny_config, tiny_tokenizer)  # max_length 16
    preprocessor = model.preprocessor
    assert preprocessor.check_window(None) == min(tiny_config.reconstruct_window, 15)
    assert preprocessor.check_window(1) == 1 and preprocessor.check_window(15) == 15
    small = text_model(tiny_config.replace(reconstruct_window=4), tiny_tokenizer).preprocessor
    assert small.check_window(None) == 4
    for bad in (0, 16, -1, 2.0, "3"):
        with pytest.raises(ValueError, match=r"`window` must be an integer in \[1, max_length - 1 = 15\]. "
                                             rf"Received: window={bad!r}"):
            preprocessor.check_window(bad)
    # reconstruct() cuts long texts into windows of the checked size.
    windows, owner = preprocessor.windows([list(range(4, 24))], window=5)
    assert [len(w) for w in windows] == [6, 6, 6, 6] and owner == [0, 0, 0, 0]  # 5 pieces + eos each


def test_decode_with_the_lexicon_is_the_lexicons_decoding_of_the_logits(tiny_config, tiny_tokenizer, corpus, rng):
    model = text_model(tiny_config, tiny_tokenizer)
    z = rng.normal(size=(5, tiny_config.latent_dim)).astype("float32") * 3
    with pytest.raises(ValueError, match="This lexicon has no words"):
        model.decode(z, lexicon=True)
    model.fit_latent_space(corpus[:200], prior_texts=100)
    logits = keras.ops.convert_to_numpy(model.backbone.decode_latent(z))
    expected = tiny_tokenizer.decode(model.lexicon.decode_logits(logits, tiny_tokenizer))
    got = model.decode(z, lexicon=True)
    assert got == expected and len(got) == 5
    assert all(w in model.lexicon for t in got for w in t.split())
    assert model.decode(z[:2], lexicon=True, batch_size=1) == expected[:2]  # batching does not change it
