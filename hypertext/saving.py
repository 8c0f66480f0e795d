"""Opening and writing hypertext checkpoints: `hypertext.load` (a path or a preset name) with one clear error for
every kind of bad file, and `export` (a checkpoint written again in this version's format).

Two formats load: this version's (a `TextAutoencoder` holding a `HypertextBackbone`, whose config is a
`ModelConfig`), and the single-class format of checkpoints up to v5 (the shipped `wordnet` v5 file), whose flat
config is converted and whose weights are mapped onto the backbone (`hypertext.legacy`).
"""

import json
import os
import zipfile

import keras
from hypertext import __version__
from hypertext.models.autoencoder_task import VERSION_KEY
from hypertext.configs import OWNER, ModelConfig
from hypertext.legacy import is_legacy, load_legacy, model_fields
from hypertext.pretrained import resolve
from hypertext.tokenizers.sentencepiece_tokenizer import ASSET_FILE



class CheckpointError(ValueError):
    """The file is not a loadable hypertext checkpoint. The message says why."""


def inspect_checkpoint(path):
    """Checks that `path` (or a preset name) is a complete `.keras` archive of a hypertext TextAutoencoder with its
    tokenizer asset, that this version knows every field of its config, without building the model. Returns the
    archive's `config.json` as a dict. Raises FileNotFoundError, CheckpointError, or ValueError for an unknown
    preset name."""
    path = resolve(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path!r} is a folder, not a .keras file.")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path!r} is empty (0 bytes): not a .keras file.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path!r} is not a .keras file (not a zip archive), or it is truncated.")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise CheckpointError(f"{path!r} is corrupt: member {bad!r} fails its CRC check.")
            names = archive.namelist()
            if "config.json" not in names:
                raise CheckpointError(f"{path!r} is a zip archive but not a .keras file (no config.json).")
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path!r} is truncated or corrupt: {e}.") from None
    if config.get("class_name") != "TextAutoencoder" or "hypertext" not in str(config.get("registered_name", "")):
        raise CheckpointError(
            f"{path!r} holds a {config.get('class_name')!r} model, not a hypertext TextAutoencoder."
        )
    model_config = config.get("config", {})
    known = set(ModelConfig.__dataclass_fields__) | (set(OWNER) | {"bind_positions"} if is_legacy(config) else set())
    unknown = sorted(set(model_fields(config)) - known)
    if unknown:
        written_by = (model_config.get("metadata") or {}).get(VERSION_KEY)
        written_by = f"hypertext {written_by}" if written_by else "an unknown version of hypertext"
        raise CheckpointError(
            f"{path!r} was written by {written_by} and has config fields this version ({__version__}) does not "
            f"know: {', '.join(unknown)}. Upgrade hypertext to load it."
        )
    if model_config.get("tokenizer") is None or not any(n.endswith(ASSET_FILE) for n in names):
        raise CheckpointError(f"{path!r} has no tokenizer asset ({ASSET_FILE}): it cannot read or write text.")
    return config


def load(path):
    """Loads a TextAutoencoder saved by `train.py` (or `model.save`), tokenizer included.

    Args:
        path: a `.keras` file, or the name of a preset shipped with the package (see `hypertext.presets()`).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError (a ValueError): empty, truncated or corrupt files, other Keras models, a missing tokenizer,
            config fields from a newer hypertext.
        ValueError: a name that is neither a file nor a preset.
    """
    import hypertext.models  # noqa: F401  (registers the classes the archive names)

    path = resolve(path)
    config = inspect_checkpoint(path)
    try:
        if is_legacy(config):
            return load_legacy(path, config)
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for damaged archives
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"Could not load {path!r}: {first}") from None


def export(checkpoint, path):
    """Writes a checkpoint (a path or a preset name) again, in this version's format, through a temporary file and
    a rename: the same backbone and tokenizer (a `TextAutoencoder` never holds optimizer state or training-only
    heads)."""
    from hypertext.training.run_dir import save_model_atomically

    save_model_atomically(load(checkpoint), path)
