"""Every shipped preset through every entry point (`hypertext.presets()`): contract checks on the real checkpoints,
fast (each preset is loaded once per module, and every export of it is made once): the Python API (`encode`,
`encode_latent`, `reconstruct`, `decode`, `interpolate`, `sample`), vectors that do not depend on padding or batch,
the sentence-vector conventions (`precision`, `truncate_dim`, `show_progress_bar`), `hypertext-encode`,
`hypertext-evaluate`, `hypertext-export` of every part in every format run in a process that never imports
hypertext, and `benchmarks/vectors.py`."""

import functools
import importlib.util
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import hypertext
from hypertext import export, vectors
from hypertext.cli import encode as encode_cli
from hypertext.cli import evaluate as evaluate_cli
from hypertext.cli import export as export_cli
from hypertext.data import wordnet
from hypertext.lengths import bucket_lengths, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID
from hypertext.vectors import matryoshka_dims
from tests.conftest import backend
from tests.models.test_padding_invariance import padding_and_batch_spread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = sorted(hypertext.presets())
tf_only = pytest.mark.skipif(backend() != "tensorflow", reason="the command-line and export checks run on TF")
HAVE_ONNX = all(importlib.util.find_spec(n) is not None for n in ("tf2onnx", "onnx", "onnxruntime"))
pytestmark = [pytest.mark.filterwarnings("ignore:.*were longer than max_length:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*np.object:FutureWarning")]


@pytest.fixture(scope="module", params=PRESETS)
def preset(request):
    return request.param, hypertext.load(request.param)


@functools.lru_cache()
def _test_split(count=400):
    return [r["text"] for r, _ in zip(wordnet.read_rows(split="test"), range(count))]


@pytest.fixture(scope="module")
def held_out():
    """WordNet test-split texts (never trained on), short and long."""
    return _test_split()[:24]


def texts_of_lengths(model, lengths):
    """Texts of about `lengths` pieces each, cut from a long run of test-split texts."""
    run = " ".join(_test_split())
    pieces = model.tokenizer.encode([run])[0]
    return [model.tokenizer.decode(pieces[:n]) for n in lengths]


LENGTHS = (1, 2, 3, 7, 16, 31, 64, 100, 126, 127, 128, 129, 200, 300)


# ---- the Python API ---------------------------------------------------------------------------------------------

def test_vectors_do_not_depend_on_padding_or_batch(preset, held_out):
    name, model = preset
    texts = [held_out[0], held_out[5], "a masterly or brilliant feat", *texts_of_lengths(model, (3, 60, 127))]
    longer = texts_of_lengths(model, (127, 127))
    # z reads the backbone's ids, the embedding those of `embedding_preprocessor` (a sentence encoder's own)
    for fn, preprocessor in ((model.encode_ids, model.preprocessor), (model.embed_ids, model.embedding_preprocessor)):
        cut = preprocessor.max_length - 1
        sequences = [list(p[:cut]) + [EOS_ID] for p in preprocessor.tokenize(texts)]
        long = [list(p[:cut]) + [EOS_ID] for p in preprocessor.tokenize(longer)]
        # every bucket length encode() pads to, and a few lengths between them
        lengths = {n for n in set(bucket_lengths(preprocessor.max_length, preprocessor.length_multiple))
                   | {10, 14, 18, 62, 126} if n % preprocessor.length_multiple == 0}
        spread = padding_and_batch_spread(fn, sequences, long, preprocessor.length_multiple, preprocessor.max_length,
                                          lengths)
        assert spread <= 1e-5, (fn, spread)
    # and so encode(), whose batches are length buckets, gives a text's vector alone and inside any batch
    texts = held_out[:12]
    for fn in (model.encode, model.encode_latent):
        together = fn(texts + texts_of_lengths(model, (127,)))
        alone = np.concatenate([fn([t]) for t in texts])
        np.testing.assert_allclose(together[:len(texts)], alone, rtol=0, atol=1e-5)


def test_encode_and_encode_latent(preset, held_out):
    name, model = preset
    e, z = model.encode(held_out), model.encode_latent(held_out)
    assert e.dtype == z.dtype == np.float32
    assert e.shape == (len(held_out), model.embedding_dim) and z.shape == (len(held_out), model.config.latent_dim)
    embedding = model.embedding_preprocessor
    ids = pad_batch(embedding.first_windows(model.embedding_tokenizer.encode(held_out)), embedding.max_length)
    np.testing.assert_allclose(e, keras.ops.convert_to_numpy(model.embed_ids(ids)), rtol=0, atol=1e-5)
    ids = pad_batch(model.preprocessor.first_windows(model.tokenizer.encode(held_out)), model.config.max_length)
    np.testing.assert_allclose(z, keras.ops.convert_to_numpy(model.encode_ids(ids)), rtol=0, atol=1e-5)
    if model.config.embedding_dim == 0 and model.sentence_encoder is None:  # encode() is z
        np.testing.assert_array_equal(e, z)
    else:
        assert e.shape[1] != z.shape[1] or not np.allclose(e, z)
    unit = model.encode(held_out, normalize=True)
    np.testing.assert_allclose(unit, e / np.linalg.norm(e, axis=1, keepdims=True), rtol=0, atol=1e-6)
    assert model.encode([]).shape == (0, model.embedding_dim)


def test_reconstruct_decode_interpolate_sample(preset, held_out):
    name, model = preset
    texts = held_out[:16]
    restored = model.reconstruct(texts)
    assert sum(a == b for a, b in zip(restored, texts)) >= 14  # the presets rebuild ~97% of test texts exactly
    short = [t for t in texts if len(model.tokenizer.encode([t])[0]) <= 12][:4]
    assert model.decode(model.encode_latent(short)) == model.reconstruct(short) == short
    ends = model.interpolate(short[0], short[1], steps=4)
    assert len(ends) == 4 and ends[0] == short[0] and ends[-1] == short[1]
    assert all(isinstance(t, str) and t for t in ends[1:-1])
    sampled = model.sample(3, seed=0)
    assert sampled == model.sample(3, seed=0) and len(sampled) == 3 and all(sampled)
    words = set(model.lexicon.words)
    assert all(w in words for t in sampled for w in t.split())  # sample decodes with the lexicon


def test_decode_of_a_vector_that_is_not_z_names_encode_latent(preset, held_out):
    name, model = preset
    if model.embedding_dim == model.config.latent_dim:  # encode() is z: decode reads it
        assert model.decode(model.encode(held_out[:2])) == model.decode(model.encode_latent(held_out[:2]))
        bad = np.zeros((2, 5), "float32")
    else:
        bad = model.encode(held_out[:2])
    with pytest.raises(ValueError, match=r"`decode` reads latents z of shape \(N, \d+\), as `encode_latent\(texts\)` "
                                         r"returns them\..*Received: z.shape=\(2, \d+\)$"):
        model.decode(bad)


# ---- sentence-vector conventions ----------------------------------------------------------------------------------

def test_precisions_against_numpy(preset, held_out):
    name, model = preset
    e = model.encode(held_out).astype("float64")
    ranges = model.metadata[vectors.RANGES_KEY]
    for normalize in (False, True):
        x = e / np.linalg.norm(e, axis=1, keepdims=True) if normalize else e
        low, high = (np.asarray(r, "float64") for r in ranges[f"embedding:{'unit' if normalize else 'raw'}:"
                                                              f"{model.embedding_dim}"])
        live = high - low > 1e-12  # (english has 2 dimensions constant on its training texts: the middle level)
        levels = np.where(live, np.clip(np.floor((x - low) / (np.where(live, high - low, 1) / 255.0)), 0, 255), 128)
        got8 = model.encode(held_out, precision="int8", normalize=normalize)
        gotu8 = model.encode(held_out, precision="uint8", normalize=normalize)
        assert got8.dtype == np.int8 and gotu8.dtype == np.uint8 and got8.shape == e.shape
        # float32 against float64: a value on a level's edge may fall either side
        assert np.abs(got8.astype(int) - (levels - 128)).max() <= 1 and (got8.astype(int) == levels - 128).mean() > .99
        np.testing.assert_array_equal(gotu8.astype(int), got8.astype(int) + 128)
        # calibrated on training texts: held-out vectors sit nearly all inside the ranges
        assert ((x >= low) & (x <= high)).mean() > 0.99
        back = vectors.dequantize(got8, "int8", (low, high))  # each level's midpoint: within half a step
        assert np.abs(back - np.clip(x, low, high))[:, live].max() <= ((high - low) / 255)[live].max() * 0.5 + 1e-5
    bits = np.packbits(e > 0, axis=1)
    np.testing.assert_array_equal(model.encode(held_out, precision="ubinary"), bits)
    np.testing.assert_array_equal(model.encode(held_out, precision="binary"), (bits.astype(int) - 128).astype(np.int8))
    assert model.encode(held_out, precision="binary").shape == (len(held_out), model.embedding_dim // 8)
    np.testing.assert_array_equal(vectors.dequantize(model.encode(held_out, precision="binary"), "binary"),
                                  np.where(e > 0, 1.0, -1.0))


def test_bad_arguments_are_one_clear_error(preset, held_out):
    name, model = preset
    with pytest.raises(ValueError, match=r"^`precision` must be one of 'float32', 'int8', 'uint8', 'binary', "
                                         r"'ubinary'\. Received: precision='foo'$"):
        model.encode(held_out[:1], precision="foo")
    if matryoshka_dims(model.metadata):  # a head trained for truncation: only its widths
        with pytest.raises(ValueError, match=r"^`truncate_dim` must be one of the widths this model was trained at"):
            model.encode(held_out[:1], truncate_dim=65)
        np.testing.assert_array_equal(model.encode(held_out[:2], truncate_dim=64), model.encode(held_out[:2])[:, :64])
    else:
        with pytest.raises(ValueError, match=r"^`truncate_dim` needs a model whose sentence-embedding head was trained "
                                             r"to be truncated \(a Matryoshka objective.*Received: truncate_dim=64$"):
            model.encode(held_out[:1], truncate_dim=64)
    for bad in (0, -3, 1.5, "64"):
        with pytest.raises(ValueError, match=r"^`truncate_dim` must be None or a positive integer\. Received: "):
            model.encode(held_out[:1], truncate_dim=bad)
    with pytest.raises(ValueError, match=r"^`truncate_dim` must be at most the vectors' width"):
        model.encode(held_out[:1], truncate_dim=model.embedding_dim + 1)
    np.testing.assert_array_equal(model.encode(held_out[:2], truncate_dim=model.embedding_dim),
                                  model.encode(held_out[:2]))


def test_truncate_dim_for_a_model_that_declares_it(preset, held_out):
    """A head that declares `matryoshka_dims` (as the one being trained will) gets truncation, normalised after it,
    and int8 from the ranges calibrated at that width."""
    name, model = preset
    saved = dict(model.metadata)
    try:
        model.metadata["matryoshka_dims"] = [64, 128]
        model.calibrate_vectors(held_out, limit=len(held_out))
        e = model.encode(held_out)
        np.testing.assert_array_equal(model.encode(held_out, truncate_dim=64), e[:, :64])
        t = model.encode(held_out, truncate_dim=128, normalize=True)
        np.testing.assert_allclose(t, e[:, :128] / np.linalg.norm(e[:, :128], axis=1, keepdims=True), atol=1e-6)
        q = model.encode(held_out, truncate_dim=128, normalize=True, precision="int8")
        assert q.shape == (len(held_out), 128) and q.min() == -128 and q.max() >= 126  # calibrated on these texts
        with pytest.raises(ValueError, match=r"^`truncate_dim` must be one of the widths this model was trained at, "
                                             rf"64, 128, {model.embedding_dim}\. Received: truncate_dim=100$"):
            model.encode(held_out, truncate_dim=100)
    finally:
        model.metadata.clear()
        model.metadata.update(saved)


def test_show_progress_bar(preset, held_out, capsys):
    name, model = preset
    np.testing.assert_array_equal(model.encode(held_out, show_progress_bar=True), model.encode(held_out))
    err = capsys.readouterr().err
    assert re.search(rf"encoding 100% \[#{{30}}\] {len(held_out)}/{len(held_out)} texts, [\d,]+ texts/s, "
                     r"0:00:00 left\n$", err), err
    model.encode(held_out)
    assert capsys.readouterr().err == ""


# ---- hypertext-encode ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def input_file(tmp_path_factory, held_out):
    texts = held_out + ["", "tab\tinside", "a text longer than max_length pieces " * 120]  # > 512 pieces of either
    path = tmp_path_factory.mktemp("encode") / "texts.txt"
    path.write_text("\r\n".join(texts) + "\n", encoding="utf-8")
    return str(path), texts


@tf_only
def test_hypertext_encode_writes_encode_npy_and_jsonl(preset, input_file, tmp_path, capsys):
    name, model = preset
    path, texts = input_file
    assert encode_cli.main(["--model", name, "--input", path, "--output", str(tmp_path / "v.npy")]) == 0
    assert f"texts are longer than max_length={model.embedding_preprocessor.max_length}" in capsys.readouterr().err
    got = np.load(tmp_path / "v.npy")
    assert got.dtype == np.float32 and got.shape == (len(texts), model.embedding_dim)
    np.testing.assert_array_equal(got, model.encode(texts))
    assert encode_cli.main(["--model", name, "--input", path, "--output", str(tmp_path / "v.jsonl"), "--format",
                            "jsonl", "--precision", "int8", "--latent"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == texts
    expected = vectors.finish(model.encode_latent(texts), "int8", metadata=model.metadata, kind="latent")
    np.testing.assert_array_equal(np.array([r["vector"] for r in rows]), expected)


@tf_only
def test_hypertext_encode_options_and_shards(preset, input_file, tmp_path):
    name, model = preset
    path, texts = input_file
    for options, expected in [
        (dict(precision="ubinary"), model.encode(texts, precision="ubinary")),
        (dict(normalize=True, precision="uint8"), model.encode(texts, normalize=True, precision="uint8")),
        (dict(latent=True), model.encode_latent(texts)),
    ]:
        out = str(tmp_path / "v.npy")
        encode_cli.encode_file(model, path, out, **options)
        got = np.load(out)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    # 3 shards of small chunks, joined in order, are the whole output (every row within float32 round-off)
    parts = []
    for i in (1, 2, 3):
        out = str(tmp_path / f"part-{i}.npy")
        encode_cli.encode_file(model, path, out, shard=(i, 3), chunk_size=5)
        parts.append(np.load(out))
    assert [len(p) for p in parts] == [end - start for start, end in
                                       (encode_cli.shard_range(len(texts), (i, 3)) for i in (1, 2, 3))]
    assert encode_cli.shard_range(10, (1, 3)) == (0, 3) and encode_cli.shard_range(10, (3, 3)) == (6, 10)
    np.testing.assert_allclose(np.concatenate(parts), model.encode(texts), rtol=0, atol=1e-5)


@tf_only
def test_hypertext_encode_bad_options_are_one_line_errors(preset, input_file, tmp_path, capsys):
    name, model = preset
    path, _ = input_file
    out = str(tmp_path / "v.npy")
    base = ["--model", name, "--input", path, "--output", out]
    for args, message in [(["--shard", "0/4"], "--shard must be I/N with 1 <= I <= N, e.g. --shard 2/8 (the second of "
                                               "8 parts). Received: '0/4'"),
                          (["--shard", "5/4"], "--shard must be I/N with 1 <= I <= N, e.g. --shard 2/8 (the second of 8 "
                                               "parts). Received: '5/4'"),
                          (["--precision", "int4"], "--precision must be one of 'float32', 'int8', 'uint8', 'binary', "
                                                    "'ubinary'. Received: precision='int4'")]:
        with pytest.raises(SystemExit) as e:
            encode_cli.main(base + args)
        assert e.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"hypertext-encode: error: {message}"
    bad, why = (["--truncate-dim", "65"], "--truncate-dim must be one of the widths") if matryoshka_dims(
        model.metadata) else (["--truncate-dim", "64"], "--truncate-dim needs a model whose")
    assert encode_cli.main(base + bad) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hypertext-encode: error: {why}"), lines
    assert not os.path.exists(out) and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


# ---- hypertext-evaluate and benchmarks/vectors.py -----------------------------------------------------------------

@tf_only
def test_hypertext_evaluate(preset, tmp_path, capsys):
    name, model = preset
    out = tmp_path / "metrics.json"
    assert evaluate_cli.main(["--checkpoint", name, "--split", "test", "--limit", "40", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["num_examples"] == 40 and metrics["split"] == "test" and metrics["bleu"] > 90
    assert metrics["corpus"] == model.metadata["corpus"]


@tf_only
def test_benchmarks_vectors_runs_on_the_preset(preset, tmp_path):
    name, model = preset
    spec = importlib.util.spec_from_file_location("vectors_benchmark", os.path.join(ROOT, "benchmarks", "vectors.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    import gzip

    with gzip.open(os.path.join(ROOT, "data", "similarity", "bible-pairs.tsv.gz"), "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    pairs = tmp_path / "pairs.tsv.gz"  # the header and 60 pairs of each collection
    by_collection = {}
    for line in lines[1:]:
        by_collection.setdefault(line.split("\t")[0], []).append(line)
    with gzip.open(pairs, "wt", encoding="utf-8") as f:
        f.write("\n".join([lines[0], *(l for rows in by_collection.values() for l in rows[:60])]) + "\n")
    results = {}
    for precision in ("float32", "binary"):
        out = tmp_path / f"{precision}.json"
        bench.main(["--task", "similarity", "--model", name, "--pairs", str(pairs), "--no-minilm", "--no-tfidf",
                    "--no-model2vec", "--speed-texts", "8", "--speed-rounds", "1", "--precision", precision,
                    "--json", str(out)])
        results[precision] = json.loads(out.read_text())
    rows = results["float32"]["rows"]
    assert [r["encoder"] for r in rows] == [name] and rows[0]["dim"] == model.embedding_dim
    assert set(rows[0]["scores"]) >= set(by_collection)
    assert results["binary"]["rows"][0]["encoder"] == f"{name} (binary)"
    assert results["binary"]["rows"][0]["dim"] == model.embedding_dim  # unpacked to +-1 per bit


# ---- hypertext-export, run without hypertext ----------------------------------------------------------------------

# Runs every artifact in a Python that cannot import hypertext (isolated mode, no `site`, so no editable install;
# site-packages given back without its .pth files), tokenising with `sentencepiece` alone by the contract of
# docs/export.md; then runs docs/export.md's onnxruntime example itself. argv: the folder.
CHILD = r'''
import json, os, sys, sysconfig
for key in ("purelib", "platlib"):
    if sysconfig.get_paths()[key] not in sys.path:
        sys.path.append(sysconfig.get_paths()[key])
import importlib.util
if importlib.util.find_spec("hypertext") is not None:
    sys.exit("hypertext is importable without .pth files: this check cannot run here")
import numpy as np
import sentencepiece

folder = sys.argv[1]
os.chdir(folder)
job = json.load(open("job.json"))
texts, out = job["texts"], {}


def ids_for(path, pad_to_max):
    spec = json.load(open(path + ".json"))["tokenizer"]
    sp = sentencepiece.SentencePieceProcessor(model_file=path + ".sentencepiece.model")
    pieces = [p[:spec["max_length"] - 1] + [spec["eos_id"]] for p in sp.encode(texts)]
    multiple = spec["length_multiple"]
    length = spec["max_length"] if pad_to_max else -(-max(map(len, pieces)) // multiple) * multiple
    ids = np.full((len(pieces), length), spec["pad_id"], dtype=np.int32)
    for row, p in enumerate(pieces):
        ids[row, :len(p)] = p
    return ids


for path, part, fmt in job["artifacts"]:
    if fmt == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)
        run = lambda *args: loaded.serve(*args).numpy()
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(path)
        names = [i.name for i in session.get_inputs()]
        run = lambda *args: session.run(None, dict(zip(names, args)))[0]
    if part == "decoder":
        z = np.load("z.npy")
        out[f"{path}|max"] = run(z, np.array(job["max_length"], dtype=np.int32))
    else:
        for pad_to_max in (False, True):
            out[f"{path}|{'max' if pad_to_max else 'batch'}"] = run(ids_for(path, pad_to_max))
namespace = {"texts": texts}
exec(job["docs_example"], namespace)
out["docs_example"] = namespace["vectors"]
assert "hypertext" not in sys.modules
np.savez("outputs.npz", **out)
'''


def docs_example():
    """The onnxruntime serving example of docs/export.md."""
    with open(os.path.join(ROOT, "docs", "export.md"), encoding="utf-8") as f:
        section = f.read().split("## Serving the sentence embedding with onnxruntime", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def exported(preset, tmp_path_factory):
    """Every part of the preset in every format (the embedding part by `hypertext-export`'s default), run without
    hypertext on texts of 1 to 300 pieces."""
    name, model = preset
    folder = tmp_path_factory.mktemp(f"export-{name}")
    formats = ("tf_saved_model", "onnx") if HAVE_ONNX else ("tf_saved_model",)
    artifacts = []
    for part in ("embedding", "encoder", "decoder"):
        for fmt in formats:
            path = part + (".onnx" if fmt == "onnx" else "")
            if part == "embedding" and fmt == "onnx":  # the command line, with the default part
                assert export.default_part(model) == ("embedding" if model.config.embedding_dim or model.sentence_encoder
                                                       is not None else "encoder")
                argv = ["--model", name, "--format", fmt, "--output", str(folder / path)]
                if export.default_part(model) != "embedding":
                    argv += ["--part", "embedding"]
                assert export_cli.main(argv) == 0
            else:
                export.export(model, part, fmt, str(folder / path))
            artifacts.append((path, part, fmt))
    texts = texts_of_lengths(model, LENGTHS) + ["", "a small domesticated carnivore"]
    z = model.encode_latent(texts)
    np.save(folder / "z.npy", z)
    (folder / "job.json").write_text(json.dumps({"texts": texts, "artifacts": artifacts, "docs_example":
                                                 docs_example(), "max_length": model.config.max_length}))
    (folder / "child.py").write_text(CHILD)
    result = subprocess.run([sys.executable, "-I", "-S", str(folder / "child.py"), str(folder)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(folder / "outputs.npz") as f:
        outputs = {k: f[k] for k in f.files}
    return {"texts": texts, "artifacts": artifacts, "outputs": outputs, "folder": folder, "z": z}


@tf_only
@pytest.mark.skipif(not HAVE_ONNX, reason="needs tf2onnx, onnx and onnxruntime (pip install .[export]), as CI has")
def test_exported_parts_match_encode_without_hypertext(preset, exported):
    name, model = preset
    texts, outputs = exported["texts"], exported["outputs"]
    pieces = [len(p) for p in model.tokenizer.encode(texts)]
    assert min(pieces) == 0 and max(pieces) >= 300 and any(n == model.config.max_length - 1 for n in pieces)
    expected = {"embedding": model.encode(texts), "encoder": model.encode_latent(texts)}
    for path, part, fmt in exported["artifacts"]:
        if part == "decoder":
            continue
        for padding in ("batch", "max"):
            got = outputs[f"{path}|{padding}"]
            assert got.dtype == np.float32 and got.shape == expected[part].shape, (path, padding)
            np.testing.assert_allclose(got, expected[part], rtol=0, atol=1e-4, err_msg=f"{path} {padding}")
    np.testing.assert_allclose(outputs["docs_example"], expected["embedding"], rtol=0, atol=1e-4)
    described = json.loads((exported["folder"] / "embedding.onnx.json").read_text())
    assert described["part"] == "embedding"
    assert described["outputs"] == [{"name": "embedding", "dtype": "float32", "shape": [None, model.embedding_dim]}]
    with open(exported["folder"] / "embedding.onnx.sentencepiece.model", "rb") as f:
        assert f.read() == model.embedding_tokenizer.processor.serialized_model_proto()


@tf_only
@pytest.mark.skipif(not HAVE_ONNX, reason="needs tf2onnx, onnx and onnxruntime (pip install .[export]), as CI has")
def test_exported_decoder_gives_decode_without_hypertext(preset, exported):
    name, model = preset
    z = exported["z"]
    decoded = model.decode(z)
    logits = keras.ops.convert_to_numpy(model.decode_latent(z))
    top2 = np.sort(logits, axis=-1)[..., -2:]
    decided = (top2[..., 1] - top2[..., 0] > 1e-4)
    for path, part, fmt in exported["artifacts"]:
        if part == "decoder":
            ids = exported["outputs"][f"{path}|max"]
            assert ids.dtype == np.int32 and ids.shape == logits.shape[:2]
            np.testing.assert_array_equal(ids[decided], logits.argmax(-1)[decided])
            rows = decided.all(axis=1)
            assert rows.sum() >= len(z) - 2
            assert model.tokenizer.decode(ids[rows]) == [t for t, r in zip(decoded, rows) if r]
