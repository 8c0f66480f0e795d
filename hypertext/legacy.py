"""Checkpoints written before the model split (up to the shipped `wordnet` v5 file): one `TextAutoencoder` class
held the network, the tokenizer and the training-only heads, with one flat config of every field.

`load_legacy` converts such a file: its config's model fields become a `ModelConfig` (`bind_positions` becomes
`pooling`; training and objective fields are dropped), and its weights load into a `HypertextBackbone`, whose
attribute names and creation order are those of the old class, so the weights map by path one to one. The old
training-only heads (a bag-of-tokens head and its token weights), present in run checkpoints, are left out."""

import os
import tempfile
import zipfile


from hypertext.configs import ModelConfig
from hypertext.tokenizers.sentencepiece_tokenizer import ASSET_FILE

WEIGHTS_FILE = "model.weights.h5"


def is_legacy(config_json):
    """Whether a `.keras` archive's config.json (a dict) is of the old single-class format."""
    return "backbone" not in config_json.get("config", {})


def model_fields(config_json):
    """The config fields of the model a `.keras` archive's config.json describes, either format."""
    config = config_json.get("config", {})
    if is_legacy(config_json):
        return dict(config.get("config") or {})
    return dict(config["backbone"].get("config", {}).get("config") or {})


def load_legacy(path, config_json):
    """A `TextAutoencoder` (this version's) from an old-format `.keras` file."""
    import h5py

    from hypertext.models import TextAutoencoder
    from hypertext.tokenizers import SentencePieceTokenizer

    config = config_json["config"]
    model_config = ModelConfig.from_dict(config["config"])
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
        asset = next(n for n in archive.namelist() if n.endswith(ASSET_FILE))
        tokenizer = SentencePieceTokenizer(proto=archive.read(asset))
        model = TextAutoencoder(config=model_config, tokenizer=tokenizer, metadata=config.get("metadata"))
        model.build()
        weights = os.path.join(tmp, "legacy.weights.h5")
        with open(weights, "wb") as f:
            f.write(archive.read(WEIGHTS_FILE))
        # The old model's own variables were [binding], seed, [output_bias], [bow_token_weights]: the backbone has
        # the first three; a run checkpoint's token weights of the bag-of-tokens head are dropped.
        own = (model_config.pooling == "bind_positions") + 1 + model_config.tie_embeddings
        with h5py.File(weights, "r+") as store:
            for index in range(own, len(store["vars"])):
                del store["vars"][str(index)]
        model.backbone.load_weights(weights)
    return model
