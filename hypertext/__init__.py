"""hypertext: hypernetwork text models on Keras 3.

    import hypertext
    model = hypertext.load("wordnet")                     # a shipped preset (hypertext.presets() lists them)
    model = hypertext.load("runs/default/model.keras")    # or any checkpoint train.py wrote
    z = model.encode(["a small domesticated carnivore"])

The names below are imported on first use (PEP 562), so `import hypertext` alone does not import Keras and
TensorFlow: the command-line tools (`hypertext.cli`) must set TensorFlow's logging up before it loads.
"""

import importlib

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "load": "hypertext.saving",
    "CheckpointError": "hypertext.saving",
    "TextAutoencoder": "hypertext.models",
    "presets": "hypertext.pretrained",
}
_SUBMODULES = {"backend_utils", "checks", "cli", "configs", "data", "evaluation", "export", "layers", "legacy",
               "lengths", "models", "ops", "pretrained", "saving", "tokenizers", "training"}

__all__ = ["__version__", *_EXPORTS, *sorted(_SUBMODULES)]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
