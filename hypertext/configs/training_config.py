"""`TrainingConfig`: how a run trains (tokenizer sample, batches, schedule, optimiser, seed). A checkpoint never
saves it; a run folder's config.json does."""

import dataclasses

from hypertext.checks import check_at_least


@dataclasses.dataclass
class TrainingConfig:
    tokenizer_sentences: int = 100_000  # at most this many training texts train the tokenizer
    batch_size: int = 64  # texts per step
    epochs: int = 4  # epochs of `steps_per_epoch` steps (or full passes over the training split)
    steps_per_epoch: int = 700  # steps per epoch; 0 means one full pass over the training split
    learning_rate: float = 2e-3  # peak Adam learning rate, after a linear warm-up
    warmup_steps: int = 200  # linear learning-rate warm-up, then cosine decay to 10% over the run
    weight_decay: float = 0.0  # AdamW decoupled weight decay; 0 uses plain Adam
    seed: int = 0  # seeds Python, NumPy and the backend, and the data shuffle

    def validate(self):
        for name in ("batch_size", "epochs"):
            check_at_least(name, getattr(self, name), 1)
        check_at_least("weight_decay", self.weight_decay, 0)
        return self

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)
