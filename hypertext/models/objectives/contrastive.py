"""The contrastive objective (`contrastive_weight`): symmetric InfoNCE between a text and a positive of it."""

from hypertext.models.objectives.matryoshka_distillation import pair_infonce_loss
from hypertext.models.objectives.objective import Objective, register_objective


@register_objective
class Contrastive(Objective):
    """Symmetric InfoNCE with in-batch negatives. Row `i` of `z` and row `i` of `z_positive` (a text and a
    positive of it: another text of the same meaning, or a noisy view of itself, the batch's `positive_ids`) are
    the pair; every other row of the batch is a negative. With cosine similarities `s_ij / contrastive_temperature`
    as logits, the loss is the mean of the cross-entropies of picking `i` from row `i` and from column `i`.
    It is what makes cosine similarity between `encode()` vectors mean "says the same thing". No weights.

    Example:

    >>> Contrastive(model_config, objective_config).loss(z, z_positive)
    """

    objective_name = "contrastive"
    weight_field = "contrastive_weight"
    inputs = ("positive_ids",)

    def loss(self, z, z_positive):
        return pair_infonce_loss(z, z_positive, self.objectives.contrastive_temperature)

    def objective_loss(self, inputs, z, backbone, training=False, features=None):
        return self.loss(z, backbone.encode_ids(inputs["positive_ids"], training=training))
