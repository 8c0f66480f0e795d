"""Presets: checkpoints shipped inside the package, loaded by name. (Loading the preset itself is
tests/test_pretrained.py's job.)"""

import os

import pytest

import hypertext
from hypertext.pretrained import preset_path, resolve


def test_presets_are_listed_with_a_description():
    presets = hypertext.presets()
    assert "wordnet" in presets
    assert all(isinstance(d, str) and d and "\n" not in d for d in presets.values())


def test_a_preset_name_resolves_to_its_file_in_the_package():
    path = preset_path("wordnet")
    assert os.path.isfile(path) and os.path.dirname(path) == os.path.dirname(hypertext.pretrained.__file__)
    assert resolve("wordnet") == path
    assert resolve("runs/x/model.keras") == "runs/x/model.keras"  # a path stays a path


def test_an_unknown_preset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown preset 'wordnett'\. The presets are: 'wordnet' \(.*\)\. To load "
                                         r"a file, pass its path"):
        hypertext.load("wordnett")
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):  # something with a dot or a slash is a path
        hypertext.load(str(tmp_path / "wordnett.keras"))
