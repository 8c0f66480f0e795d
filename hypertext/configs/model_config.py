"""`ModelConfig`: the architecture of a hypertext model, with its tokenizer and length fields. It is what a
checkpoint saves (`TextAutoencoder.get_config()`), so it holds no training-only field."""

import dataclasses

from hypertext.checks import check_at_least, check_one_of

POOLINGS = ("bind_positions", "attention", "mean")
GENERATOR_MODES = ("basis", "low_rank", "dense")


@dataclasses.dataclass
class ModelConfig:
    # ---- tokenizer and lengths ----
    vocab_size: int = 2000  # SentencePiece vocabulary, specials and the 256 byte-fallback pieces included
    max_length: int = 128  # longest text in pieces, eos included; a multiple of 2**num_stages. Batches are bucketed
    # by length below it; reconstruct() runs longer texts window by window, encode() reads their first window
    reconstruct_window: int = 24  # reconstruct() cuts texts longer than this many pieces into near-equal windows of
    # at most this many (capped at max_length - 1): the models reconstruct short texts best (model card)

    # ---- encoder ----
    embed_dim: int = 96  # token embedding width (also the tied output projection's width)
    channels: int = 192  # width of every conv block, encoder and decoder
    num_stages: int = 2  # strided (encoder) / upsampling (decoder) stages; each halves / doubles the length
    kernel_size: int = 3  # taps of every conv and transposed conv
    encoder_blocks: int = 2  # residual convs after the strided stages (dilations 1, 2, 4, ...), before the pool
    latent_dim: int = 256  # size of the sentence embedding z that encode() returns
    pooling: str = "bind_positions"  # how the encoder's positions become z: "bind_positions" (z = sum over
    # positions of Dense(features) * a learned per-position code, / sqrt(n)), "attention" (`pool_heads` learned
    # queries) or "mean" (Dense(masked mean))
    pool_heads: int = 0  # the attention queries of pooling="attention" (>= 1 there, 0 for the other poolings)
    pooled_latent: bool = False  # add Dense(mean of the text's token embeddings) to z: a position-free path into z
    semantic_width: int = 0  # 0: off; N: add Dense(mean over positions of gelu(Dense_N(encoder features))) to z, a
    # wider position-free path for meaning. Its output layer starts at zero, so a checkpoint without it can be
    # warm-started with it (`--init-from`) and begins as the same model
    embedding_dim: int = 0  # 0: encode() returns z. N: the model also has a sentence-embedding head of width N and
    # encode() returns its output (encode_latent() returns z, which decode() reads): the masked mean of per-piece
    # vectors plus Dense(mean of gelu(Dense(encoder features))). Distillation trains it when it exists
    embedding_width: int = 512  # hidden width of that head's contextual path

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

    def validate(self):
        """Checks every field and the fields that must agree with each other, with one clear error each."""
        if self.max_length % (2 ** self.num_stages):
            raise ValueError(f"`max_length` must be a multiple of 2**num_stages = {2 ** self.num_stages}. "
                             f"Received: max_length={self.max_length}")
        for name in ("generator_mode", "readout_mode"):
            check_one_of(name, getattr(self, name), GENERATOR_MODES)
        check_one_of("pooling", self.pooling, POOLINGS)
        for name in ("vocab_size", "max_length", "embed_dim", "channels", "latent_dim", "seed_channels",
                     "readout_rank", "reconstruct_window"):
            check_at_least(name, getattr(self, name), 1)
        check_at_least("embedding_width", self.embedding_width, 1)
        for name in ("dropout", "encoder_blocks", "readout_channels", "num_stages", "pool_heads", "semantic_width",
                     "embedding_dim"):
            check_at_least(name, getattr(self, name), 0)
        if (self.pooling == "attention") != (self.pool_heads > 0):
            raise ValueError("`pool_heads` must be >= 1 with pooling='attention' and 0 with any other pooling. "
                             f"Received: pooling={self.pooling!r}, pool_heads={self.pool_heads}")
        return self

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields):
        """A ModelConfig from a dict of its fields, or from an older config: the flat configs that checkpoints saved
        before the split (their training-only fields are dropped) and `bind_positions` (which overrode
        `pool_heads`) become `pooling`. Fields this version does not know are a ValueError."""
        fields = dict(fields)
        if "bind_positions" in fields:
            fields.update(legacy_pooling(fields.pop("bind_positions"), fields.get("pool_heads", 0)))
        from hypertext.configs.objective_config import ObjectiveConfig
        from hypertext.configs.training_config import TrainingConfig

        ours = set(cls.__dataclass_fields__)
        unknown = sorted(set(fields) - ours - set(TrainingConfig.__dataclass_fields__)
                         - set(ObjectiveConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown model config fields: {', '.join(unknown)}.")
        return cls(**{k: v for k, v in fields.items() if k in ours}).validate()


def legacy_pooling(bind_positions, pool_heads):
    """`pooling` and `pool_heads` for the two flags of configs written before `pooling` existed, where
    `bind_positions` won over `pool_heads`."""
    if bind_positions:
        return {"pooling": "bind_positions", "pool_heads": 0}
    return {"pooling": "attention" if pool_heads else "mean", "pool_heads": pool_heads}
