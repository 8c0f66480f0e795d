import pytest

from hypertext.configs import CONFIGS, apply_overrides, get_config, validate


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
    ({"distill_mode": "mse"}, "`distill_mode` must be one of 'similarity', 'projection'. Received: distill_mode='mse'"),
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
    with pytest.raises(ValueError, match=r"`config` must be one of 'small', 'base', 'wordnet', 'tiny'. Received: "):
        get_config("huge")
