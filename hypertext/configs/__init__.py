"""Configs, split by concern, and the named recipes (presets of a whole run) built from them.

- `ModelConfig` (`model_config.py`): the architecture, tokenizer and length fields; what a checkpoint saves.
- `TrainingConfig` (`training_config.py`): tokenizer sample, batches, schedule, optimiser, seed.
- `ObjectiveConfig` (`objective_config.py`): the objectives beside reconstruction and their settings.
- `Config` (`recipe.py`): the three together, every field by its name; `get_config(name)` gives a named recipe
  (`recipes.py`), `apply_overrides` applies `--set FIELD=VALUE` to any field of any part.

This package imports neither Keras nor TensorFlow.
"""

import dataclasses

from hypertext.configs.model_config import POOLINGS, ModelConfig, legacy_pooling
from hypertext.configs.objective_config import ObjectiveConfig
from hypertext.configs.recipe import OWNER, Config
from hypertext.configs.recipes import ALIASES, CONFIGS, get_config
from hypertext.configs.training_config import TrainingConfig

__all__ = ["ALIASES", "CONFIGS", "Config", "ModelConfig", "OWNER", "ObjectiveConfig", "POOLINGS", "TrainingConfig",
           "apply_overrides", "get_config", "validate"]


def validate(config):
    """`config.validate()`: each part checks its fields, one clear error each. Returns `config`."""
    return config.validate()


def apply_overrides(config, assignments):
    """Applies `["FIELD=VALUE", ...]`, parsing VALUE with the field's type; FIELD is a field of any part of the
    recipe. Unknown fields are an error."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        if name == "bind_positions" and sep:  # the flag `pooling` replaced: still accepted
            flag = _parse(name, raw, bool)
            changes.update(legacy_pooling(flag, changes.get("pool_heads", config.pool_heads)))
            continue
        if not sep or name not in fields:
            raise ValueError(
                f"`--set` takes FIELD=VALUE with FIELD one of {', '.join(sorted(fields))}. Received: {assignment!r}"
            )
        changes[name] = _parse(name, raw, type(getattr(config, name)))
    return config.replace(**changes)


def _parse(name, raw, kind):
    """`raw` (a string) as a value of type `kind`: bools are true/false/1/0."""
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        return kind(raw)
    except ValueError:
        raise ValueError(f"`--set {name}` wants a {kind.__name__}. Received: {raw!r}") from None
