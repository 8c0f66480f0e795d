"""Opening and writing hypertext checkpoints: `hypertext.load` (a path or a preset name) with one clear error for
every kind of bad file, `lean_copy` (what a checkpoint file holds) and `export` (an inference copy).
"""

import contextlib
import json
import os
import random
import zipfile

import keras
import numpy as np

from hypertext import __version__
from hypertext.configs import Config
from hypertext.pretrained import resolve
from hypertext.tokenizers.sentencepiece_tokenizer import ASSET_FILE

# The key of the model's `metadata` under which a checkpoint records the hypertext version that wrote it.
VERSION_KEY = "hypertext_version"


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
    unknown = sorted(set(model_config.get("config") or {}) - set(Config.__dataclass_fields__))
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
    inspect_checkpoint(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for damaged archives
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"Could not load {path!r}: {first}") from None


@contextlib.contextmanager
def _untouched_random_state():
    """Building layers draws default seeds from Python's `random` (and NumPy may be used too); a copy made during
    training must not shift the run's random streams, so they are put back afterwards."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def lean_copy(model, training_heads=True):
    """A new, uncompiled TextAutoencoder with `model`'s weights, tokenizer and metadata (plus the version of
    hypertext that makes the copy, under `VERSION_KEY`), for writing to a file.

    Keras 3 saves a compiled model's optimizer state into its `.keras` file (`model.save` has no
    `include_optimizer` for that format), so a checkpoint written from the training model carries the Adam
    moments, about a third of the file, which only a resume needs. Saving this copy writes the model alone.

    Args:
        model: a built TextAutoencoder, compiled or not.
        training_heads: False also drops what only training uses: the bag-of-tokens head and its token weights
            (the copy's config has `bow_weight=0`), and the projection head of the distillation loss
            (`distill_weight=0`). `encode`, `decode` and `reconstruct` give the same outputs.
    """
    from hypertext.models import TextAutoencoder

    config = model.get_config()
    del config["tokenizer"]  # the same tokenizer object: its proto is an asset, not part of the JSON config
    dropped = set()
    if not training_heads and model.training_head_variables():
        config["config"] = {**config["config"], "bow_weight": 0.0,
                            **({"distill_weight": 0.0} if model.distill_head is not None else {})}
        dropped = {id(v) for v in model.training_head_variables()}
    config["metadata"] = {**model.metadata, VERSION_KEY: __version__}
    with _untouched_random_state():
        copy = TextAutoencoder(tokenizer=model.tokenizer, **config)
        copy.build()
    # The copy is built by the same code with the same config, so its variables come in `model`'s order, less the
    # dropped ones; `set_weights` checks every shape.
    copy.set_weights([keras.ops.convert_to_numpy(v) for v in model.weights if id(v) not in dropped])
    return copy


def export(checkpoint, path):
    """Writes an inference copy of a checkpoint (a path or a preset name): the same encoder, decoder and
    tokenizer, without optimizer state and without the training-only bag-of-tokens head, through a temporary file
    and a rename."""
    from hypertext.training.run_dir import save_model_atomically

    save_model_atomically(lean_copy(load(checkpoint), training_heads=False), path)
