"""Faults a long training run meets: kills, failed writes, diverging losses, full disks and junk text.

Every test runs the real `train.py` / `evaluate.py` (as subprocesses where a process must die) on the tiny config.
"""

import errno
import hashlib
import json
import math
import os
import re
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings

import keras
import numpy as np
import pytest

import hypertext
from hypertext import training
from hypertext.training import fs
from hypertext.data import wordnet
from hypertext.lengths import group_by_length
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID
from tests.conftest import history_epochs, write_corpus_file
from tests.test_cli import ROOT, run


TINY = ["--config", "tiny", "--set", "latent_dim=24", "--verbose", "0", "--eval-limit", "40"]
THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus_file(tmp_path_factory, 600)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def backups(out):
    return sorted(os.listdir(os.path.join(out, "backup")))


# ---- 1. kill and resume ----------------------------------------------------------------------------------------------
@pytest.mark.thorough  # kill -9 of real runs, then --resume: ~45 s each on a 2-core CPU
def test_sigkill_in_a_later_epoch_then_resume(corpus, tmp_path):
    out, epochs, steps = str(tmp_path / "run"), 6, 60
    args = ["--corpus", corpus, "--output", out, *TINY, "--epochs", str(epochs), "--steps-per-epoch", str(steps)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    second = os.path.join(out, "backup", "epoch-00002")
    first = os.path.join(out, "backup", "epoch-00001")
    deadline = time.time() + 300
    while not os.path.isdir(first):
        assert process.poll() is None and time.time() < deadline, process.stderr.read()[-2000:]
        time.sleep(0.01)
    started = time.time()
    while not os.path.isdir(second):
        assert process.poll() is None and time.time() < deadline, process.stderr.read()[-2000:]
        time.sleep(0.01)
    time.sleep((time.time() - started) / 2)  # about half-way through the third epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    done = int(backups(out)[-1].split("-")[1])
    assert 2 <= done < epochs  # killed in epoch 3 or later, before the end
    assert history_epochs(out) == list(range(done))

    result = run("train.py", "--output", out, "--resume", "--verbose", "2", "--eval-limit", "40")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"run folder: taking {out!r} over from process {process.pid} on {socket.gethostname()}, started "
            in result.stdout.splitlines()[0])
    # The epoch counter and the optimizer state come back from the backup, not from scratch.
    assert (f"restored the backup after epoch {done} (optimizer step {done * steps:,}); continuing with epoch "
            f"{done + 1} of {epochs}") in result.stdout
    assert f"Epoch {done + 1}/{epochs}" in result.stdout and "Epoch 1/" not in result.stdout
    assert history_epochs(out) == list(range(epochs))
    assert backups(out) == [f"epoch-{epochs - 1:05d}", f"epoch-{epochs:05d}"]  # the last two are kept
    model = hypertext.load(os.path.join(out, "model.keras"))
    assert model.encode(["a small cat"]).shape == (1, 24)


def test_a_kill_during_the_checkpoint_write_keeps_the_previous_file(tmp_path):
    path = str(tmp_path / "model.keras")
    script = textwrap.dedent(f"""
        import os, signal, keras
        from hypertext import configs, training
        from hypertext.models import TextAutoencoder
        from hypertext.tokenizers import SentencePieceTokenizer
        from hypertext.data import load_texts
        texts = load_texts("wordnet", "validation")[:300]
        tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=512)
        model = TextAutoencoder(configs.get_config("tiny"), tokenizer)
        model.build()
        training.save_model_atomically(model, {path!r})
        print("saved", flush=True)

        def dying_save(self, filepath, *args, **kwargs):  # the disk gets half an archive, then the process dies
            with open(filepath, "wb") as f:
                f.write(b"PK\\x03\\x04" + b"half an archive" * 100)
            os.kill(os.getpid(), signal.SIGKILL)

        keras.Model.save = dying_save
        for v in model.weights:
            v.assign(v * 0 + 1)
        training.save_model_atomically(model, {path!r})
        print("not reached", flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == -signal.SIGKILL and result.stdout == "saved\n", result.stderr[-2000:]
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the half-written temporary file; model.keras itself was never touched
    model = hypertext.load(path)
    assert not np.all(keras.ops.convert_to_numpy(model.backbone.embedding.embeddings) == 1)
    training.remove_stale_temporary_files(str(tmp_path))  # what train.py does on start
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_failed_checkpoint_write_is_a_clear_error_and_keeps_the_file(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = str(tmp_path / "model.keras")
    training.save_model_atomically(model, path)
    before = sha256(path)

    def full_disk(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(model, "save", full_disk)
    with pytest.raises(training.TrainingError, match="No space left on device. The previous checkpoint there is "
                                                     "intact"):
        training.save_model_atomically(model, path)
    assert sha256(path) == before and os.listdir(tmp_path) == ["model.keras"]


@pytest.fixture(scope="module")
def checkpoint(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ckpt") / "run")
    result = run("train.py", "--corpus", corpus, "--output", out, *TINY, "--epochs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return os.path.join(out, "model.keras")


def _train_in_process(*args):
    sys.path.insert(0, ROOT)
    import train  # the script's own main(), in-process: no TF start-up

    return train.main(list(args))


def _wait_for(path, process, timeout=300):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None and time.time() < deadline, process.stderr.read()[-2000:]
        time.sleep(0.05)


def _within(seconds, what, fn, *args):
    """`fn(*args)`, failing the test when it has not returned after `seconds` (the project has no pytest-timeout),
    by SIGALRM: pytest and its xdist workers run tests in the main thread. The handler's `pytest.fail` is not an
    `Exception`, so it ends a blocking system call and gets through the scripts' `except` clauses."""
    def expired(signum, frame):
        pytest.fail(f"{what} had not returned after {seconds} s", pytrace=False)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        return fn(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_second_writer_is_refused_and_a_torn_backup_is_skipped(corpus, tmp_path, capsys):
    """The two-writer race, then a torn newest backup (its largest file cut to half) and no verified backup left."""
    out, epochs = str(tmp_path / "run"), 4
    first = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), "--corpus", corpus, "--output", out, *TINY, "--epochs",
         str(epochs), "--steps-per-epoch", "40"], cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(os.path.join(out, "config.json"), first)
    # The first writer is stopped (SIGSTOP) while the second one tries: it holds the run folder and cannot finish in
    # the meantime on however fast a machine, and a second writer that waited for the folder instead of being refused
    # would wait forever: `_within` fails the test after 60 s instead (and the first writer is killed).
    first.send_signal(signal.SIGSTOP)
    try:
        started = time.time()
        second = _within(60, "the second writer (waiting for the run folder instead of being refused?)", run,
                         "train.py", "--output", out, "--resume", "--verbose", "0")
        refused_after = time.time() - started
        assert first.poll() is None
    except BaseException:
        first.kill()
        first.wait()
        raise
    finally:
        first.send_signal(signal.SIGCONT)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr[-2000:]
    assert re.fullmatch(re.escape(f"train.py: error: {out!r} is in use by another training run: process {first.pid} "
                                  f"on {socket.gethostname()}, started ") + r"[-0-9]+ [0-9:]+ UTC\. " + re.escape(
        f"Wait for it to finish, or stop it (kill {first.pid}) and continue the run with --resume."), lines[0])
    with capsys.disabled():
        print(f"\nsecond writer refused in {refused_after:.1f}s: {lines[0]}")
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    assert history_epochs(out) == list(range(epochs)) and not os.path.exists(os.path.join(out, "run.lock"))

    # The newest backup's largest file cut to half: --resume goes on from the one before.
    newest = os.path.join(out, "backup", backups(out)[-1])
    largest = max((os.path.join(newest, name) for name in os.listdir(newest)), key=os.path.getsize)
    os.truncate(largest, os.path.getsize(largest) // 2)
    capsys.readouterr()
    assert _train_in_process("--output", out, "--resume", "--epochs", str(epochs + 3), "--verbose", "0",
                             "--eval-limit", "40") == 0
    stdout = capsys.readouterr().out
    skipped = next(line for line in stdout.splitlines() if line.startswith("resume: skipped"))
    assert skipped.startswith(f"resume: skipped the damaged backup epoch-{epochs:05d}: {os.path.basename(largest)} "
                              "has ") and skipped.endswith(f"Using epoch-{epochs - 1:05d}, the newest verified one")
    assert f"restored the backup after epoch {epochs - 1} " in stdout
    with capsys.disabled():
        print(skipped)
    assert history_epochs(out) == list(range(epochs + 3))

    # No verified backup left: one line, exit 3.
    for name in backups(out):
        os.truncate(os.path.join(out, "backup", name, "state.json"), 0)
    assert _train_in_process("--output", out, "--resume", "--epochs", str(epochs + 4), "--verbose", "0") == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: training stopped: --resume: no verified backup is left")
    with capsys.disabled():
        print(lines[0])


def test_a_crash_at_a_file_step_of_a_real_run_then_resume(corpus, tmp_path, capsys):
    """`os._exit` in the middle of the second epoch's backup (hypertext/training/fs.py; every step of the writes
    is crashed in-process by tests/training/test_run_folder.py)."""
    out, log = str(tmp_path / "run"), str(tmp_path / "steps.log")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", fs.CRASH_ENV: "44", fs.LOG_ENV: log}
    crashed = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--corpus", corpus, "--output", out,
                              *TINY, "--epochs", "3", "--steps-per-epoch", "3"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert crashed.returncode == fs.CRASH_EXIT_CODE, crashed.stderr[-2000:]
    with open(log) as f:
        step, kind, path = f.read().splitlines()[-1].split(" ", 2)
    assert f"crash injected at step 44: {kind} {path}" in crashed.stderr and step == "44"
    with capsys.disabled():
        print(f"\ncrashed at step 44: {kind} {os.path.relpath(path, out)}")
    assert _train_in_process("--output", out, "--resume", "--verbose", "0", "--eval-limit", "40") == 0
    assert history_epochs(out) == [0, 1, 2]


@pytest.mark.thorough  # kill -9 of real runs, then --resume: ~45 s each on a 2-core CPU
def test_sigkills_at_random_moments_each_resumed(corpus, tmp_path):
    """12 kills in the thorough mode (HYPERTEXT_THOROUGH=1), 2 when `-m thorough` picks it alone. Each comes at a
    random moment of the first 10 s after the process has written its settings (config.json, just before training
    starts): training or writing."""
    out, epochs, rng = str(tmp_path / "run"), 8 if THOROUGH else 3, random.Random(12)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--output", out, "--verbose", "0", "--eval-limit", "40"]
    start = [*command, "--corpus", corpus, *TINY[:4], "--epochs", str(epochs), "--steps-per-epoch", "20"]
    kills, settings = 0, os.path.join(out, "config.json")
    while kills < (12 if THOROUGH else 2):
        begun = time.time()
        process = subprocess.Popen([*command, "--resume"] if kills else start, cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while process.poll() is None and not (os.path.exists(settings) and os.path.getmtime(settings) >= begun):
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 10))
        if process.poll() is not None:  # it finished (or failed) first
            assert process.returncode == 0, process.stderr.read()[-2000:]
            break
        process.kill()
        process.wait()
        kills += 1
        if os.path.exists(os.path.join(out, "history.csv")):
            done = history_epochs(out)
            assert done == list(range(len(done)))
    result = run(*command[1:], "--resume")
    assert result.returncode == 0, result.stderr[-2000:]
    assert history_epochs(out) == list(range(epochs)) and kills >= 1
    print(f"\nkills survived: {kills}")


# ---- 2. numerical faults -------------------------------------------------------------------------------------------
def test_a_diverging_loss_names_epoch_and_step_and_keeps_the_last_good_checkpoint(checkpoint):
    out = os.path.dirname(checkpoint)  # a finished 1-epoch run
    before = sha256(checkpoint)
    # Resume for a second epoch with an absurd learning rate: the loss overflows within a few steps.
    result = run("train.py", "--output", out, "--resume", "--epochs", "2", "--learning-rate", "1e30", "--verbose", "0")
    assert result.returncode == 3, result.stderr[-3000:]
    message = result.stderr.strip().splitlines()[-1]
    assert re.match(r"train.py: training stopped: The training loss became (nan|inf) at epoch 2, step \d+\. ", message)
    assert "is kept. Try a lower --learning-rate" in message and "Traceback" not in result.stderr
    assert sha256(checkpoint) == before
    assert backups(out) == ["epoch-00001"] and history_epochs(out) == [0]
    hypertext.load(checkpoint)


def test_a_diverging_first_epoch_says_there_is_no_checkpoint(corpus, tmp_path):
    out = str(tmp_path / "run")
    result = run("train.py", "--corpus", corpus, "--output", out, *TINY, "--learning-rate", "1e30")
    assert result.returncode == 3
    assert "at epoch 1, step " in result.stderr and "No epoch finished, so there is no checkpoint" in result.stderr


# ---- 3. disk full / unwritable output ----------------------------------------------------------------------------
def test_output_folder_checked_before_training(tmp_path, monkeypatch, corpus):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run("train.py", "--corpus", corpus, "--output", str(blocker / "run"), *TINY)
    assert result.returncode == 2 and "Cannot write to the output folder" in result.stderr
    assert "Not a directory" in result.stderr and "Epoch" not in result.stdout

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(training.OutputDirError, match="Cannot write to the output folder .*: No space left on device"):
        training.prepare_output_dir(str(tmp_path / "full"), resume=False)


# ---- 4. bad text -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, match", [
    (b"", "has no training texts: it is empty, or every line is blank"),
    (b"\n   \n\t\n" * 50, "has no training texts: it is empty, or every line is blank"),
    (b"fine line\n" * 30 + b"caf\xe9 au lait\n", r"corpus.txt:31: not valid UTF-8 .*--encoding-errors"),
])
def test_unusable_corpora_are_one_line_errors(content, match, tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    sys.path.insert(0, ROOT)
    import train  # the script's own main(), in-process: it stops before any training

    assert train.main(["--corpus", str(path), "--output", str(tmp_path / "run"), *TINY]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(match, lines[0]), lines


JUNK = [
    "nul\x00byte and bell\x07 and escape\x1b[31m inside",
    "tab\tseparated\vvertical\x0cfeed",
    "Latin, 日本語のテキスト, العربية, emoji 😀🎉, Ελληνικά",
    "zero\u200bwidth and right-to-left \u202e marks",
]


def _line_in_split(stem, split):
    """A text built from `stem` that the hash holdout puts in `split`."""
    return next(t for t in (f"{stem} {i}" for i in range(1000)) if wordnet.split_of(t) == split)


def test_junk_corpus_trains_and_junk_text_encodes(corpus, tmp_path):
    huge = _line_in_split("x" * 1_000_000, "train")
    path = tmp_path / "junk.txt"
    with open(corpus, "rb") as f:
        clean = f.read()
    path.write_bytes(clean + "\n".join(JUNK * 3).encode() + b"\n" + huge.encode() + b"\n\xff\xfe bad bytes\n\n")
    out = str(tmp_path / "run")
    result = run("train.py", "--corpus", str(path), "--output", out, *TINY, "--encoding-errors", "replace")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 undecodable lines" in result.stdout and "1 empty lines" in result.stdout
    assert "texts are longer than max_length=32 pieces and were truncated" in result.stdout

    model = hypertext.load(os.path.join(out, "model.keras"))
    texts = [*JUNK, huge, "", " ", "\ufffd"]
    with pytest.warns(UserWarning, match=r"\d of 8 texts were longer than max_length=32 tokens"):
        z = model.encode(texts)
    assert z.shape == (len(texts), 24) and np.isfinite(z).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = model.reconstruct(texts)  # the 1 MB line window by window: no warning, nothing cut
    assert [str(w.message) for w in caught if "longer than" in str(w.message)] == []
    assert len(restored) == len(texts) and all(isinstance(t, str) for t in restored)
    # Each text gives what it gives alone (the batch, with a 1 MB neighbour, changes nothing).
    assert [model.reconstruct([t])[0] for i, t in enumerate(texts) if t is not huge] == [
        r for t, r in zip(texts, restored) if t is not huge]
    assert model.encode([]).shape == (0, 24) and model.reconstruct([]) == []
    # Byte fallback: whatever the model writes back, the tokenizer round-trips the junk itself exactly.
    ids = model.tokenizer.encode(JUNK[2:3])
    assert model.tokenizer.decode(ids) == [JUNK[2]]

    # Vectors, whatever the tiny model learnt: each text's row of the batch is its vector alone, in input order (the
    # texts span three length buckets, so results given back bucket by bucket would be out of order) ...
    pieces = model.preprocessor.tokenize(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 1 MB line's truncation warning, checked above
        alone = np.concatenate([model.encode([t]) for t in texts])
    np.testing.assert_allclose(z, alone, rtol=0, atol=1e-5, err_msg="encode(batch) != encode of each text alone")
    # ... and texts with different ids have different vectors (so the comparison above can see a reordering).
    for i, j in ((i, j) for i in range(len(texts)) for j in range(i) if pieces[i] != pieces[j]):
        assert np.abs(z[i] - z[j]).max() > 1e-4, (texts[i][:40], texts[j][:40])

    # The 1 MB line is reconstructed window by window, all of it. With eos made impossible to write, every window
    # writes its whole bucket (whatever the training gave), so the output's length counts the windows that were run.
    long, window = pieces[4], model.preprocessor.check_window(None)
    windows, owner = model.preprocessor.windows([long])
    assert len(windows) == math.ceil(len(long) / window) and owner == [0] * len(windows)
    assert [p for w in windows for p in w[:-1]] == list(long)  # consecutive, nothing left out
    bias = model.backbone.output_bias  # the tiny config ties the embeddings: the logits' bias
    never_eos = keras.ops.convert_to_numpy(bias).copy()
    never_eos[EOS_ID] = -1e9
    bias.assign(never_eos)
    written = model.reconstruct_pieces([long], batch_size=4096)[0]
    padded = group_by_length([len(w) for w in windows], 4096, model.length_multiple, model.config.max_length)
    assert len(written) == sum(length * len(indices) for indices, length in padded), (
        f"the 1 MB line ({len(long):,} pieces, {len(windows):,} windows) came back as {len(written):,} pieces")
    # The windows' outputs are joined in order: a text of 5 windows gives what its windows give one by one.
    short = long[:4 * window + 7]
    parts = [w[:-1] for w in model.preprocessor.windows([short])[0]]
    assert len(parts) == 5 and model.reconstruct_pieces([short])[0] == [
        p for part in model.reconstruct_pieces(parts) for p in part]


# ---- 5. corrupt and foreign checkpoints through evaluate.py -----------------------------------------------------------
def _bad_checkpoints(checkpoint, folder):
    with open(checkpoint, "rb") as f:
        data = f.read()
    cases = {"missing": (os.path.join(folder, "missing.keras"), "No checkpoint at")}
    empty = os.path.join(folder, "empty.keras")
    open(empty, "wb").close()
    cases["empty"] = (empty, "is empty (0 bytes)")
    for fraction in (0.1, 0.5, 0.9, 0.999):
        cut = os.path.join(folder, f"cut-{fraction}.keras")
        with open(cut, "wb") as f:
            f.write(data[: int(len(data) * fraction)])
        cases[f"truncated at {fraction:.1%}"] = (cut, "truncated")
    foreign = os.path.join(folder, "foreign.keras")
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(foreign)
    cases["another model"] = (foreign, "not a hypertext TextAutoencoder")
    import zipfile

    stripped = os.path.join(folder, "no-tokenizer.keras")
    with zipfile.ZipFile(checkpoint) as src, zipfile.ZipFile(stripped, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("sentencepiece.model"):
                dst.writestr(item, src.read(item.filename))
    cases["tokenizer asset missing"] = (stripped, "has no tokenizer asset")
    return cases


def test_evaluate_gives_one_line_and_exit_2_for_every_bad_checkpoint(checkpoint, tmp_path, capsys):
    sys.path.insert(0, ROOT)
    import evaluate  # the script's own main(), in-process: one TF start-up instead of one per file

    # The matrix of bad files, once, through the command line (hypertext.load's own errors for the same files are
    # tests/models/test_text_autoencoder.py::TestLoadErrors).
    for name, (path, match) in _bad_checkpoints(checkpoint, str(tmp_path)).items():
        assert evaluate.main(["--checkpoint", path, "--limit", "5"]) == 2, name
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("evaluate.py: error: ") and match in lines[0], (name, lines)
    # The intact file, for contrast.
    assert evaluate.main(["--checkpoint", checkpoint, "--limit", "5"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["num_examples"] == 5
