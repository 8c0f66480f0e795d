"""The console scripts of setup.cfg, and `hypertext-encode` end to end on a tiny model."""

import configparser
import importlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import hypertext
from hypertext.cli import encode
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.layers.slow_path import onednn_off_on_tf_cpu
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_console_script_names_a_function():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    scripts = dict(line.split(" = ") for line in parser["options.entry_points"]["console_scripts"].strip().splitlines())
    assert set(scripts) == {"hypertext-train", "hypertext-evaluate", "hypertext-encode", "hypertext-export"}
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_command_line_tools_import_no_tensorflow():
    """They must hide TensorFlow's log lines before it loads, so importing them (and `hypertext`) must not load it."""
    code = ("import sys, hypertext, hypertext.cli.train, hypertext.cli.evaluate, hypertext.cli.encode, "
            "hypertext.cli.export; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]




@pytest.fixture(scope="module")
def texts():
    return list(load_texts("wordnet", "validation")[:1200])


@pytest.fixture(scope="module")
def model_path(texts, tmp_path_factory):
    model = TextAutoencoder(get_config("tiny"), SentencePieceTokenizer.from_texts(texts, vocab_size=512))
    model.build()
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    model.save(path)
    return path


@pytest.mark.filterwarnings("ignore:.*were longer than max_length:UserWarning")
def test_npy_equals_encode_with_a_progress_bar(model_path, texts, tmp_path, capsys):
    texts = texts + ["", "a much longer text than max_length " * 5]  # an empty line is an empty text
    source, out = tmp_path / "texts.txt", str(tmp_path / "vectors")
    source.write_text("\r\n".join(texts) + "\n", encoding="utf-8")
    assert encode.main(["--model", model_path, "--input", str(source), "--output", out, "--batch-size", "64"]) == 0
    vectors = np.load(out)  # the name is used as given: no ".npy" added
    model = hypertext.load(model_path)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), model.config.latent_dim)
    np.testing.assert_array_equal(vectors, model.encode(texts, batch_size=64))
    err = capsys.readouterr().err
    assert f"{len(texts):,}/{len(texts):,} texts" in err  # the progress bar, above 1,000 texts
    assert re.search(r"hypertext-encode: [\d,]+ of 1,202 texts are longer than max_length=32 pieces", err)


def test_jsonl_from_stdin_in_a_subprocess(model_path, tmp_path):
    texts = ["a small domesticated carnivore", "日本語のテキスト", "", "tab\tinside"]
    out = str(tmp_path / "vectors.jsonl")
    # The console script turns TensorFlow's oneDNN on unless told (hypertext.cli.runner.run_tool); to compare bit for
    # bit with this process's encode(), the subprocess gets this process's setting (oneDNN's float sums differ from
    # TensorFlow's own kernels' in the last bits, and CPUs without AVX-512 have it off by default).
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0" if onednn_off_on_tf_cpu() else "1"}
    result = subprocess.run([sys.executable, "-m", "hypertext.cli.encode", "--model", model_path, "--input", "-",
                             "--output", out, "--format", "jsonl"], input="\n".join(texts).encode("utf-8"),
                            capture_output=True, cwd=ROOT, timeout=300, env=env)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr and "encoding [" not in stderr  # no progress bar for 4 texts
    with open(out, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert [row["text"] for row in rows] == texts
    expected = hypertext.load(model_path).encode(texts)
    np.testing.assert_array_equal(np.array([row["vector"] for row in rows], dtype="float32"), expected)


def test_bad_inputs_are_one_line_errors_with_exit_code_2(model_path, tmp_path, capsys):
    out = str(tmp_path / "v.npy")
    cases = [
        (["--model", model_path, "--input", str(tmp_path / "missing.txt")], "No input file '"),
        (["--model", str(tmp_path / "missing.keras"), "--input", os.path.join(ROOT, "setup.cfg")],
         "No checkpoint at '"),
        (["--model", "nonsense", "--input", os.path.join(ROOT, "setup.cfg")], "Unknown preset 'nonsense'"),
    ]
    (tmp_path / "latin1.txt").write_bytes(b"fine\ncaf\xe9\n")
    cases.append((["--model", model_path, "--input", str(tmp_path / "latin1.txt")], "latin1.txt:2: not valid UTF-8"))
    for args, message in cases:
        assert encode.main([*args, "--output", out]) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hypertext-encode: error: ") and message in lines[0], lines
    assert not os.path.exists(out)
