"""The blocks of `hypertext/models/blocks.py` against the float64 NumPy references in `tests/references.py`, on
random weights (LayerNorm betas and the zero-initialised heads included, so every term shows) and random data, masked
positions holding garbage. A text's pooled vector and its encoder block features do not depend on the padding that
follows it."""

import keras
import numpy as np
import pytest

from hypertext.configs import get_config
from hypertext.models.blocks import (AttentionPooling, ConditionedConv, DecoderBlock, EncoderBlock, Film,
                                     downsample_mask, real_tokens, unit)
from tests import references
from tests.layer_checks import randomize_weights

# float32 round-off on outputs of order 1; the references are float64
TOL = dict(rtol=1e-5, atol=1e-5)
BATCH, LENGTH, CHANNELS, CONTEXT = 3, 7, 6, 5


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def padded_mask(lengths, length):
    """`(batch, length, 1)` float32: 1 on the first `lengths[b]` positions of row b, 0 on the pads after them."""
    return (np.arange(length)[None, :, None] < np.asarray(lengths)[:, None, None]).astype("float32")


def random_mask(rng, batch, length):
    """`(batch, length, 1)` float32 of random zeros and ones, at least one real position in each row."""
    mask = (rng.random((batch, length, 1)) < 0.6).astype("float32")
    mask[np.arange(batch), rng.integers(0, length, batch), 0] = 1.0
    return mask


def with_garbage(h, mask, rng, scale=10.0):
    """`h` where `mask` is 1, large random values where it is 0: a masked position that leaks shows."""
    return np.where(mask > 0, h, rng.normal(size=h.shape) * scale).astype("float32")


def built(layer, rng, scale, *inputs):
    """`layer`, built by a call on `inputs`, with random weights of standard deviation `scale`."""
    layer(*inputs)
    randomize_weights(layer, rng, scale)
    return layer


def test_film_matches_reference(rng):
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    context = rng.normal(size=(BATCH, CONTEXT)).astype("float32")
    layer = Film(CHANNELS)
    # a fresh Film is the identity (both heads start at zero)
    np.testing.assert_array_equal(numpy(layer(h, context)), h)
    randomize_weights(layer, rng, 0.5)
    head = layer.to_scale_shift
    want = references.film(h, context, references.values(head.kernel), references.values(head.bias))
    got = numpy(layer(h, context))
    assert np.abs(want - h).mean() > 0.3  # the modulation is not a small correction
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("hyper", [True, False], ids=["hyper", "plain"])
@pytest.mark.parametrize("strides,transpose", [(1, False), (2, True)], ids=["conv", "upsample"])
def test_conditioned_conv_matches_reference(hyper, strides, transpose, rng):
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    context = rng.normal(size=(BATCH, CONTEXT)).astype("float32")
    layer = built(ConditionedConv(4, 3, hyper, strides=strides, transpose=transpose, activation="gelu",
                                  mode="basis", num_bases=2), rng, 0.4, h, context)
    want = references.conditioned_conv(h, context, layer, hyper, strides, transpose)
    got = numpy(layer(h, context))
    assert got.shape == (BATCH, LENGTH * strides, 4)
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("masks", ["random", "padded"])
def test_attention_pooling_matches_reference_and_gives_pads_zero_weight(masks, rng):
    heads, head_dim = 2, 3
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    mask = random_mask(rng, BATCH, LENGTH) if masks == "random" else padded_mask([1, 4, LENGTH], LENGTH)
    layer = built(AttentionPooling(heads, head_dim), rng, 0.7, h, mask)
    h = with_garbage(h, mask, rng)
    keys, vals = layer.keys, layer.values
    want = references.attention_pooling(h, mask, references.values(keys.kernel), references.values(keys.bias),
                                        references.values(vals.kernel), references.values(vals.bias), heads)
    got = numpy(layer(h, mask))
    assert got.shape == (BATCH, heads * head_dim)
    np.testing.assert_allclose(got, want, **TOL)


def texts_alone_and_padded(rng, lengths):
    """Random texts of `lengths` positions, each `(1, n, CHANNELS)` alone, and the batch `(BATCH, LENGTH, CHANNELS)`
    whose row b holds text b, then pads of garbage; with that batch's mask."""
    texts = [rng.normal(size=(1, n, CHANNELS)).astype("float32") for n in lengths]
    mask = padded_mask([*lengths, LENGTH], LENGTH)
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    for b, text in enumerate(texts):
        h[b, :len(text[0])] = text[0]
    return texts, with_garbage(h, mask, rng), mask


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis 1:UserWarning")  # a text of one position
def test_attention_pooling_does_not_depend_on_padding(rng):
    """A text of n positions pools to the same vector alone as with pads (garbage in them) after it in a batch."""
    texts, h, mask = texts_alone_and_padded(rng, [1, 4])
    layer = built(AttentionPooling(2, 3), rng, 0.7, h, mask)
    padded = numpy(layer(h, mask))
    for b, text in enumerate(texts):
        alone = numpy(layer(text, np.ones((*text.shape[:2], 1), "float32")))
        np.testing.assert_allclose(padded[b], alone[0], **TOL)


@pytest.mark.parametrize("dilation_rate", [1, 2])
def test_encoder_block_matches_reference(dilation_rate, rng):
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    mask = random_mask(rng, BATCH, LENGTH)
    layer = built(EncoderBlock(CHANNELS, 3, dilation_rate=dilation_rate), rng, 0.5, h, mask)
    h = with_garbage(h, mask, rng)
    want = references.encoder_block(h, mask, references.values(layer.norm.gamma), references.values(layer.norm.beta),
                                    references.values(layer.conv.kernel), references.values(layer.conv.bias),
                                    dilation_rate)
    got = numpy(layer(h, mask))
    assert np.abs(want[mask[..., 0] > 0]).mean() > 0.3
    np.testing.assert_allclose(got, want, **TOL)


def test_encoder_block_does_not_depend_on_padding(rng):
    """A text's positions come out the same alone as with pads (garbage in them) after it in a batch, though the conv
    reaches 2 past the text's end at dilation 2; its pads come out zero."""
    texts, h, mask = texts_alone_and_padded(rng, [1, 4])
    layer = built(EncoderBlock(CHANNELS, 3, dilation_rate=2), rng, 0.5, h, mask)
    padded = numpy(layer(h, mask))
    for b, text in enumerate(texts):
        n = text.shape[1]
        alone = numpy(layer(text, np.ones((1, n, 1), "float32")))
        np.testing.assert_allclose(padded[b, :n], alone[0], **TOL)
        np.testing.assert_array_equal(padded[b, n:], 0.0)


DECODER_CASES = {
    "hyper basis": dict(hyper=True, generator_mode="basis", num_bases=2),
    "hyper low_rank, narrow": dict(hyper=True, generator_mode="low_rank", rank=2, block_channels=4),
    "hyper dense": dict(hyper=True, generator_mode="dense"),
    "plain": dict(hyper=False),
    "plain, narrow": dict(hyper=False, block_channels=4),
}


def decoder_config(**changes):
    return get_config("tiny").replace(channels=CHANNELS, kernel_size=3, **changes)


@pytest.mark.parametrize("changes", list(DECODER_CASES.values()), ids=list(DECODER_CASES))
def test_decoder_block_matches_reference(changes, rng):
    config = decoder_config(dropout=0.5, **changes)  # dropout is off outside training
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    context = rng.normal(size=(BATCH, CONTEXT)).astype("float32")
    layer = built(DecoderBlock(config), rng, 0.4, h, context)
    assert (layer.down is not None) == bool(config.block_channels)
    want = references.decoder_block(h, context, layer, config.hyper, narrow=bool(config.block_channels))
    assert np.abs(want - h).mean() > 0.1  # the branch is not negligible beside the residual
    np.testing.assert_allclose(numpy(layer(h, context)), want, **TOL)
    np.testing.assert_allclose(numpy(layer(h, context, training=False)), want, **TOL)


def test_decoder_block_drops_out_its_branch_in_training(rng):
    """In training each element of the branch is either dropped or scaled by 1 / (1 - rate); the residual stays."""
    rate = 0.5
    config = decoder_config(dropout=rate, hyper=False)
    h = rng.normal(size=(BATCH, LENGTH, CHANNELS)).astype("float32")
    context = rng.normal(size=(BATCH, CONTEXT)).astype("float32")
    layer = built(DecoderBlock(config), rng, 0.4, h, context)
    branch = references.decoder_block_branch(h, context, layer, hyper=False, narrow=False)
    delta = numpy(layer(h, context, training=True)) - h
    kept = np.isclose(delta, branch / (1 - rate), **TOL)
    dropped = np.isclose(delta, 0.0, atol=TOL["atol"])
    assert np.all(kept | dropped)
    assert 0.2 < kept.mean() < 0.8 and 0.2 < dropped.mean() < 0.8


def test_downsample_mask_matches_reference(rng):
    for length in (1, 6, 7):
        mask = random_mask(rng, BATCH, length)
        mask[0] = 0.0
        np.testing.assert_array_equal(numpy(downsample_mask(mask)), references.downsample_mask(mask))


def test_real_tokens_and_unit():
    ids = np.array([[5, 9, 3, 0, 0], [0, 1, 2, 3, 4]], "int32")
    np.testing.assert_array_equal(numpy(real_tokens(ids, "float32"))[..., 0], [[1, 1, 0, 0, 0], [0, 0, 0, 0, 1]])
    v = np.array([[3.0, 4.0], [0.0, 0.0], [1e-9, 0.0]], "float32")
    np.testing.assert_allclose(numpy(unit(v)), [[0.6, 0.8], [0.0, 0.0], [1e-3, 0.0]], **TOL)
