import os

import tensorflow_datasets as tfds

from hypertext.data import WordnetGlosses

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata", "wordnet_glosses")


class WordnetGlossesTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's own builder test: generates every split from the dummy file and checks the counts and features."""

    DATASET_CLASS = WordnetGlosses
    EXAMPLE_DIR = EXAMPLES
    DL_EXTRACT_ONLY_RESULT = "glosses.tsv"
    SPLITS = {"train": 4, "validation": 2, "test": 2}
    SKIP_CHECKSUMS = True


def test_tfds_load_by_name_works_offline(tmp_path, monkeypatch):
    import gzip
    import shutil

    # A small copy of the corpus in the layout the builder reads, so preparing takes a second.
    data = tmp_path / "data" / "wordnet"
    data.mkdir(parents=True)
    with open(os.path.join(EXAMPLES, "glosses.tsv"), "rb") as src, gzip.open(data / "glosses.tsv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    monkeypatch.setenv("HYPERTEXT_DATA", str(tmp_path / "data"))
    dataset = tfds.load("wordnet_glosses", split="validation", data_dir=str(tmp_path / "tfds"))
    examples = list(dataset.as_numpy_iterator())
    assert len(examples) == 2
    assert examples[0]["text"] and 0 <= examples[0]["lexname"] < 45
