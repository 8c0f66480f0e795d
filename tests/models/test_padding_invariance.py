"""A text's `z` and sentence embedding do not depend on the padding that follows it nor on the batch it is in: the
same within 1e-5 alone at every legal length and beside longer texts. On random weights here (with every
LayerNormalization's beta and bias moved off zero, so that a pad which leaks shows); the shipped presets are
checked in tests/test_every_preset.py."""

import keras
import numpy as np
import pytest

from hypertext.configs import get_config
from hypertext.lengths import pad_batch
from hypertext.models import HypertextBackbone
from hypertext.models.text_autoencoder import _stateless_jit
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID
from tests.grids import FULL


def randomize(backbone, seed=0):
    """Every weight of `backbone` drawn at random (LayerNorm betas included, which start at zero)."""
    rng = np.random.default_rng(seed)
    for w in backbone.weights:
        scale = 0.5 if len(w.shape) < 2 else 1.0 / np.sqrt(max(w.shape[-2], 1))
        w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype("float32"))


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def padding_and_batch_spread(encode, sequences, long, length_multiple, max_length, lengths=None):
    """The largest abs difference between a sequence's vector at its own shortest legal length and (a) at every
    longer legal length (or those of `lengths`), alone, (b) at max_length in a batch with `long` sequences."""
    worst = 0.0
    for s in sequences:
        shortest = -(-len(s) // length_multiple) * length_multiple
        ref = numpy(encode(pad_batch([s], shortest)))[0]
        for length in range(shortest, max_length + 1, length_multiple):
            if lengths is not None and length not in lengths:
                continue
            worst = max(worst, float(np.abs(numpy(encode(pad_batch([s], length)))[0] - ref).max()))
        batch = numpy(encode(pad_batch([*long, s, *long], max_length)))[len(long)]
        worst = max(worst, float(np.abs(batch - ref).max()))
    return worst


def check_backbone_is_padding_exact(backbone, sequences, long, atol=1e-5):
    """Every legal length on TensorFlow and in the thorough mode; elsewhere (JAX compiles each new length) every
    other one, the longest included."""
    c, m = backbone.config, backbone.length_multiple
    lengths = None if FULL or keras.backend.backend() == "tensorflow" else \
        set(range(m, c.max_length + 1, 2 * m)) | {c.max_length}
    for encode in (backbone.encode_ids, backbone.embed_ids):
        name = encode.__name__
        if keras.backend.backend() == "jax":  # as encode() runs there: one jax.jit, a compile per length, not per op
            encode = _stateless_jit(encode, backbone.variables)
        spread = padding_and_batch_spread(encode, sequences, long, m, c.max_length, lengths)
        assert spread <= atol, (name, spread)


CONFIGS = {
    "one stage, bind_positions, pooled, semantic, head": dict(num_stages=1, pooled_latent=True, semantic_width=8,
                                                              embedding_dim=12, embedding_width=8),
    "two stages, kernel 5, three dilated blocks, mean": dict(num_stages=2, kernel_size=5, encoder_blocks=3,
                                                             pooling="mean"),
    "no stage, attention": dict(num_stages=0, pooling="attention", pool_heads=2, encoder_blocks=2),
}


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis 1:UserWarning")  # the 1-position build pass
@pytest.mark.parametrize("changes", list(CONFIGS.values()), ids=list(CONFIGS))
def test_z_and_embedding_do_not_depend_on_padding_or_batch_on_random_weights(changes):
    config = get_config("tiny").replace(max_length=32, **changes)
    backbone = HypertextBackbone(config)
    backbone.build()
    randomize(backbone)
    rng = np.random.default_rng(3)
    sequences = [list(rng.integers(4, config.vocab_size, size=n)) + [EOS_ID] for n in (0, 3, 8, 19, 31)]
    long = [list(rng.integers(4, config.vocab_size, size=31)) + [EOS_ID]]
    # the vectors are of order 1 or more, so 1e-5 is a float32 round-off, not a slack that hides a leak
    assert np.abs(numpy(backbone.encode_ids(pad_batch(sequences, 32)))).mean() > 0.1
    check_backbone_is_padding_exact(backbone, sequences, long)
