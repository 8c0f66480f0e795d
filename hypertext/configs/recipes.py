"""The named recipes: `get_config("small")` trains on a 2-core CPU in minutes; `"base"` is sized for a GPU;
`"release"` is how the shipped checkpoint (preset `wordnet`) was trained, `"english"` how the preset `english` was;
`"tiny"` is for tests."""

import warnings

from hypertext.configs.recipe import Config

CONFIGS = {
    # The default: `python train.py` on a 2-core CPU, evaluation included, in under 5 minutes (3,600 steps). One
    # stage, a 512-d z with position binding and a pooled path, the IDF-weighted bag-of-tokens loss; texts up to 128
    # pieces.
    "small": Config(num_stages=1, embed_dim=64, channels=128, latent_dim=512, pooled_latent=True,
                    blocks_per_stage=2, block_channels=64, bow_weight=1.0, bow_idf=True,
                    batch_size=64, epochs=4, steps_per_epoch=900, learning_rate=3e-3, warmup_steps=300),
    # For a GPU: wider, a larger vocabulary, longer texts, more epochs.
    "base": Config(vocab_size=8000, max_length=256, embed_dim=256, channels=512, num_stages=2, latent_dim=1024,
                   pooled_latent=True, blocks_per_stage=2, num_bases=8, readout_rank=32, bow_weight=1.0,
                   bow_idf=True, batch_size=128, epochs=20, steps_per_epoch=0, learning_rate=1e-3,
                   warmup_steps=1000),
    # The architecture and first schedule of the shipped checkpoint (preset `wordnet`, data/pretrained/): the small
    # architecture with a 4,000-piece vocabulary and a 768-d z, trained longer on WordNet glosses and general
    # English (see the model card for its fine-tuning runs).
    "release": Config(vocab_size=4000, num_stages=1, embed_dim=64, channels=128, latent_dim=768, pooled_latent=True,
                      blocks_per_stage=2, block_channels=64, bow_weight=1.0, bow_idf=True,
                      batch_size=64, epochs=8, steps_per_epoch=3000, learning_rate=3e-3, warmup_steps=300),
    # The preset `english` (data/pretrained/, model card there): the release architecture with a sentence-embedding
    # head in the teacher's space (384-d), fine-tuned on the everyday-English corpus (version 2: and WordNet's
    # training glosses) with distillation from all-MiniLM-L6-v2 on that head from the first step, reconstruction,
    # the bag of tokens and latent noise; the model card has both runs' commands.
    "english": Config(vocab_size=4000, num_stages=1, embed_dim=64, channels=128, latent_dim=768, pooled_latent=True,
                      blocks_per_stage=2, block_channels=64, embedding_dim=384, embedding_width=512,
                      bow_weight=1.0, bow_idf=True, distill_weight=1.0, distill_mode="direct", latent_noise=0.4,
                      batch_size=64, epochs=4, steps_per_epoch=1500, learning_rate=1e-3, warmup_steps=200),
    # For tests and smoke runs: seconds, not minutes.
    "tiny": Config(vocab_size=512, max_length=32, embed_dim=16, channels=24, num_stages=1, latent_dim=16,
                   seed_channels=8, readout_rank=4, num_bases=2, batch_size=16, epochs=2, steps_per_epoch=0,
                   warmup_steps=2, tokenizer_sentences=2000),
}
# Old recipe names that still work, with a DeprecationWarning: old name -> new name.
ALIASES = {"wordnet": "release"}


def get_config(name):
    """The recipe `name` (a `Config`)."""
    if name in ALIASES:
        warnings.warn(f"The config {name!r} is now called {ALIASES[name]!r} ({name!r} is the preset and the corpus); "
                      f"the old name will go.", DeprecationWarning, stacklevel=2)
        name = ALIASES[name]
    if name not in CONFIGS:
        raise ValueError(f"`config` must be one of {', '.join(repr(n) for n in CONFIGS)}. Received: config={name!r}")
    return CONFIGS[name]
