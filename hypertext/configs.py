"""Model and training configurations, in one place. Every field says what it does.

`get_config("small")` trains on a 2-core CPU in minutes; `get_config("base")` is sized for a GPU. Any field can be
overridden from `train.py` with `--set FIELD=VALUE` (or its own flag for the common ones).
"""

import dataclasses


@dataclasses.dataclass
class Config:
    # ---- data ----
    vocab_size: int = 2000  # SentencePiece vocabulary, specials and the 256 byte-fallback pieces included
    max_length: int = 128  # longest text in pieces, eos included; a multiple of 2**num_stages. Batches are bucketed
    # by length below it; reconstruct() runs longer texts window by window, encode() reads their first window
    reconstruct_window: int = 24  # reconstruct() cuts texts longer than this many pieces into near-equal windows of
    # at most this many (capped at max_length - 1): the models reconstruct short texts best (model card)
    tokenizer_sentences: int = 100_000  # at most this many training texts train the tokenizer

    # ---- encoder ----
    embed_dim: int = 96  # token embedding width (also the tied output projection's width)
    channels: int = 192  # width of every conv block, encoder and decoder
    num_stages: int = 2  # strided (encoder) / upsampling (decoder) stages; each halves / doubles the length
    kernel_size: int = 3  # taps of every conv and transposed conv
    encoder_blocks: int = 2  # residual convs after the strided stages (dilations 1, 2, 4, ...), before the mean pool
    latent_dim: int = 256  # size of the sentence embedding z that encode() returns
    bind_positions: bool = True  # z = sum over positions of Dense(features) * a learned per-position code, / sqrt(n)
    pool_heads: int = 0  # 0: z reads the masked mean over positions; N: N learned attention queries pool instead
    pooled_latent: bool = False  # add Dense(mean of the text's token embeddings) to z: a position-free path into z
    semantic_width: int = 0  # 0: off; N: add Dense(mean over positions of gelu(Dense_N(encoder features))) to z, a
    # wider position-free path for meaning. Its output layer starts at zero, so a checkpoint without it can be
    # warm-started with it (`--init-from`) and begins as the same model

    # ---- decoder and hypernetwork ----
    hyper: bool = True  # False is the plain twin: each hyper conv becomes a shared conv followed by FiLM from z
    seed_channels: int = 32  # width of the learned, z-free seed vectors the decoder starts from (short resolution)
    readout_channels: int = 0  # output width of the first hyper conv, which reads the seed; 0 = channels
    readout_mode: str = "low_rank"  # KernelGenerator mode of that first conv ("basis", "low_rank" or "dense")
    readout_rank: int = 16  # its factor rank, for readout_mode "low_rank"
    blocks_per_stage: int = 1  # residual (Hyper)Conv1D blocks after each upsampling stage
    block_channels: int = 0  # width of the (Hyper)Conv1D inside each block (Dense down, conv, Dense up); 0 = channels
    generator_mode: str = "basis"  # KernelGenerator mode: "basis", "low_rank" or "dense"
    num_bases: int = 4  # learned kernels mixed per sample, for mode "basis"
    rank: int = 4  # factor rank, for mode "low_rank"
    tie_embeddings: bool = True  # logits = project(h) @ embedding.T instead of a separate output matrix
    dropout: float = 0.0  # dropout on the decoder's residual branches
    bow_weight: float = 0.0  # weight of the auxiliary bag-of-tokens loss (a linear head predicts z's tokens, any order)
    bow_idf: bool = False  # weight each token in that bag by its inverse document frequency in the training split

    # ---- sentence-vector objectives (beside reconstruction; see TextAutoencoder.contrastive_loss) ----
    contrastive_weight: float = 0.0  # weight of an InfoNCE loss that pulls z of a text towards z of a positive of
    # it and away from the other texts of the batch; 0 turns it off. Positives: another text of the same meaning
    # (a WordNet synset of the training split) where the corpus has one, else a noisy view of the text itself
    contrastive_temperature: float = 0.05  # softmax temperature of that loss, over cosine similarities
    positive_drop: float = 0.1  # SimCSE-style augmentation: each piece of a positive is deleted with this probability
    synset_positives: bool = True  # pair each WordNet training text with another text of its synset when it has one
    paired_repeats: int = 1  # with the contrastive loss, each epoch visits texts that have such a partner this many
    # times (the others once), so that more of every batch learns from same-meaning pairs
    distill_weight: float = 0.0  # weight of a loss that teaches z what a teacher sentence encoder (all-MiniLM-L6-v2,
    # the optional extra `minilm`) says of the same training texts; 0 turns it off. The teacher's vectors are
    # computed once per corpus and cached (hypertext.data.teacher)
    distill_mode: str = "similarity"  # "similarity": z's in-batch cosine similarities match the teacher's;
    # "projection": a training-only linear head reads the teacher's vector from z (cosine loss), so z holds what the
    # teacher knows, linearly, without taking its geometry
    distill_temperature: float = 0.05  # softmax temperature of the similarities, teacher and z alike ("similarity")
    teacher_dim: int = 384  # width of the teacher's vectors: the projection head's output ("projection")

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


# The fields that decide the model's weights (their shapes and which exist). A checkpoint can warm-start a run
# (`train(init_from=...)`) whose config differs from its own only in the other fields.
ARCHITECTURE_FIELDS = ("vocab_size", "max_length", "embed_dim", "channels", "num_stages", "kernel_size",
                       "encoder_blocks", "latent_dim", "bind_positions", "pool_heads", "pooled_latent",
                       "semantic_width", "hyper", "seed_channels", "readout_channels", "readout_mode", "readout_rank",
                       "blocks_per_stage", "block_channels", "generator_mode", "num_bases", "rank", "tie_embeddings")

CONFIGS = {
    # The default: `python train.py` on a 2-core CPU, evaluation included, in about 10 minutes. One stage, a 512-d
    # z with position binding and a pooled path, the IDF-weighted bag-of-tokens loss; texts up to 128 pieces.
    "small": Config(num_stages=1, embed_dim=64, channels=128, latent_dim=512, pooled_latent=True,
                    blocks_per_stage=2, block_channels=64, bow_weight=1.0, bow_idf=True,
                    batch_size=64, epochs=4, steps_per_epoch=1500, learning_rate=3e-3, warmup_steps=300),
    # For a GPU: wider, a larger vocabulary, longer texts, more epochs.
    "base": Config(vocab_size=8000, max_length=256, embed_dim=256, channels=512, num_stages=2, latent_dim=1024,
                   pooled_latent=True, blocks_per_stage=2, num_bases=8, readout_rank=32, bow_weight=1.0,
                   bow_idf=True, batch_size=128, epochs=20, steps_per_epoch=0, learning_rate=1e-3,
                   warmup_steps=1000),
    # The shipped checkpoint (data/pretrained/): the small architecture trained longer on WordNet glosses and
    # general English (see the model card).
    "wordnet": Config(vocab_size=4000, num_stages=1, embed_dim=64, channels=128, latent_dim=768, pooled_latent=True,
                      blocks_per_stage=2, block_channels=64, bow_weight=1.0, bow_idf=True,
                      batch_size=64, epochs=8, steps_per_epoch=3000, learning_rate=3e-3, warmup_steps=300),
    # For tests and smoke runs: seconds, not minutes.
    "tiny": Config(vocab_size=512, max_length=32, embed_dim=16, channels=24, num_stages=1, latent_dim=16,
                   seed_channels=8, readout_rank=4, num_bases=2, batch_size=16, epochs=2, steps_per_epoch=0,
                   warmup_steps=2, tokenizer_sentences=2000),
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
    if config.distill_mode not in ("similarity", "projection"):
        raise ValueError("`distill_mode` must be one of 'similarity', 'projection'. Received: "
                         f"distill_mode={config.distill_mode!r}")
    for name in ("generator_mode", "readout_mode"):
        if getattr(config, name) not in ("basis", "low_rank", "dense"):
            raise ValueError(f"`{name}` must be one of 'basis', 'low_rank', 'dense'. Received: {name}="
                             f"{getattr(config, name)!r}")
    for name in ("vocab_size", "max_length", "embed_dim", "channels", "latent_dim", "batch_size", "epochs",
                 "seed_channels", "readout_rank", "reconstruct_window", "paired_repeats", "teacher_dim"):
        if getattr(config, name) < 1:
            raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(config, name)}")
    if not 0 <= config.positive_drop < 1:
        raise ValueError(f"`positive_drop` must be in [0, 1). Received: positive_drop={config.positive_drop}")
    if config.distill_temperature <= 0:
        raise ValueError("`distill_temperature` must be > 0. Received: "
                         f"distill_temperature={config.distill_temperature}")
    if config.contrastive_temperature <= 0:
        raise ValueError("`contrastive_temperature` must be > 0. Received: "
                         f"contrastive_temperature={config.contrastive_temperature}")
    for name in ("bow_weight", "contrastive_weight", "distill_weight", "dropout", "weight_decay", "encoder_blocks",
                 "readout_channels", "num_stages", "pool_heads", "semantic_width"):
        if getattr(config, name) < 0:
            raise ValueError(f"`{name}` must be >= 0. Received: {name}={getattr(config, name)}")
    return config
