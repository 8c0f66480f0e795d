"""Presets: the pretrained checkpoints that ship inside the package, loadable by name, like keras-hub's
`from_preset`: `hypertext.load("wordnet")`; `hypertext.presets()` lists them.

How they are packaged, and why:
- The files are package data of this folder (`hypertext/pretrained/`, `[options.package_data]` in `setup.cfg`), so
  the wheel that `pip install .` builds holds them and an installed hypertext loads its presets offline, from any
  folder, with no download, cache or network at load time, and always the checkpoint that matches the code's
  version. The price is the wheel's size (the `wordnet` checkpoint is 21 MB, `english` 56 MB), acceptable for small models.
- In the repository the checkpoint lives at `data/pretrained/` next to its model card and training curves. This
  folder holds a symbolic link to it (`hypertext-wordnet.keras -> ../../data/pretrained/hypertext-wordnet.keras`):
  one copy in git, and setuptools follows the link when it builds a wheel, so the wheel holds the file itself.
  An editable install reads it through the link. (On a checkout without symlinks, such as Windows git without
  `core.symlinks`, the link is a small text file; `preset_path` then says the file is missing.)

A preset name has no dot and no slash; a name of a preset wins over a file of the same name in the current
folder (write `./wordnet` for that). This module imports nothing heavy.
"""

import os

# name -> (file in this folder, one-line description)
PRESETS = {
    "wordnet": ("hypertext-wordnet.keras",
                "the hypernetwork text autoencoder of WordNet glosses and GCIDE (recipe `release`), plus a sentence "
                "encoder distilled from all-MiniLM-L6-v2 and tuned on WordNet's pairs (version 7); model card: "
                "data/pretrained/README.md"),
    "english": ("hypertext-english.keras",
                "the wordnet network plus a sentence encoder with its own 32k-piece vocabulary, distilled from "
                "all-MiniLM-L6-v2 on everyday English (version 4); model card: data/pretrained/README-english.md"),
}


def presets():
    """The presets this installation ships: `{name: one-line description}`."""
    return {name: description for name, (_, description) in PRESETS.items()}


def _listing():
    return "; ".join(f"{name!r} ({description})" for name, description in presets().items())


def preset_path(name):
    """The file of preset `name`. Raises ValueError for an unknown name, FileNotFoundError if the installation
    lacks the file."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. The presets are: {_listing()}. To load a file, pass its path "
                         "(e.g. runs/default/model.keras).")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), PRESETS[name][0])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Preset {name!r}: its checkpoint {path!r} is missing from this installation.")
    return path


def resolve(name_or_path):
    """A preset name becomes its file's path; anything else is returned as a path (`str`). A string with no dot,
    no slash and no such file, which can only be meant as a preset, must be one (else ValueError)."""
    path = os.fspath(name_or_path)
    if path in PRESETS or not (os.path.exists(path) or any(c in path for c in "./" + os.sep)):
        return preset_path(path)
    return path
