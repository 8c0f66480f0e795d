"""`ObjectiveConfig`: the training objectives beside reconstruction, their weights and settings (each objective's
module in `hypertext.models.objectives` reads its own fields). A checkpoint never saves it."""

import dataclasses

from hypertext.checks import check_at_least, check_one_of

DISTILL_MODES = ("similarity", "projection", "direct")


@dataclasses.dataclass
class ObjectiveConfig:
    # ---- bag of tokens (hypertext.models.objectives.bag_of_tokens) ----
    bow_weight: float = 0.0  # weight of the auxiliary bag-of-tokens loss (a linear head predicts z's tokens, any order)
    bow_idf: bool = False  # weight each token in that bag by its inverse document frequency in the training split

    # ---- contrastive (hypertext.models.objectives.contrastive) ----
    contrastive_weight: float = 0.0  # weight of an InfoNCE loss that pulls z of a text towards z of a positive of
    # it and away from the other texts of the batch; 0 turns it off. Positives: another text of the same meaning
    # (a WordNet synset of the training split) where the corpus has one, else a noisy view of the text itself
    contrastive_temperature: float = 0.05  # softmax temperature of that loss, over cosine similarities
    positive_drop: float = 0.1  # SimCSE-style augmentation: each piece of a positive is deleted with this probability
    synset_positives: bool = True  # pair each WordNet training text with another text of its synset when it has one
    paired_repeats: int = 1  # with the contrastive loss, each epoch visits texts that have such a partner this many
    # times (the others once), so that more of every batch learns from same-meaning pairs

    # ---- distillation (hypertext.models.objectives.distillation) ----
    distill_weight: float = 0.0  # weight of a loss that teaches z what a teacher sentence encoder (all-MiniLM-L6-v2,
    # the optional extra `minilm`) says of the same training texts; 0 turns it off. The teacher's vectors are
    # computed once per corpus and cached (hypertext.models.objectives.teacher)
    distill_mode: str = "similarity"  # "similarity": z's in-batch cosine similarities match the teacher's;
    # "projection": a training-only linear head reads the teacher's vector from z (cosine loss), so z holds what the
    # teacher knows, linearly, without taking its geometry; "direct": the model's sentence-embedding head (which must
    # have the teacher's width, `embedding_dim` = teacher_dim) is made close, by cosine, to the teacher's vector, plus
    # the similarity loss on it
    distill_temperature: float = 0.05  # softmax temperature of the similarities, teacher and z alike ("similarity")
    teacher_dim: int = 384  # width of the teacher's vectors: the projection head's output ("projection")

    # ---- latent noise (hypertext.models.objectives.latent_noise) ----
    latent_noise: float = 0.0  # the decoder reads z + noise in training: a random direction of norm s * ||z||, s drawn
    # uniformly from [0, latent_noise] per text, so that points near z decode to text too (0 turns it off)

    def validate(self):
        check_one_of("distill_mode", self.distill_mode, DISTILL_MODES)
        for name in ("paired_repeats", "teacher_dim"):
            check_at_least(name, getattr(self, name), 1)
        if not 0 <= self.positive_drop < 1:
            raise ValueError(f"`positive_drop` must be in [0, 1). Received: positive_drop={self.positive_drop}")
        for name in ("distill_temperature", "contrastive_temperature"):
            check_at_least(name, getattr(self, name), 0, strict=True)
        for name in ("bow_weight", "contrastive_weight", "distill_weight", "latent_noise"):
            check_at_least(name, getattr(self, name), 0)
        return self

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)
