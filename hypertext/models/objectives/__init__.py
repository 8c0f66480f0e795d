"""The training objectives beside reconstruction, one module each (see `objective.py` for how to add one):

- `reconstruction`: the compiled loss and metric (cross-entropy of the logits, token accuracy);
- `bag_of_tokens`: `BagOfTokens` (`bow_weight`), a training-only head and its IDF token weights;
- `contrastive`: `Contrastive` (`contrastive_weight`), InfoNCE against a positive of each text;
- `distillation`: `Distillation` (`distill_weight`), against a teacher's vectors (`teacher`: the teacher itself);
- `latent_noise`: `noisy_latent` (`latent_noise`), the noise on `z` that the decoder reads in training.
"""

from hypertext.models.objectives.bag_of_tokens import BagOfTokens
from hypertext.models.objectives.contrastive import Contrastive
from hypertext.models.objectives.distillation import Distillation
from hypertext.models.objectives.latent_noise import noisy_latent
from hypertext.models.objectives.objective import OBJECTIVES, Objective, register_objective
from hypertext.models.objectives.reconstruction import reconstruction_loss, reconstruction_metrics

__all__ = ["BagOfTokens", "Contrastive", "Distillation", "OBJECTIVES", "Objective", "noisy_latent",
           "reconstruction_loss", "reconstruction_metrics", "register_objective"]
