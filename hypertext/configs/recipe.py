"""`Config`: a whole recipe, the model config plus the training and objective configs, with every field reachable
by its name (`config.latent_dim`, `config.batch_size`, `config.bow_weight`): what `train()` takes, `--set` changes
and a run folder's config.json holds. `config.model` / `.training` / `.objectives` are its three parts; a
checkpoint saves only `config.model`."""

import dataclasses

from hypertext.configs.model_config import ModelConfig
from hypertext.configs.objective_config import ObjectiveConfig
from hypertext.configs.training_config import TrainingConfig

PARTS = {"model": ModelConfig, "objectives": ObjectiveConfig, "training": TrainingConfig}
# field name -> the part that owns it
OWNER = {name: part for part, cls in PARTS.items() for name in cls.__dataclass_fields__}


def _part(name):
    def get(self):
        cls = PARTS[name]
        return cls(**{field: getattr(self, field) for field in cls.__dataclass_fields__})

    get.__doc__ = f"This recipe's `{PARTS[name].__name__}`."
    return property(get)


def _replace(self, **changes):
    """A copy with `changes` (any fields of any part)."""
    return dataclasses.replace(self, **changes)


def _to_dict(self):
    return dataclasses.asdict(self)


def _validate(self):
    """Each part validates its own fields; returns the recipe."""
    for name in PARTS:
        getattr(self, name).validate()
    return self


@classmethod
def _compose(cls, model=None, training=None, objectives=None):
    """The recipe of a `ModelConfig`, a `TrainingConfig` and an `ObjectiveConfig` (defaults for those not given)."""
    parts = (model or ModelConfig(), training or TrainingConfig(), objectives or ObjectiveConfig())
    return cls(**{k: v for part in parts for k, v in dataclasses.asdict(part).items()})


Config = dataclasses.make_dataclass(
    "Config",
    [(f.name, f.type, dataclasses.field(default=f.default)) for cls in PARTS.values()
     for f in dataclasses.fields(cls)],
    namespace={"model": _part("model"), "training": _part("training"), "objectives": _part("objectives"),
               "replace": _replace, "to_dict": _to_dict, "validate": _validate, "compose": _compose,
               "__module__": __name__},
)
Config.__doc__ = __doc__.split("\n\n")[0].replace("`Config`: ", "")
