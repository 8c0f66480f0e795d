"""What a checkpoint file holds: the run's `model.keras` has no optimizer state and no training-only head, `export`
writes an old checkpoint in this version's format, and a file with config fields this version does not know says
which and who wrote it."""

import io
import json
import random
import re
import zipfile

import h5py
import numpy as np
import pytest

import hypertext
from hypertext import saving
from hypertext.configs import ModelConfig
from hypertext.models import AutoencoderTask, TextAutoencoder
from hypertext.training import AtomicBestCheckpoint, compile_model
from tests.conftest import backend

pytestmark = [pytest.mark.backends("tensorflow"),  # file checks run once, on TF
              pytest.mark.filterwarnings("ignore:.*were longer than max_length:UserWarning")]


def weight_groups(path):
    """The top-level groups of the archive's `model.weights.h5`: one per layer attribute, `optimizer`, `vars`."""
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
        return set(f.keys())


def weight_count(path):
    """How many arrays the archive's `model.weights.h5` holds."""
    arrays = []
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
        f.visititems(lambda name, item: arrays.append(name) if isinstance(item, h5py.Dataset) else None)
    return len(arrays)


def archive_config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.fixture
def trained(tiny_config, tiny_tokenizer, corpus):
    """A compiled training task with the bag-of-tokens head, and its training batch."""
    config = tiny_config.replace(bow_weight=1.0, bow_idf=True)
    model = AutoencoderTask(config, tiny_tokenizer, metadata={"corpus": "test"})
    model.build()
    ids = model.text_model().texts_to_ids(corpus[:64])
    model.objective("bag_of_tokens").set_idf(ids)
    compile_model(model, config, total_steps=4)
    return model, ids


def test_the_best_checkpoint_has_no_optimizer_state_and_no_training_head(trained, corpus, tmp_path):
    model, ids = trained
    best = str(tmp_path / "model.keras")
    model.fit(ids, ids, sample_weight=(ids != 0).astype("float32"), batch_size=32, epochs=1, verbose=0,
              callbacks=[AtomicBestCheckpoint(best, monitor="loss")])
    state = random.getstate()
    model.text_model()
    assert random.getstate() == state  # writing a checkpoint does not move the run's random streams
    assert "optimizer" not in weight_groups(best) and not archive_config(best).get("compile_config")
    # The backbone's weights and the latent prior's, nothing else: the training-only heads stay in the task.
    assert weight_count(best) == len(model.backbone.weights) + 2 and len(model.backbone.weights) < len(model.weights)
    restored = hypertext.load(best)
    assert restored.metadata == {"corpus": "test", "hypertext_version": hypertext.__version__}
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.text_model().encode(corpus[:20]))


def test_export_writes_the_v5_preset_in_the_new_format_with_the_same_outputs(corpus, tmp_path):
    exported = str(tmp_path / "exported.keras")
    saving.export("wordnet", exported)
    config = archive_config(exported)["config"]
    assert "backbone" in config and "optimizer" not in weight_groups(exported)
    fields = set(config["backbone"]["config"]["config"])
    assert fields == set(ModelConfig.__dataclass_fields__)  # no training or objective field
    original, restored = hypertext.load("wordnet"), hypertext.load(exported)
    assert restored.metadata == original.metadata
    np.testing.assert_array_equal(restored.encode(corpus[:40]), original.encode(corpus[:40]))
    assert restored.reconstruct(corpus[:40]) == original.reconstruct(corpus[:40])


def _edit_config(src, dst, edit):
    """Copies the archive `src` to `dst` with `edit(config)` applied to its config.json."""
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(dst, "w") as out:
        for item in archive.infolist():
            data = archive.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config)
            out.writestr(item, data)


@pytest.mark.parametrize("version, written_by", [("0.3.0", "hypertext 0.3.0"),
                                                 (None, "an unknown version of hypertext")])
def test_unknown_config_fields_name_the_fields_and_the_version(version, written_by, tiny_config, tiny_tokenizer,
                                                                tmp_path):
    path, newer = str(tmp_path / "model.keras"), str(tmp_path / "newer.keras")
    model = TextAutoencoder(tiny_config, tiny_tokenizer, metadata={} if version is None else
                            {"hypertext_version": version})
    model.build()
    model.save(path)
    hypertext.load(path)  # the file as written loads

    def add_fields(config):
        config["config"]["backbone"]["config"]["config"].update(foo=1, bar="x")

    _edit_config(path, newer, add_fields)
    expected = (f"{newer!r} was written by {written_by} and has config fields this version "
                f"({hypertext.__version__}) does not know: bar, foo. Upgrade hypertext to load it.")
    with pytest.raises(hypertext.CheckpointError, match=re.escape(expected)):
        hypertext.load(newer)
    with pytest.raises(hypertext.CheckpointError, match=re.escape(expected)):
        saving.inspect_checkpoint(newer)
