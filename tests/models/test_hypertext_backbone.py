import keras
import numpy as np
import pytest

from hypertext.configs import ModelConfig
from hypertext.layers import HyperConv1D
from hypertext.models import HypertextBackbone
from hypertext.models.blocks import Film
from hypertext.training import compile_model
from tests.models.helpers import one_fit_step, task, text_model


@pytest.mark.parametrize("hyper,block_channels", [(True, 0), (False, 0), (True, 8), (False, 8)])
def test_forward_and_train_step(hyper, block_channels, tiny_config, tiny_tokenizer, corpus):
    model = task(tiny_config, tiny_tokenizer, hyper=hyper, block_channels=block_channels)
    logits = model.backbone(model.text_model().texts_to_ids(corpus[:4]))
    assert tuple(logits.shape) == (4, 16, tiny_tokenizer.vocab_size)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    history, moved = one_fit_step(model, tiny_config, corpus[:32])
    assert all(np.isfinite(history["loss"])) and 0 <= history["token_accuracy"][-1] <= 1
    assert moved == len(model.trainable_weights)
    assert any(isinstance(layer, HyperConv1D) for layer in model.backbone._flatten_layers()) == hyper


def test_ablation_twin_has_the_same_shapes(tiny_config, tiny_tokenizer, corpus):
    hyper, plain = text_model(tiny_config, tiny_tokenizer), text_model(tiny_config, tiny_tokenizer, hyper=False)
    assert hyper.encode(["a cat"]).shape == plain.encode(["a cat"]).shape
    ids = hyper.texts_to_ids(corpus[:3])
    assert tuple(hyper(ids).shape) == tuple(plain(ids).shape)
    assert not any(isinstance(layer, HyperConv1D) for layer in plain._flatten_layers())


@pytest.mark.parametrize("hyper", [True, False])
def test_z_reaches_the_decoder_only_through_its_conditioned_convs(hyper, tiny_config, rng):
    """The decoder starts from a learned seed: given one shared context (so one set of generated kernels, or one
    FiLM in the twin), every sample decodes to the same logits, whatever its z."""
    backbone = HypertextBackbone(tiny_config.replace(hyper=hyper))
    backbone.build()
    for layer in backbone._flatten_layers():
        if isinstance(layer, Film):  # FiLM starts as the identity; give it something to say
            kernel = layer.to_scale_shift.kernel
            kernel.assign(rng.normal(scale=0.3, size=kernel.shape).astype("float32"))
    z = rng.normal(size=(4, tiny_config.latent_dim)).astype("float32")
    own = keras.ops.convert_to_numpy(backbone.decode_latent(z, length=8))
    assert np.abs(own[0] - own[1]).max() > 1e-3
    shared = keras.ops.broadcast_to(keras.ops.mean(backbone.latent_context(z), axis=0, keepdims=True), (4, 16))
    logits = keras.ops.convert_to_numpy(backbone.decode_latent(z, length=8, context=shared))
    np.testing.assert_allclose(logits, np.broadcast_to(logits[:1], logits.shape), rtol=1e-5, atol=1e-5)
    z_other = rng.normal(size=(4, tiny_config.latent_dim)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.decode_latent(z_other, length=8, context=shared)),
                               logits, rtol=1e-5, atol=1e-5)


def test_one_set_of_weights_serves_every_length(tiny_config, tiny_tokenizer, corpus):
    model = text_model(tiny_config, tiny_tokenizer)
    text = [t for t in corpus if len(tiny_tokenizer.encode([t])[0]) == 3][0]
    sequence = tiny_tokenizer.encode([text], add_eos=True)
    zs = []
    for length in (4, 8, 12, 16):
        ids = np.zeros((2, length), "int32")
        ids[0, :4] = sequence[0]
        ids[1] = np.arange(length) % 100 + 4
        assert tuple(model(ids).shape) == (2, length, tiny_tokenizer.vocab_size)
        zs.append(keras.ops.convert_to_numpy(model.encode_ids(ids))[0])
    # The pool is over real positions only: z does not depend on how far a batch pads the text.
    for z in zs[1:]:
        np.testing.assert_allclose(z, zs[0], rtol=1e-4, atol=1e-5)
    for bad in (6, 20):
        with pytest.raises(ValueError, match=rf"multiple of 4 \(2\*\*num_stages\) and at most max_length=16. "
                                             rf"Received: length={bad}"):
            model(np.ones((1, bad), "int32"))


def test_max_length_512_builds_and_trains_a_step(tiny_config, tiny_tokenizer, rng):
    config = tiny_config.replace(max_length=512)
    model = task(config, tiny_tokenizer)
    compile_model(model, config, total_steps=4)
    ids = rng.integers(4, tiny_tokenizer.vocab_size, size=(2, 512)).astype("int32")
    ids[:, -1] = 3
    history = model.fit(ids, ids, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert tuple(model(ids[:, :96]).shape) == (2, 96, tiny_tokenizer.vocab_size)


def test_pooled_latent_adds_the_mean_token_embedding(tiny_config, tiny_tokenizer, corpus):
    model = text_model(tiny_config, tiny_tokenizer, pooled_latent=True)
    backbone = model.backbone
    ids = model.texts_to_ids(corpus[:5])
    pooled_to_latent, backbone.pooled_to_latent = backbone.pooled_to_latent, None
    positional = keras.ops.convert_to_numpy(backbone.encode_ids(ids)).astype("float64")
    backbone.pooled_to_latent = pooled_to_latent
    table = keras.ops.convert_to_numpy(backbone.embedding.embeddings).astype("float64")
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in backbone.pooled_to_latent.weights)
    pooled = np.stack([table[[t for t in row if t > 3]].mean(0) for row in ids])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.encode_ids(ids)),
                               positional + pooled @ kernel + bias, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("pooling,pool_heads,layer", [("bind_positions", 0, "binding"),
                                                      ("attention", 2, "attention_pool"), ("mean", 0, None)])
def test_pooling_is_one_explicit_choice(pooling, pool_heads, layer, tiny_config, rng):
    backbone = HypertextBackbone(tiny_config.replace(pooling=pooling, pool_heads=pool_heads))
    backbone.build()
    assert (backbone.binding is not None, backbone.attention_pool is not None) == (
        layer == "binding", layer == "attention_pool")
    for variable in backbone.weights:  # big random weights: every path of the pooling moves z
        variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.5)
    ids = rng.integers(4, 100, size=(3, 8)).astype("int32")
    ids[1, 5:], ids[2, 3:] = 0, 0  # padded rows
    z = keras.ops.convert_to_numpy(backbone.encode_ids(ids))
    assert z.shape == (3, tiny_config.latent_dim)
    # Each row is pooled on its own: a row alone gives its z in the batch; changing a real token moves its row only.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.encode_ids(ids[2:3])), z[2:3], rtol=1e-4,
                               atol=1e-4)
    # ...and its pads are not read: row 2 (3 real tokens) alone at 4 positions and at 16 gives its z of 8 positions
    for length in (4, 16):
        alone = np.zeros((1, length), "int32")
        alone[0, :3] = ids[2, :3]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone.encode_ids(alone)), z[2:3], rtol=1e-4,
                                   atol=1e-4, err_msg=f"{pooling} pooling reads the pads (length {length})")
    changed = ids.copy()
    changed[2, 1] = 101
    moved = keras.ops.convert_to_numpy(backbone.encode_ids(changed))
    np.testing.assert_allclose(moved[:2], z[:2], rtol=1e-4, atol=1e-4)
    assert np.abs(moved[2] - z[2]).max() > 1e-3


def test_pooling_and_pool_heads_must_agree_and_old_flags_convert(tiny_config):
    with pytest.raises(ValueError, match=r"`pool_heads` must be >= 1 with pooling='attention' and 0 with any other "
                                         r"pooling. Received: pooling='bind_positions', pool_heads=4"):
        HypertextBackbone(tiny_config.replace(pool_heads=4))
    with pytest.raises(ValueError, match=r"`pooling` must be one of 'bind_positions', 'attention', 'mean'. "
                                         r"Received: pooling='max'"):
        ModelConfig(pooling="max").validate()
    # A flat config of before the split: bind_positions won over pool_heads, silently; now it is explicit.
    old = {**tiny_config.model.to_dict(), "bind_positions": True, "pool_heads": 4, "epochs": 3}
    del old["pooling"]
    assert ModelConfig.from_dict(old) == tiny_config.model.replace(pooling="bind_positions", pool_heads=0)
    old.update(bind_positions=False)
    assert ModelConfig.from_dict(old).pooling == "attention"
    old.update(pool_heads=0)
    assert ModelConfig.from_dict(old).pooling == "mean"
    with pytest.raises(ValueError, match="Unknown model config fields: foo"):
        ModelConfig.from_dict({**old, "foo": 1})


def _gelu64(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _head_backbone(config, rng):
    """A built backbone with a sentence-embedding head whose weights are moved off their (zero) start."""
    backbone = HypertextBackbone(config.replace(embedding_dim=6, embedding_width=10))
    backbone.build()
    for layer in (backbone.embedding_pieces, backbone.embedding_in, backbone.embedding_out):
        for w in layer.weights:
            w.assign(rng.normal(scale=0.3, size=w.shape).astype("float32"))
    return backbone


def test_embed_ids_matches_numpy(tiny_config, rng):
    backbone = _head_backbone(tiny_config, rng)
    ids = rng.integers(4, tiny_config.vocab_size, size=(5, 12)).astype("int32")
    ids[:, 9:] = 0  # padding
    ids[1, 4:] = 0
    ids[np.arange(5), [9, 4, 9, 9, 9]] = 3  # eos
    h, mask, _ = (keras.ops.convert_to_numpy(t).astype("float64") for t in backbone.encoder_features(ids))
    table = keras.ops.convert_to_numpy(backbone.embedding_pieces.embeddings).astype("float64")
    k_in, b_in, k_out, b_out = (keras.ops.convert_to_numpy(w).astype("float64")
                                for w in (*backbone.embedding_in.weights, *backbone.embedding_out.weights))
    real = (ids > 3).astype("float64")[..., None]
    static = (table[ids] * real).sum(1) / real.sum(1)
    context = ((_gelu64(h @ k_in + b_in) * mask).sum(1) / np.maximum(mask.sum(1), 1)) @ k_out + b_out
    got = keras.ops.convert_to_numpy(backbone.embed_ids(ids))
    assert got.shape == (5, 6) and got.dtype == np.float32
    np.testing.assert_allclose(got, static + context, rtol=1e-4, atol=1e-4)
    # Without a head, embed_ids is z.
    plain = HypertextBackbone(tiny_config)
    plain.build()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(plain.embed_ids(ids)),
                               keras.ops.convert_to_numpy(plain.encode_ids(ids)), rtol=1e-6, atol=1e-6)


def test_the_embedding_head_changes_neither_z_nor_the_logits(tiny_config, rng):
    backbone = _head_backbone(tiny_config, rng)
    plain = HypertextBackbone(tiny_config)
    plain.build()
    head = {id(v) for layer in (backbone.embedding_pieces, backbone.embedding_in, backbone.embedding_out)
            for v in layer.weights}
    network = [v for v in backbone.weights if id(v) not in head]
    assert len(network) == len(plain.weights) == len(backbone.weights) - 5
    for target, source in zip(plain.weights, network):
        target.assign(source)
    ids = rng.integers(4, tiny_config.vocab_size, size=(3, 16)).astype("int32")
    z = keras.ops.convert_to_numpy(backbone.encode_ids(ids))
    np.testing.assert_array_equal(z, keras.ops.convert_to_numpy(plain.encode_ids(ids)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(backbone(ids)), keras.ops.convert_to_numpy(plain(ids)))
    # Features computed once by the caller give the same z and embedding as computed inside.
    features = backbone.encoder_features(ids)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(backbone.encode_ids(ids, features=features)), z)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(backbone.embed_ids(ids, features=features)),
                                  keras.ops.convert_to_numpy(backbone.embed_ids(ids)))
