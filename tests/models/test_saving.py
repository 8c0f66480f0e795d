"""What a checkpoint file holds: the run's `model.keras` has no optimizer state, `export` drops the training-only
bag-of-tokens head, and a file with config fields this version does not know says which and who wrote it."""

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
from hypertext.models import TextAutoencoder
from hypertext.training import AtomicBestCheckpoint, compile_model
from tests.conftest import backend

pytestmark = [pytest.mark.skipif(backend() != "tensorflow", reason="file checks run once, on TF"),
              pytest.mark.filterwarnings("ignore:.*were longer than max_length:UserWarning")]


def weight_groups(path):
    """The top-level groups of the archive's `model.weights.h5`: one per layer attribute, `optimizer`, `vars`."""
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
        return set(f.keys())


def archive_config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.fixture
def trained(tiny_config, tiny_tokenizer, corpus):
    """A compiled model with the bag-of-tokens head, after one epoch of fit(), and its training batch."""
    config = tiny_config.replace(bow_weight=1.0, bow_idf=True)
    model = TextAutoencoder(config, tiny_tokenizer, metadata={"corpus": "test"})
    model.build()
    ids = model.texts_to_ids(corpus[:64])
    model.set_bag_of_tokens_idf(ids)
    compile_model(model, config, total_steps=4)
    return model, ids


def test_the_best_checkpoint_has_no_optimizer_state(trained, corpus, tmp_path):
    model, ids = trained
    best, full = str(tmp_path / "model.keras"), str(tmp_path / "full.keras")
    model.fit(ids, ids, sample_weight=(ids != 0).astype("float32"), batch_size=32, epochs=1, verbose=0,
              callbacks=[AtomicBestCheckpoint(best, monitor="loss")])
    state = random.getstate()
    saving.lean_copy(model)
    assert random.getstate() == state  # writing a checkpoint does not move the run's random streams
    model.save(full)  # what the callback wrote before: the compiled model, Adam moments included
    assert "optimizer" in weight_groups(full) and archive_config(full)["compile_config"]
    assert "optimizer" not in weight_groups(best) and not archive_config(best).get("compile_config")
    assert "bow_head" in weight_groups(best)  # the run's checkpoint keeps the training-only head; export drops it
    restored = hypertext.load(best)
    assert restored.metadata == {"corpus": "test", "hypertext_version": hypertext.__version__}
    np.testing.assert_array_equal(restored.encode(corpus[:20]), model.encode(corpus[:20]))
    np.testing.assert_array_equal(restored.bow_token_weights.numpy(), model.bow_token_weights.numpy())


def test_export_drops_the_training_only_head_and_keeps_the_outputs(trained, corpus, tmp_path):
    model, ids = trained
    model.fit(ids, ids, sample_weight=(ids != 0).astype("float32"), batch_size=32, epochs=1, verbose=0)
    checkpoint, exported = str(tmp_path / "trained.keras"), str(tmp_path / "exported.keras")
    model.save(checkpoint)
    saving.export(checkpoint, exported)
    assert not weight_groups(exported) & {"bow_head", "optimizer"}
    restored = hypertext.load(exported)
    assert restored.bow_head is None and restored.bow_token_weights is None
    assert restored.config == model.config.replace(bow_weight=0.0)
    assert restored.count_params() == model.count_params() - model.bow_head.count_params() - model.config.vocab_size
    assert restored.metadata["hypertext_version"] == hypertext.__version__
    np.testing.assert_array_equal(restored.encode(corpus[:40]), model.encode(corpus[:40]))
    assert restored.reconstruct(corpus[:40]) == model.reconstruct(corpus[:40])


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
        config["config"]["config"].update(foo=1, bar="x")

    _edit_config(path, newer, add_fields)
    expected = (f"{newer!r} was written by {written_by} and has config fields this version "
                f"({hypertext.__version__}) does not know: bar, foo. Upgrade hypertext to load it.")
    with pytest.raises(hypertext.CheckpointError, match=re.escape(expected)):
        hypertext.load(newer)
    with pytest.raises(hypertext.CheckpointError, match=re.escape(expected)):
        saving.inspect_checkpoint(newer)
