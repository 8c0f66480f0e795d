import pytest

import dataclasses

from hypertext.configs import (CONFIGS, OWNER, Config, ModelConfig, ObjectiveConfig, TrainingConfig, apply_overrides,
                               get_config, validate)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_shipped_configs_are_valid(name):
    assert validate(get_config(name)) == get_config(name)


@pytest.mark.parametrize("changes,message", [
    ({"max_length": 30, "num_stages": 2}, "`max_length` must be a multiple of 2**num_stages = 4. Received: max_length=30"),
    ({"generator_mode": "big"}, "`generator_mode` must be one of 'basis', 'low_rank', 'dense'. Received: "
                                "generator_mode='big'"),
    ({"readout_mode": "wide"}, "`readout_mode` must be one of 'basis', 'low_rank', 'dense'. Received: "
                               "readout_mode='wide'"),
    ({"latent_dim": 0}, "`latent_dim` must be >= 1. Received: latent_dim=0"),
    ({"encoder_blocks": -1}, "`encoder_blocks` must be >= 0. Received: encoder_blocks=-1"),
    ({"bow_weight": -0.1}, "`bow_weight` must be >= 0. Received: bow_weight=-0.1"),
    ({"dropout": -0.5}, "`dropout` must be >= 0. Received: dropout=-0.5"),
    ({"contrastive_weight": -1.0}, "`contrastive_weight` must be >= 0. Received: contrastive_weight=-1.0"),
    ({"contrastive_temperature": 0.0}, "`contrastive_temperature` must be > 0. Received: contrastive_temperature=0.0"),
    ({"semantic_width": -1}, "`semantic_width` must be >= 0. Received: semantic_width=-1"),
    ({"distill_mode": "mse"}, "`distill_mode` must be one of 'similarity', 'projection', 'direct'. Received: distill_mode='mse'"),
    ({"teacher_dim": 0}, "`teacher_dim` must be >= 1. Received: teacher_dim=0"),
    ({"distill_weight": -0.5}, "`distill_weight` must be >= 0. Received: distill_weight=-0.5"),
    ({"distill_temperature": -1.0}, "`distill_temperature` must be > 0. Received: distill_temperature=-1.0"),
    ({"positive_drop": 1.0}, "`positive_drop` must be in [0, 1). Received: positive_drop=1.0"),
])
def test_invalid_configs_get_one_clear_error(changes, message):
    with pytest.raises(ValueError) as info:
        validate(get_config("small").replace(**changes))
    assert str(info.value) == message


def test_overrides_parse_with_the_field_type():
    config = apply_overrides(get_config("small"), ["bow_weight=0.5", "bow_idf=true", "latent_dim=64"])
    assert (config.bow_weight, config.bow_idf, config.latent_dim) == (0.5, True, 64)
    with pytest.raises(ValueError, match=r"`--set bow_idf` wants a bool. Received: 'maybe'"):
        apply_overrides(get_config("small"), ["bow_idf=maybe"])
    with pytest.raises(ValueError, match=r"`config` must be one of 'small', 'base', 'release', 'english', 'tiny'. Received: "):
        get_config("huge")


def test_a_recipe_is_a_model_a_training_and_an_objective_config():
    config = get_config("small")
    assert isinstance(config.model, ModelConfig) and config.model.latent_dim == config.latent_dim == 512
    assert isinstance(config.training, TrainingConfig) and config.training.batch_size == 64
    assert isinstance(config.objectives, ObjectiveConfig) and config.objectives.bow_weight == 1.0
    assert Config.compose(config.model, config.training, config.objectives) == config
    # Every field belongs to exactly one part; the model part holds nothing a run's optimiser or objectives read.
    parts = [set(ModelConfig.__dataclass_fields__), set(TrainingConfig.__dataclass_fields__),
             set(ObjectiveConfig.__dataclass_fields__)]
    assert sum(len(p) for p in parts) == len(set().union(*parts)) == len(dataclasses.fields(Config)) == len(OWNER)
    training_only = {"learning_rate", "warmup_steps", "weight_decay", "epochs", "steps_per_epoch", "batch_size",
                     "seed", "bow_weight", "contrastive_weight", "distill_weight"}
    assert not training_only & parts[0]


@pytest.mark.parametrize("assignment,part", [("latent_dim=64", "model"), ("pooling=mean", "model"),
                                             ("batch_size=8", "training"), ("distill_mode=projection", "objectives")])
def test_set_reaches_a_field_of_every_part(assignment, part):
    name, value = assignment.split("=")
    config = apply_overrides(get_config("small"), [assignment])
    assert str(getattr(getattr(config, part), name)) == value and OWNER[name] == part


def test_the_old_config_name_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="The config 'wordnet' is now called 'release'"):
        assert get_config("wordnet") == get_config("release")


def test_set_bind_positions_still_works_and_becomes_pooling():
    config = apply_overrides(get_config("small"), ["pool_heads=4", "bind_positions=false"])
    assert (config.pooling, config.pool_heads) == ("attention", 4) and validate(config) is config
    assert apply_overrides(get_config("small"), ["bind_positions=0"]).pooling == "mean"
    with pytest.raises(ValueError, match=r"`--set bind_positions` wants a bool. Received: 'maybe'"):
        apply_overrides(get_config("small"), ["bind_positions=maybe"])
