"""`Objective`, the base class of the training objectives beside reconstruction, and their registry.

An objective is a Keras layer that owns its training-only weights (heads, token weights) and computes one scalar
loss from a batch's inputs and `z`. `AutoencoderTask` builds every registered objective whose weight in the
`ObjectiveConfig` is > 0 and adds `weight * loss` to the model's losses. A new objective is a new module in this
package: a subclass with `weight_field` (and `inputs`, the batch keys it reads) decorated with
`@register_objective`, imported in `objectives/__init__.py`, and its fields in `ObjectiveConfig`.
"""

import keras
from keras import ops

# name -> Objective subclass, in the order their losses are added
OBJECTIVES = {}


def register_objective(cls):
    """Class decorator: makes `cls` (an `Objective` subclass with a unique `name`) known to `AutoencoderTask`."""
    if cls.objective_name in OBJECTIVES:
        raise ValueError(f"An objective named {cls.objective_name!r} is already registered.")
    OBJECTIVES[cls.objective_name] = cls
    return cls


def unit(v):
    """`v` in float32, each row scaled to unit length (rows of zeros stay zero)."""
    v = ops.cast(v, "float32")
    return v / ops.maximum(ops.sqrt(ops.sum(v * v, axis=-1, keepdims=True)), 1e-6)


class Objective(keras.layers.Layer):
    """A training objective. Subclasses set:

    - `objective_name`: its name (a key of `OBJECTIVES`);
    - `weight_field`: the `ObjectiveConfig` field of its weight (0 turns it off);
    - `inputs`: the keys of the batch dict it reads besides `token_ids` (its loss is added only when they come);
    - `training_only`: True when its loss is added only in training (not to the validation loss);

    and implement `objective_loss(inputs, z, backbone, training, features=None)` -> a float32 scalar (`features`:
    the backbone's `encoder_features` of the batch's token ids, for objectives that read more than `z`).

    Args:
        model_config: the backbone's `ModelConfig`.
        objectives: the `ObjectiveConfig`.
    """

    objective_name = None
    weight_field = None
    inputs = ()
    training_only = False

    def __init__(self, model_config, objectives, **kwargs):
        super().__init__(name=kwargs.pop("name", self.objective_name), **kwargs)
        self.model_config = model_config
        self.objectives = objectives
        self.weight = float(getattr(objectives, self.weight_field))

    @classmethod
    def is_active(cls, objectives):
        """Whether `objectives` (an `ObjectiveConfig`) turns this objective on."""
        return getattr(objectives, cls.weight_field) > 0

    def applies(self, inputs, training):
        return all(inputs.get(key) is not None for key in self.inputs) and (training or not self.training_only)

    def objective_loss(self, inputs, z, backbone, training=False, features=None):
        raise NotImplementedError
