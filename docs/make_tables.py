"""Renders the tables of the docs and model cards from the benchmark scripts' JSON output, in place: each
`<!-- table: NAME -->` marker is followed by its table, up to `<!-- end table -->`. Run it after a benchmark writes
new JSON:

    python docs/make_tables.py            # rewrite every document in DOCUMENTS
    python docs/make_tables.py --check    # exit 1 if a document differs from its rendering (the test suite's check)
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from tables import (conv_ratio_table, dev_table, evaluation_table, similarity_table, speed_table,  # noqa: E402
                    vectors_table)

PRETRAINED = os.path.join(ROOT, "data", "pretrained")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
# The documents that hold tables, relative to the repository root.
DOCUMENTS = ["docs/benchmarks.md", "docs/vectors-benchmark.md", "docs/layers-2d.md", "data/pretrained/README-english.md",
             "data/pretrained/README.md"]
# (label, evaluate.py --json output in data/pretrained/) of each preset's reconstruction table
EVALUATIONS = {
    "evaluation": [("WordNet test split, first 2,000 (version 6)", "test-wordnet-2000-v6.json"),
                   ("WordNet test split, first 2,000 (version 5)", "test-wordnet-2000.json"),
                   ("WordNet test split, all (version 5)", "test-wordnet.json"),
                   ("GCIDE test split (general English), first 2,000 (version 5)", "test-english-2000.json"),
                   ("Python standard-library docstrings (out of domain; version 5)", "dev-stdlib-docstrings.json")],
    "english_evaluation": [("everyday test split, first 2,000", "english-test-everyday-2000.json"),
                           ("WordNet test split, first 2,000", "english-test-wordnet-2000.json")],
}
# (label, benchmarks/per_sample_conv2d.py --json output in benchmarks/results/) of the 2D speed table
CONV2D_RUNS = [("TF 2.21, `TF_ENABLE_ONEDNN_OPTS` unset (oneDNN on here)", "per_sample_conv2d_tf_cpu_onednn_unset.json"),
               ("TF 2.21, `TF_ENABLE_ONEDNN_OPTS=0`", "per_sample_conv2d_tf_cpu_onednn_off.json"),
               ("JAX 0.10.2", "per_sample_conv2d_jax_cpu.json"),
               ("PyTorch 2.13", "per_sample_conv2d_torch_cpu.json")]


def read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def table(name):
    """The markdown of the table called `name` in a marker."""
    if name == "vectors":
        return vectors_table(read(os.path.join(PRETRAINED, "vectors-test.json"))["rows"])
    if name == "dev":
        return dev_table(read(os.path.join(RESULTS, "vectors-dev.json"))["rows"])
    if name == "dev_validation":
        return read(os.path.join(RESULTS, "vectors-dev.json"))["validation"]["line"]
    if name == "dev_v3":
        return dev_table(read(os.path.join(RESULTS, "vectors-dev-v3.json"))["rows"])
    if name == "vectors_english_v4":
        return vectors_table(read(os.path.join(PRETRAINED, "vectors-test-v4.json"))["rows"])
    if name == "vectors_english_v4_validation":
        return vectors_table(read(os.path.join(RESULTS, "vectors-validation-v4-candidates.json"))["rows"])
    if name == "dev_wordnet_v7":
        return dev_table(read(os.path.join(RESULTS, "vectors-dev-wordnet-v7.json"))["rows"])
    if name == "dev_wordnet_v7_validation":
        return read(os.path.join(RESULTS, "vectors-dev-wordnet-v7.json"))["validation"]["line"]
    if name == "vectors_wordnet_v7":
        return vectors_table(read(os.path.join(PRETRAINED, "vectors-test-wordnet-v7.json"))["rows"])
    if name == "vectors_english_v3":
        return vectors_table(read(os.path.join(PRETRAINED, "vectors-test-v3.json"))["rows"])
    if name == "encode_speed":
        return speed_table(read(os.path.join(RESULTS, "encode_speed.json"))["rows"])
    if name == "similarity":
        return similarity_table(read(os.path.join(RESULTS, "vectors-similarity.json"))["rows"])
    if name == "conv2d":
        return conv_ratio_table([(label, read(os.path.join(RESULTS, file))) for label, file in CONV2D_RUNS])
    if name in EVALUATIONS:
        return evaluation_table([(label, read(os.path.join(PRETRAINED, file))) for label, file in EVALUATIONS[name]])
    raise ValueError(f"Unknown table in a `<!-- table: NAME -->` marker. Received: NAME={name!r}")


def render(text, make=table):
    """`text` with the table after every marker (re)made by `make(name)`."""
    def fill(match):
        return f"<!-- table: {match.group(1)} -->\n\n{make(match.group(1))}\n\n<!-- end table -->"

    return re.sub(r"<!-- table: (\w+) -->(?:\n.*?<!-- end table -->)?", fill, text, flags=re.S)


def main(argv=None):
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for document in DOCUMENTS:
        path = os.path.join(ROOT, document)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rendered = render(text)
        if rendered != text:
            stale.append(document)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(rendered)
    if check and stale:
        print(f"Tables out of date with their JSON (run python docs/make_tables.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
