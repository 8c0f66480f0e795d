"""Export for inference without hypertext: `hypertext.export` and `hypertext-export` write a TextAutoencoder's
encoder and decoder as a SavedModel and an ONNX file, which a subprocess that cannot import hypertext runs against
`encode()` / `decode()`; Keras' own `Model.export` works on the model (the shipped preset included) and on a
functional model holding a `HyperConv1D`.

The ONNX tests need tf2onnx, onnx and onnxruntime (`pip install -e .[export]`, as CI does) and skip without them.
The ONNX export of the 16 MB preset runs in the thorough mode (HYPERTEXT_THOROUGH=1) (the tiny model covers the same path).
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import hypertext
from hypertext import export
from hypertext.cli import export as export_cli
from hypertext.configs import get_config
from hypertext.data import load_texts
from hypertext.layers import HyperConv1D
from hypertext.lengths import group_by_length, pad_batch
from hypertext.models import TextAutoencoder
from hypertext.tokenizers import SentencePieceTokenizer
from tests.conftest import backend

pytestmark = [pytest.mark.skipif(backend() != "tensorflow", reason="the export runs on TensorFlow"),
              pytest.mark.filterwarnings("ignore:.*were longer than max_length:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*np.object:FutureWarning")]

HAVE_ONNX = all(importlib.util.find_spec(name) is not None for name in ("tf2onnx", "onnx", "onnxruntime"))
FORMATS = ("tf_saved_model", "onnx") if HAVE_ONNX else ("tf_saved_model",)
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="needs tf2onnx, onnx and onnxruntime (pip install .[export])")
# Decoder outputs are compared where float32 decides the argmax: at a position whose two best logits are closer than
# this, a 1e-6 difference between runtimes may pick either.
TIE_MARGIN = 1e-4

# Runs the artifacts in a process that cannot import hypertext: Python in isolated mode without its `site` module
# (`-I -S`), given back site-packages but not its .pth files, which is where an editable install of hypertext hooks
# itself in. argv: the folder with inputs.npz and the artifacts, then the formats to run.
CHILD = """
import os, sys, sysconfig
for key in ("purelib", "platlib"):
    if sysconfig.get_paths()[key] not in sys.path:
        sys.path.append(sysconfig.get_paths()[key])
import importlib.util
if importlib.util.find_spec("hypertext") is not None:
    sys.exit("hypertext is importable without .pth files (a non-editable install): this check cannot run here")
import numpy as np

folder, formats = sys.argv[1], sys.argv[2:]
inputs = dict(np.load(os.path.join(folder, "inputs.npz")))
ENCODER_INPUTS = [key for key in inputs if key.startswith("token_ids")]
out = {}
if "tf_saved_model" in formats:
    import tensorflow as tf

    encoder = tf.saved_model.load(os.path.join(folder, "encoder"))
    decoder = tf.saved_model.load(os.path.join(folder, "decoder"))
    for key in ENCODER_INPUTS:
        out[f"tf_saved_model/encoder/{key}"] = encoder.serve(inputs[key]).numpy()
    for length in inputs["lengths"]:
        out[f"tf_saved_model/decoder/{length}"] = decoder.serve(inputs["z"], tf.constant(length)).numpy()
if "onnx" in formats:
    import onnxruntime

    encoder = onnxruntime.InferenceSession(os.path.join(folder, "encoder.onnx"))
    decoder = onnxruntime.InferenceSession(os.path.join(folder, "decoder.onnx"))
    for key in ENCODER_INPUTS:
        out[f"onnx/encoder/{key}"] = encoder.run(["z"], {"token_ids": inputs[key]})[0]
    for length in inputs["lengths"]:
        out[f"onnx/decoder/{length}"] = decoder.run(["token_ids"], {"z": inputs["z"], "length": np.array(length)})[0]
assert "hypertext" not in sys.modules
np.savez(os.path.join(folder, "outputs.npz"), **{k.replace("/", "|"): v for k, v in out.items()})
"""


def run_without_hypertext(folder, formats):
    script = os.path.join(folder, "child.py")
    with open(script, "w") as f:
        f.write(CHILD)
    result = subprocess.run([sys.executable, "-I", "-S", script, folder, *formats], capture_output=True, text=True,
                            cwd=folder, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(os.path.join(folder, "outputs.npz")) as outputs:
        return {k.replace("|", "/"): outputs[k] for k in outputs.files}


@pytest.fixture(scope="module")
def tiny_model():
    """A freshly built tiny model (two stages: lengths are multiples of 4), every weight moved off its initial
    value (an untrained LayerNormalization, for one, has beta 0, which hides what padding does)."""
    texts = load_texts("wordnet", "validation")[:1200]
    keras.utils.set_random_seed(7)
    model = TextAutoencoder(get_config("tiny").replace(num_stages=2, pooled_latent=True),
                            SentencePieceTokenizer.from_texts(texts, vocab_size=512))
    model.build()
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def bucketed(model, texts):
    """The batches `encode()` runs: `(rows, ids)` per length bucket, each text padded to its bucket's length, as
    docs/export.md tells a user without hypertext to do it."""
    sequences = model.preprocessor.first_windows(model.tokenizer.encode(texts))
    groups = group_by_length([len(s) for s in sequences], len(texts), model.length_multiple, model.config.max_length)
    return [(rows, pad_batch([sequences[i] for i in rows], length)) for rows, length in groups]


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    """Both parts in every available format, run in a process without hypertext; returns the texts, the inputs
    and that process's outputs."""
    model = tiny_model
    folder = str(tmp_path_factory.mktemp("export"))
    written = {}
    for part in ("encoder", "decoder"):  # (embedding: tests/test_every_preset.py)
        for fmt in FORMATS:
            path = os.path.join(folder, part + (".onnx" if fmt == "onnx" else ""))
            written[part, fmt] = export.export(model, part, fmt, path)
    texts = list(load_texts("wordnet", "test")[:40]) + ["", "a text longer than max_length pieces " * 4]
    buckets = bucketed(model, texts)
    inputs = {"token_ids": model.texts_to_ids(texts), "z": model.encode(texts),
              "lengths": np.array([model.config.max_length, 16], dtype="int32"),
              **{f"token_ids_bucket_{i}": ids for i, (_, ids) in enumerate(buckets)}}
    np.savez(os.path.join(folder, "inputs.npz"), **inputs)
    return {"texts": texts, "inputs": inputs, "written": written, "outputs": run_without_hypertext(folder, FORMATS),
            "bucket_rows": [rows for rows, _ in buckets]}


@pytest.mark.parametrize("fmt", ["tf_saved_model", pytest.param("onnx", marks=needs_onnx)])
def test_the_encoder_gives_encode_without_hypertext(exported, tiny_model, fmt):
    outputs, texts = exported["outputs"], exported["texts"]
    # texts_to_ids' (N, max_length) ids give encode_ids of them.
    z = outputs[f"{fmt}/encoder/token_ids"]
    assert z.dtype == np.float32 and z.shape == (len(texts), tiny_model.config.latent_dim)
    expected = keras.ops.convert_to_numpy(tiny_model.encode_ids(exported["inputs"]["token_ids"]))
    np.testing.assert_allclose(z, expected, rtol=0, atol=1e-4)
    # Each text at its bucket length, as encode() runs them, gives encode().
    z = np.zeros_like(z)
    for i, rows in enumerate(exported["bucket_rows"]):
        z[rows] = outputs[f"{fmt}/encoder/token_ids_bucket_{i}"]
    np.testing.assert_allclose(z, tiny_model.encode(texts), rtol=0, atol=1e-4)


@pytest.mark.parametrize("fmt", ["tf_saved_model", pytest.param("onnx", marks=needs_onnx)])
def test_the_decoder_gives_decodes_ids_without_hypertext(exported, tiny_model, fmt):
    z = exported["inputs"]["z"]
    for length in exported["inputs"]["lengths"]:
        ids = exported["outputs"][f"{fmt}/decoder/{length}"]
        logits = keras.ops.convert_to_numpy(tiny_model.decode_latent(z, length=int(length)))
        assert ids.dtype == np.int32 and ids.shape == (len(z), length)
        top2 = np.sort(logits, axis=-1)[..., -2:]
        decided = top2[..., 1] - top2[..., 0] > TIE_MARGIN
        assert decided.mean() > 0.95  # the comparison below covers nearly every position
        np.testing.assert_array_equal(ids[decided], logits.argmax(-1)[decided])
        if length == tiny_model.config.max_length:
            rows = decided.all(axis=1)
            assert rows.sum() > len(z) // 2
            assert tiny_model.tokenizer.decode(ids[rows]) == [t for t, r in zip(tiny_model.decode(z), rows) if r]


def test_the_side_files_say_how_to_tokenise(exported, tiny_model):
    paths = exported["written"]["encoder", "tf_saved_model"]
    assert paths["tokenizer"] == paths["artifact"] + ".sentencepiece.model"
    with open(paths["tokenizer"], "rb") as f:
        assert f.read() == tiny_model.tokenizer.processor.serialized_model_proto()
    with open(paths["description"]) as f:
        description = json.load(f)
    spec = description["tokenizer"]
    assert spec["file"] == os.path.basename(paths["tokenizer"])
    assert description["inputs"] == [{"name": "token_ids", "dtype": "int32", "shape": [None, None]}]
    # The recipe docs/export.md gives, done with the sentencepiece package alone, equals texts_to_ids.
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=paths["tokenizer"])
    texts = exported["texts"]
    ids = [p[:spec["max_length"] - 1] + [spec["eos_id"]] for p in processor.encode(texts)]
    padded = np.full((len(texts), spec["max_length"]), spec["pad_id"], dtype="int32")
    for row, p in enumerate(ids):
        padded[row, :len(p)] = p
    np.testing.assert_array_equal(padded, exported["inputs"]["token_ids"])  # texts_to_ids
    bucket = [min(b for b in spec["bucket_lengths"] if b >= len(p)) for p in ids]
    for i, rows in enumerate(exported["bucket_rows"]):  # encode()'s batches
        expected = exported["inputs"][f"token_ids_bucket_{i}"]
        assert [r for r, b in enumerate(bucket) if b == expected.shape[1]] == list(rows)
        for row, r in enumerate(rows):
            np.testing.assert_array_equal(expected[row, :len(ids[r])], ids[r])
            assert not expected[row, len(ids[r]):].any()


def test_keras_export_of_a_tiny_model(tiny_model, tmp_path):
    """`model.export` on the model itself (its `call`: token ids -> logits), both formats."""
    import tensorflow as tf

    ids = tiny_model.texts_to_ids(["a small domesticated carnivore", "a large cat", "x"])[:, :16]
    expected = keras.ops.convert_to_numpy(tiny_model(ids))
    tiny_model.export(str(tmp_path / "model"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "model"))  # held: its variables die with it
    np.testing.assert_allclose(reloaded.serve(ids).numpy(), expected, rtol=1e-5, atol=1e-5)
    if HAVE_ONNX:  # the Erfc of TensorFlow's gelu included
        import onnxruntime

        tiny_model.export(str(tmp_path / "model.onnx"), format="onnx", verbose=False)
        session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
        np.testing.assert_allclose(session.run(None, {"token_ids": ids})[0], expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def preset():
    return hypertext.load("wordnet")


def preset_check(model):
    ids = model.texts_to_ids(["a small domesticated carnivore", "the act of exporting a model"])[:, :32]
    logits = keras.ops.convert_to_numpy(model(ids))
    return ids, logits, 1e-5 * np.abs(logits).max()  # float32 rounding, at the logits' scale


def test_keras_export_of_the_preset(preset, tmp_path):
    """The issue's case: this raised "The model provided has never called", even after a call."""
    import tensorflow as tf

    ids, expected, atol = preset_check(preset)
    preset.export(str(tmp_path / "preset"), format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "preset"))
    np.testing.assert_allclose(reloaded.serve(ids).numpy(), expected, rtol=0, atol=atol)


@needs_onnx
@pytest.mark.thorough  # ~20 s; the tiny model covers the same path in the fast mode
def test_keras_onnx_export_of_the_preset(preset, tmp_path):
    import onnxruntime

    ids, expected, atol = preset_check(preset)
    preset.export(str(tmp_path / "preset.onnx"), format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "preset.onnx"))
    np.testing.assert_allclose(session.run(None, {"token_ids": ids})[0], expected, rtol=0, atol=atol)


@pytest.mark.parametrize("fmt", ["tf_saved_model", pytest.param("onnx", marks=needs_onnx)])
def test_a_functional_model_with_a_hyper_conv_exports(fmt, rng, tmp_path):
    x = keras.Input((12, 4), name="x")
    context = keras.Input((6,), name="context")
    y = HyperConv1D(5, 3, padding="same", mode="basis", num_bases=3)(x, context)
    model = keras.Model([x, context], keras.layers.Dense(2)(y))
    inputs = [rng.normal(size=(3, 12, 4)).astype("float32"), rng.normal(size=(3, 6)).astype("float32")]
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = str(tmp_path / ("model.onnx" if fmt == "onnx" else "model"))
    model.export(path, format=fmt, verbose=False)
    if fmt == "onnx":
        import onnxruntime

        out = onnxruntime.InferenceSession(path).run(None, {"x": inputs[0], "context": inputs[1]})[0]
    else:
        import tensorflow as tf

        reloaded = tf.saved_model.load(path)
        out = reloaded.serve(inputs).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_one_keras_style_error(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"^`part` must be one of 'embedding', 'encoder', 'decoder'. Received: part='middle'$"):
        export.export(tiny_model, "middle", "onnx", str(tmp_path / "a"))
    with pytest.raises(ValueError,
                       match=r"^`format` must be one of 'tf_saved_model', 'onnx'. Received: format='tflite'$"):
        export.export(tiny_model, "encoder", "tflite", str(tmp_path / "a"))
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def model_path(tiny_model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    tiny_model.save(path)
    return path


def test_the_command_line(model_path, tmp_path, capsys):
    out = str(tmp_path / "encoder")
    args = ["--model", model_path, "--part", "encoder", "--output", out]
    cases = [(["--part", "middle"], "`part` must be one of 'embedding', 'encoder', 'decoder'. Received: part='middle'"),
             (["--format", "tflite"], "`format` must be one of 'tf_saved_model', 'onnx'. Received: format='tflite'"),
             (["--model", str(tmp_path / "missing.keras")], "No checkpoint at '"),
             (["--output", str(tmp_path / "no" / "folder")], "The output folder of ")]
    for change, message in cases:
        argv = ["--format", "tf_saved_model", *args, *change]  # argparse keeps the last of a repeated option
        assert export_cli.main(argv) == 2, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hypertext-export: error: {message}"), lines
    assert not os.path.exists(out)
    assert export_cli.main(["--format", "tf_saved_model", *args]) == 0
    assert sorted(os.listdir(tmp_path)) == ["encoder", "encoder.json", "encoder.sentencepiece.model"]
    before = os.path.getmtime(os.path.join(out, "saved_model.pb"))
    assert export_cli.main(["--format", "tf_saved_model", *args]) == 2  # an existing output is kept
    assert "already exists" in capsys.readouterr().err
    assert os.path.getmtime(os.path.join(out, "saved_model.pb")) == before
    assert export_cli.main(["--format", "tf_saved_model", *args, "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["encoder", "encoder.json", "encoder.sentencepiece.model"]
