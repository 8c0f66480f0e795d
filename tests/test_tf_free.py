"""Without TensorFlow: a subprocess where `import tensorflow` (and tensorflow_datasets) fails, on JAX (or PyTorch),
runs `train.py`'s main on a local file, streamed (a new tokenizer, the tiny model, its checkpoint and metrics). CI
runs it in a virtual environment that has no TensorFlow at all (.ci/tf_free), beside the layer and model tests and
tests/test_pretrained.py, which load the shipped preset there and encode and reconstruct with it."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from hypertext.data import load_texts
from tests.conftest import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.backends("jax")  # CI runs it on JAX (it passes on PyTorch too)

# Make TensorFlow unimportable before anything else runs: `import tensorflow` raises ImportError, and
# importlib.util.find_spec returns None, as when it is not installed.
NO_TENSORFLOW = "import sys\nfor name in ('tensorflow', 'tensorflow_datasets'):\n    sys.modules[name] = None\n"


def run_without_tensorflow(code, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(NO_TENSORFLOW + textwrap.dedent(code))
    env = {**os.environ, "KERAS_BACKEND": backend(), "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_training_without_tensorflow(tmp_path):
    corpus = tmp_path / "corpus.txt"
    # Short texts, so that the few batch shapes compile quickly on JAX.
    corpus.write_text("\n".join(t for t in load_texts("wordnet", "train", kinds=("definition",))[:20000]
                                if len(t) < 30)[:200_000] + "\n", encoding="utf-8")
    out = tmp_path / "run"
    stdout = run_without_tensorflow(f"""
        import sys

        from hypertext.data import corpus_data as inputs

        inputs.IN_MEMORY_TEXTS = 100  # stream this small file, as a large one would be
        from hypertext.cli.train import main
        code = main(["--corpus", {str(corpus)!r}, "--output", {str(out)!r}, "--config", "tiny",
                     "--steps-per-epoch", "4", "--epochs", "2", "--eval-limit", "20", "--verbose", "2"])
        assert code == 0, code
        print("TENSORFLOW_LOADED", any(m.startswith("tensorflow") for m, v in sys.modules.items() if v is not None))
    """, tmp_path)
    assert "TENSORFLOW_LOADED False" in stdout
    assert "streamed; tokenizer and IDF from a sample of" in stdout
    assert "TensorBoard logs: skipped" in stdout
    assert os.path.isfile(out / "model.keras") and not os.path.exists(out / "logs")
    assert json.loads((out / "config.json").read_text())["backend"] == backend()
    with open(out / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 3  # a header and 2 epochs
    assert json.loads((out / "metrics.json").read_text())["num_examples"] == 20
