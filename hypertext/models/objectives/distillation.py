"""The distillation objective (`distill_weight`): `z` learns what a teacher sentence encoder says of the same texts
(the batch's `teacher_vectors`, from `hypertext.models.objectives.teacher`)."""

import keras
from keras import ops

from hypertext.models.objectives.objective import Objective, register_objective, unit


@register_objective
class Distillation(Objective):
    """The loss of `distill_weight`; the batch's `teacher_vectors` hold a teacher encoder's vectors of its texts.

    - `distill_mode="similarity"`: `z`'s in-batch cosine similarities are made to match the teacher's. For each
      row `i`, both encoders' cosine similarities to the other rows of the batch (`j != i`), divided by
      `distill_temperature`, become softmax distributions, and the loss is the KL divergence from the teacher's
      to `z`'s, averaged over rows (0 when they agree). Only similarities are compared, so `z` keeps its own
      width and basis, and what it learns is what cosine similarity between `encode()` vectors means.
    - `distill_mode="projection"`: 1 - the cosine between `distill_head(z)` (a training-only Dense to
      `teacher_dim`) and the teacher's vector, averaged over the batch. It asks only that the teacher's vector be
      linearly readable from `z`, as a linear probe reads it.
    - `distill_mode="direct"`: the student is the backbone's sentence-embedding head (`embedding_dim` =
      `teacher_dim`), not `z`: 1 - its cosine to the teacher's vector, averaged over the batch, plus the similarity
      loss above on it. The head is what `encode()` returns, so it is put in the teacher's space itself.

    Example:

    >>> Distillation(model_config, objective_config).loss(z, teacher_vectors)
    """

    objective_name = "distillation"
    weight_field = "distill_weight"
    inputs = ("teacher_vectors",)

    def __init__(self, model_config, objectives, **kwargs):
        super().__init__(model_config, objectives, **kwargs)
        if objectives.distill_mode == "direct" and model_config.embedding_dim != objectives.teacher_dim:
            raise ValueError("`distill_mode='direct'` needs a sentence-embedding head of the teacher's width: "
                             f"`embedding_dim` = teacher_dim = {objectives.teacher_dim}. Received: "
                             f"embedding_dim={model_config.embedding_dim}")
        self.distill_head = (keras.layers.Dense(objectives.teacher_dim, name="distill_head", dtype=self.dtype_policy)
                             if objectives.distill_mode == "projection" else None)

    def build(self, z_shape=None):
        if self.distill_head is not None:
            self.distill_head.build((None, self.model_config.latent_dim))
        self.built = True

    def loss(self, z, teacher):
        if self.distill_head is not None:
            return 1.0 - ops.mean(ops.sum(unit(self.distill_head(z)) * unit(teacher), axis=-1))
        similarity = self.similarity_loss(z, teacher)
        if self.objectives.distill_mode == "direct":
            return similarity + 1.0 - ops.mean(ops.sum(unit(z) * unit(teacher), axis=-1))
        return similarity

    def similarity_loss(self, z, teacher):
        """The KL divergence of `distill_mode="similarity"` (see the class docstring)."""
        return similarity_kl(z, teacher, self.objectives.distill_temperature)

    def objective_loss(self, inputs, z, backbone, training=False, features=None):
        student = z
        if self.objectives.distill_mode == "direct":
            student = backbone.embed_ids(inputs["token_ids"], training=training, features=features)
        return self.loss(student, inputs["teacher_vectors"])


def similarity_kl(student, teacher, temperature):
    """How far a student's in-batch cosine similarities are from a teacher's: for each row `i`, both encoders' cosine
    similarities to the other rows (`j != i`), divided by `temperature`, become softmax distributions, and the result
    is the KL divergence from the teacher's to the student's, averaged over rows (0 when they agree)."""

    def similarities(v):
        # Row-wise log-softmax with the diagonal masked out (its probability is exactly 0, so it adds nothing).
        v = unit(v)
        logits = ops.matmul(v, ops.transpose(v)) / temperature
        return ops.log_softmax(logits - 1e9 * ops.eye(ops.shape(v)[0], dtype="float32"), axis=-1)

    target = similarities(teacher)
    return ops.mean(ops.sum(ops.exp(target) * (target - similarities(student)), axis=-1))
