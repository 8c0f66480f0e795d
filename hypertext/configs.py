"""Model and training configurations, in one place. Every field says what it does.

`get_config("small")` trains on a 2-core CPU in minutes; `get_config("base")` is sized for a GPU. Any field can be
overridden from `train.py` with `--set FIELD=VALUE` (or its own flag for the common ones).
"""

import dataclasses


@dataclasses.dataclass
class Config:
    # ---- data ----
    vocab_size: int = 2000  # SentencePiece vocabulary, specials and the 256 byte-fallback pieces included
    max_length: int = 32  # tokens per text, eos included; longer texts are truncated. A multiple of 2**num_stages
    tokenizer_sentences: int = 100_000  # at most this many training texts train the tokenizer

    # ---- encoder ----
    embed_dim: int = 96  # token embedding width (also the tied output projection's width)
    channels: int = 192  # width of every conv block, encoder and decoder
    num_stages: int = 2  # strided (encoder) / upsampling (decoder) stages; each halves / doubles the length
    kernel_size: int = 3  # taps of every conv and transposed conv
    latent_dim: int = 256  # size of the sentence embedding z that encode() returns
    pooled_latent: bool = False  # add Dense(mean of the text's token embeddings) to z: a position-free path into z

    # ---- decoder and hypernetwork ----
    hyper: bool = True  # False is the ablation: every HyperConv1D becomes a plain Conv1D of the same shape
    hyper_transpose: bool = False  # also generate the upsampling kernels (HyperConv1DTranspose) from z
    blocks_per_stage: int = 1  # residual (Hyper)Conv1D blocks after each upsampling stage
    block_channels: int = 0  # width of the (Hyper)Conv1D inside each block (Dense down, conv, Dense up); 0 = channels
    generator_mode: str = "basis"  # KernelGenerator mode: "basis", "low_rank" or "dense"
    num_bases: int = 4  # learned kernels mixed per sample, for mode "basis"
    rank: int = 4  # factor rank, for mode "low_rank"
    tie_embeddings: bool = True  # logits = project(h) @ embedding.T instead of a separate output matrix
    dropout: float = 0.0  # dropout on the decoder's residual branches
    bow_weight: float = 0.0  # weight of the auxiliary bag-of-tokens loss (a linear head predicts z's tokens, any order)
    bow_idf: bool = False  # weight each token in that bag by its inverse document frequency in the training split

    # ---- training ----
    batch_size: int = 64  # texts per step
    epochs: int = 4  # epochs of `steps_per_epoch` steps (or full passes over the training split)
    steps_per_epoch: int = 700  # steps per epoch; 0 means one full pass over the training split
    learning_rate: float = 2e-3  # peak Adam learning rate, after a linear warm-up
    warmup_steps: int = 200  # linear learning-rate warm-up, then cosine decay to 10% over the run
    weight_decay: float = 0.0  # AdamW decoupled weight decay; 0 uses plain Adam
    seed: int = 0  # seeds Python, NumPy and the backend, and the data shuffle

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)


CONFIGS = {
    # Trains on a 2-core CPU: `python train.py` finishes, evaluation included, within 15 minutes.
    "small": Config(block_channels=64),
    # For a GPU: wider, a larger vocabulary, longer texts, more epochs.
    "base": Config(vocab_size=8000, max_length=64, embed_dim=256, channels=512, num_stages=3, latent_dim=512,
                   blocks_per_stage=2, num_bases=8, batch_size=128, epochs=20, steps_per_epoch=0,
                   learning_rate=1e-3, warmup_steps=1000),
    # The shipped checkpoint (data/pretrained/): one stage, a 512-d z with a pooled path, the IDF-weighted
    # bag-of-tokens loss, 8k steps of 32 texts; about 20 minutes on one CPU core. Short stacks learn to reconstruct
    # far faster per step than deeper ones, and the bag loss speeds that up further (measured in the model card).
    "wordnet": Config(embed_dim=64, channels=128, num_stages=1, latent_dim=512, pooled_latent=True,
                      blocks_per_stage=2, block_channels=64, bow_weight=1.0, bow_idf=True,
                      batch_size=32, epochs=4, steps_per_epoch=2000, learning_rate=2e-3, warmup_steps=500),
    # For tests and smoke runs: seconds, not minutes.
    "tiny": Config(vocab_size=512, max_length=16, embed_dim=16, channels=24, num_stages=1, latent_dim=16,
                   num_bases=2, batch_size=16, epochs=2, steps_per_epoch=0, warmup_steps=2,
                   tokenizer_sentences=2000),
}


def get_config(name):
    if name not in CONFIGS:
        raise ValueError(f"`config` must be one of {', '.join(repr(n) for n in CONFIGS)}. Received: config={name!r}")
    return CONFIGS[name]


def apply_overrides(config, assignments):
    """Applies `["FIELD=VALUE", ...]`, parsing VALUE with the field's type. Unknown fields are an error."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        if not sep or name not in fields:
            raise ValueError(
                f"`--set` takes FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}. Received: {assignment!r}"
            )
        kind = type(getattr(config, name))
        try:
            if kind is bool:
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(raw)
                value = raw.lower() in ("true", "1")
            else:
                value = kind(raw)
        except ValueError:
            raise ValueError(f"`--set {name}` wants a {kind.__name__}. Received: {raw!r}") from None
        changes[name] = value
    return config.replace(**changes)


def validate(config):
    """Checks the fields that must agree with each other, with one clear error each."""
    if config.max_length % (2 ** config.num_stages):
        raise ValueError(
            f"`max_length` must be a multiple of 2**num_stages = {2 ** config.num_stages}. "
            f"Received: max_length={config.max_length}"
        )
    if config.generator_mode not in ("basis", "low_rank", "dense"):
        raise ValueError(
            f"`generator_mode` must be one of 'basis', 'low_rank', 'dense'. Received: generator_mode="
            f"{config.generator_mode!r}"
        )
    for name in ("vocab_size", "max_length", "embed_dim", "channels", "latent_dim", "batch_size", "epochs"):
        if getattr(config, name) < 1:
            raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(config, name)}")
    for name in ("bow_weight", "dropout", "weight_decay"):
        if getattr(config, name) < 0:
            raise ValueError(f"`{name}` must be >= 0. Received: {name}={getattr(config, name)}")
    return config
