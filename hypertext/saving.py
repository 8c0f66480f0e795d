"""`hypertext.load`: open a trained TextAutoencoder, with one clear error for every kind of bad file."""

import json
import os
import zipfile

import keras

from hypertext.tokenizers.sentencepiece_tokenizer import ASSET_FILE


class CheckpointError(ValueError):
    """The file is not a loadable hypertext checkpoint. The message says why."""


def inspect_checkpoint(path):
    """Checks that `path` is a complete `.keras` archive of a hypertext TextAutoencoder with its tokenizer asset,
    without building the model. Raises FileNotFoundError or CheckpointError."""
    path = os.fspath(path)
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
    if config.get("config", {}).get("tokenizer") is None or not any(n.endswith(ASSET_FILE) for n in names):
        raise CheckpointError(f"{path!r} has no tokenizer asset ({ASSET_FILE}): it cannot read or write text.")
    return config


def load(path):
    """Loads a TextAutoencoder saved by `train.py` (or `model.save`), tokenizer included.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError (a ValueError): empty, truncated or corrupt files, other Keras models, a missing tokenizer.
    """
    import hypertext.models  # noqa: F401  (registers the classes the archive names)

    inspect_checkpoint(path)
    try:
        return keras.saving.load_model(os.fspath(path), compile=False)
    except Exception as e:  # Keras raises many types for damaged archives
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"Could not load {os.fspath(path)!r}: {first}") from None


def export(checkpoint, path):
    """Writes an inference copy of a training checkpoint: the same model and tokenizer without the optimizer state
    (a third of the size with Adam), through a temporary file and a rename."""
    from hypertext.training import save_model_atomically

    save_model_atomically(load(checkpoint), path)
