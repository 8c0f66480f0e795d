"""A TFDS builder for the shipped WordNet glosses: `tfds.load("wordnet_glosses", data_dir=...)` works offline.

Importing `hypertext.data` registers it. It reads data/wordnet/glosses.tsv.gz through the download manager's
`extract`, so nothing is fetched from the network.
"""

import csv

import tensorflow_datasets as tfds

from hypertext.data import wordnet


class WordnetGlosses(tfds.core.GeneratorBasedBuilder):
    """WordNet 3.0 glosses: one example per synset definition and per quoted usage example."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "WordNet 3.0 glosses, split 90/5/5 by synset."}

    def _info(self):
        return self.dataset_info_from_configs(
            description="WordNet 3.0 definitions and usage examples, labelled with their lexicographer file.",
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Text(),
                    "synset": tfds.features.Text(),
                    "pos": tfds.features.Text(),
                    "lexname": tfds.features.ClassLabel(names=wordnet.LEXNAMES),
                    "kind": tfds.features.ClassLabel(names=wordnet.KINDS),
                }
            ),
            supervised_keys=("text", "lexname"),
            homepage="https://wordnet.princeton.edu/",
            license="WordNet 3.0 license (see data/wordnet/LICENSE)",
        )

    def _split_generators(self, dl_manager):
        path = dl_manager.extract(wordnet.default_path())
        return {split: self._generate_examples(path, split) for split in wordnet.SPLITS}

    def _generate_examples(self, path, split):
        with path.open("r", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = tuple(next(reader))
            assert header == wordnet.COLUMNS, header
            for number, values in enumerate(reader):
                row = dict(zip(wordnet.COLUMNS, values))
                if row["split"] != split:
                    continue
                yield f"{row['synset']}:{number}", {k: row[k] for k in ("text", "synset", "pos", "lexname", "kind")}
