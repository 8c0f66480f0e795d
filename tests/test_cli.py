"""train.py and evaluate.py as a user runs them, on a tiny corpus and the tiny config: in-process (each script's own
`main(argv)`, its stdout and stderr captured), and one real subprocess for what only a fresh process shows (the
console script's log filter and oneDNN switch, which act before TensorFlow is imported)."""

import contextlib
import csv
import dataclasses
import importlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import h5py
import pytest

from hypertext.backend_utils import device_description
from hypertext.cli.runner import keep_line
from hypertext.data import load_texts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(script, *args):
    """`python script args` in-process: the script's `main(argv)` with stdout and stderr captured (argparse's exit
    becomes the return code), as `subprocess.run(..., capture_output=True, text=True)` would give it."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    main = importlib.import_module(os.path.splitext(os.path.basename(script))[0]).main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(script, *args, env=None):
    """`python script args` as a real subprocess."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"} if env is None else env
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(load_texts("wordnet", "validation")[:600]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run") / "run")
    result = run("train.py", "--corpus", corpus, "--output", out, "--config", "tiny", "--epochs", "2",
                 "--verbose", "2", "--set", "latent_dim=24")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_train_writes_every_artifact(trained):
    out, result = trained
    for name in ("model.keras", "history.csv", "curves.png", "config.json", "tokenizer.model", "metrics.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert os.path.isdir(os.path.join(out, "backup")) and os.listdir(os.path.join(out, "logs"))
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["latent_dim"] == 24 and config["epochs"] == 2 and config["corpus"].endswith("corpus.txt")
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(metrics) >= {"num_examples", "token_accuracy", "exact_match", "bleu", "chrf", "seconds"}
    # In-process, oneDNN is as this test process's TensorFlow has it (the console script's switch is tested below).
    backend_line = next(line for line in result.stdout.splitlines() if line.startswith("backend: "))
    assert backend_line == f"backend: {device_description()}", backend_line
    assert re.fullmatch(rf"backend: tensorflow \S+ on CPU \({os.cpu_count()} cores\), oneDNN (on|off)", backend_line)
    with open(os.path.join(out, "history.csv")) as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    # The optimizer state is in the backup, for --resume, and not in model.keras.
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            names = []
            weights.visit(names.append)
            assert "optimizer" not in weights and any(name.endswith("/embedding") for name in names), names[:20]
    with h5py.File(os.path.join(out, "backup", "epoch-00002", "state.weights.h5"), "r") as weights:
        assert "optimizer" in weights


def test_evaluate_json_and_examples(trained, corpus, tmp_path):
    out, _ = trained
    json_path = str(tmp_path / "out.json")
    result = run("evaluate.py", "--checkpoint", os.path.join(out, "model.keras"), "--limit", "20",
                 "--examples", "2", "--json", json_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics == json.load(open(json_path))
    assert 0 < metrics["num_examples"] <= 20 and metrics["corpus"] == corpus
    for key in ("token_accuracy", "exact_match"):
        assert 0.0 <= metrics[key] <= 1.0
    for key in ("bleu", "chrf"):
        assert 0.0 <= metrics[key] <= 100.0
    assert result.stdout.count("\n-> ") == 2
    # --split all: every line of a held-out file, whatever split its hash gives it.
    result = run("evaluate.py", "--checkpoint", os.path.join(out, "model.keras"), "--split", "all")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["num_examples"] == 600


def test_evaluate_latent_reports_the_latent_space(trained, tmp_path):
    out, _ = trained
    json_path = str(tmp_path / "out.json")
    result = run("evaluate.py", "--checkpoint", os.path.join(out, "model.keras"), "--limit", "30", "--latent",
                 "--json", json_path)
    assert result.returncode == 0, result.stderr[-3000:]
    latent = json.load(open(json_path))["latent"]
    assert set(latent) == {"noise_bleu", "midpoint_word_validity", "sample_word_validity", "sample_novelty",
                           "samples_of_two_words_or_more", "examples", "training_corpus"}
    assert latent["training_corpus"] == json.load(open(os.path.join(out, "config.json")))["corpus"]
    assert set(latent["noise_bleu"]) == {"0.0", "0.1", "0.3", "0.5"}
    assert latent["sample_word_validity"] == 1.0  # the samples are decoded with the training corpus's lexicon
    assert len(latent["examples"]["samples"]) == 5 and 1 <= len(latent["examples"]["midpoints"]) <= 5


def test_resume_continues_from_the_saved_epoch(trained):
    out, _ = trained
    result = run("train.py", "--corpus", "unused-when-resuming.txt", "--output", out, "--resume")
    assert result.returncode == 2 and "Corpus file not found" in result.stderr  # the corpus is still read
    config = json.load(open(os.path.join(out, "config.json")))
    result = run("train.py", "--corpus", config["corpus"], "--output", out, "--config", "tiny", "--epochs", "3",
                 "--verbose", "2", "--set", "latent_dim=24", "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch 3/3" in result.stdout and "Epoch 1/3" not in result.stdout
    with open(os.path.join(out, "history.csv")) as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2"]


def test_refuses_to_overwrite_a_run(trained, corpus):
    out, _ = trained
    result = run("train.py", "--corpus", corpus, "--output", out, "--config", "tiny")
    assert result.returncode == 2
    assert "already holds a training run. Pass --resume" in result.stderr


def test_evaluate_on_checkpoint_without_tokenizer(trained, tmp_path):
    out, _ = trained
    stripped = str(tmp_path / "no_tokenizer.keras")
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as src, zipfile.ZipFile(stripped, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("sentencepiece.model"):
                dst.writestr(item, src.read(item.filename))
    result = run("evaluate.py", "--checkpoint", stripped)
    assert result.returncode == 2
    assert "has no tokenizer asset" in result.stderr and "Traceback" not in result.stderr


def test_bad_flags_are_one_line_errors(corpus, tmp_path):
    result = run("train.py", "--corpus", corpus, "--output", str(tmp_path / "x"), "--set", "nonsense=1")
    assert result.returncode == 2 and "`--set` takes FIELD=VALUE" in result.stderr
    result = run("evaluate.py", "--checkpoint", str(tmp_path / "missing.keras"))
    assert result.returncode == 2 and "No checkpoint at" in result.stderr


def test_tensorflow_log_lines_are_hidden_by_default():
    """The one real subprocess: the log filter acts while TensorFlow is first imported."""
    # The user's environment decides nothing here: TF_CPP_MIN_LOG_LEVEL unset, as on a fresh machine.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    checkpoint = os.path.join(ROOT, "data", "pretrained", "hypertext-wordnet.keras")
    result = run_subprocess("evaluate.py", "--checkpoint", checkpoint, "--limit", "20", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["num_examples"] == 20
    noise = [line for line in result.stderr.splitlines() if re.match(r"^[IWE]\d{4} ", line)
             or any(word in line for word in ("cuInit", "oneDNN", "absl::InitializeLog"))]
    assert noise == [], result.stderr[-3000:]


@pytest.mark.parametrize("tool", ["train", "evaluate", "encode", "export"])
@pytest.mark.parametrize("user, expected", [(None, "1"), ("0", "0"), ("1", "1")])
def test_every_console_script_turns_onednn_on_unless_the_user_chose(tool, user, expected, monkeypatch):
    """Each console script sets TF_ENABLE_ONEDNN_OPTS before its `main` (which imports TensorFlow) runs, and keeps
    the user's value."""
    import types

    module = importlib.import_module(f"hypertext.cli.{tool}")
    if user is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", user)
    seen = {}

    def fake_main(argv, prog):
        seen["value"], seen["argv"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS"), argv
        return 0

    monkeypatch.setattr(module, "parse_args", lambda argv, prog: types.SimpleNamespace(tf_logs=True))
    monkeypatch.setattr(module, "main", fake_main)
    assert module.run(["--output", "x"]) == 0
    assert seen == {"value": expected, "argv": ["--output", "x"]}


def test_import_time_log_filter_follows_the_level():
    info = "I0000 00:00:1795642031.531984    3608 port.cc:153] oneDNN custom operations are on.\n"
    error = "E0000 00:00:1795642049.597415    3669 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
    preamble = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    other = "/site-packages/x.py:3: UserWarning: something the user should see\n"
    assert [keep_line(line, 3) for line in (info, error, preamble, other)] == [False, False, False, True]
    assert [keep_line(line, 1) for line in (info, error, preamble, other)] == [False, True, False, True]
    assert [keep_line(line, 0) for line in (info, error, preamble, other)] == [True, True, True, True]
