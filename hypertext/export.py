"""Exports a TextAutoencoder's sentence embedding, encoder or decoder as an inference artifact that runs without
hypertext: a TensorFlow SavedModel (`tf.saved_model.load`) or an ONNX file (`onnxruntime`). `hypertext-export` is
the command line.

- embedding (the default part for a model with a sentence-embedding head): int32 token ids `(batch, length)` of the
  embedding tokenizer -> float32 `(batch, embedding_dim)`, what `encode()` returns (`model.embed_ids`).
- encoder (the default part otherwise): int32 token ids `(batch, length)` -> float32 `z` `(batch, latent_dim)`, what
  `encode_latent()` returns (`model.encode_ids`).

  For both, a text is its pieces, cut to the first `max_length - 1`, then eos (id 3), padded with 0 to any length
  `L` that is a multiple of `length_multiple` with `L <= max_length` (`max_length` itself always works). A text's
  vector does not depend on `L` nor on the other rows of the batch, so each row equals `encode()`'s vector.
- decoder: float32 `z` `(batch, latent_dim)` and an int32 scalar `length` -> int32 token ids `(batch, length)`, the
  argmax of every position: what `decode()` detokenises (it decodes at `length = max_length`).

Beside the artifact go the SentencePiece model that turns text into ids and back (`<path>.sentencepiece.model`) and
a JSON file (`<path>.json`) with the inputs, outputs and id conventions. docs/export.md says how to tokenise
outside hypertext.

The artifacts are made by Keras' own `Model.export` from a small model whose `call` is the autoencoder's public
`encode_ids` / `decode_latent`, on the TensorFlow backend (ONNX through `tf2onnx`; `pip install hypertext[export]`).
"""

import json
import os
import shutil
import warnings

import keras
import numpy as np
from keras import ops

from hypertext import __version__
from hypertext.backend_utils import register_tf2onnx_erfc  # noqa: F401  (its home before; still importable here)
from hypertext.layers.validation import check_choice
from hypertext.lengths import bucket_lengths
from hypertext.tokenizers.sentencepiece_tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID

PARTS = ("embedding", "encoder", "decoder")
FORMATS = ("tf_saved_model", "onnx")


class _Encoder(keras.Model):
    """`token_ids -> z` of a built TextAutoencoder."""

    def __init__(self, autoencoder, **kwargs):
        super().__init__(**kwargs)
        self.autoencoder = autoencoder
        self.built = True

    def call(self, token_ids):
        return ops.cast(self.autoencoder.encode_ids(token_ids), "float32")


class _Embedder(keras.Model):
    """`token_ids -> encode()'s vector` of a built TextAutoencoder (through `embed_ids`)."""

    def __init__(self, autoencoder, **kwargs):
        super().__init__(**kwargs)
        self.autoencoder = autoencoder
        self.built = True

    def call(self, token_ids):
        return ops.cast(self.autoencoder.embed_ids(token_ids), "float32")


class _Decoder(keras.Model):
    """`(z, length) -> argmax token ids (batch, length)` of a built TextAutoencoder."""

    def __init__(self, autoencoder, **kwargs):
        super().__init__(**kwargs)
        self.autoencoder = autoencoder
        self.built = True

    def call(self, z, length):
        # The argmax as top_k, which picks the lowest index among ties as argmax does: TensorFlow's `ops.argmax`
        # tests the sign bit of zeros with a Bitcast, an op ONNX lacks.
        _, ids = ops.top_k(self.autoencoder.decode_latent(z, length=length), k=1, sorted=False)
        return ops.cast(ids[..., 0], "int32")


def side_files(path):
    """The SentencePiece model and the JSON description written beside the artifact at `path`, named after it."""
    return path + ".sentencepiece.model", path + ".json"


def default_part(model):
    """"embedding" for a model with a sentence-embedding head (`encode()` returns something other than z), else
    "encoder"."""
    head = model.config.embedding_dim > 0 or getattr(model, "sentence_encoder", None) is not None
    return "embedding" if head else "encoder"


def describe(model, part, format, path):
    """The JSON description of an export: what goes in and comes out, and how to make the ids."""
    c = model.config
    tokenizer_file, _ = side_files(path)
    preprocessor = model.embedding_preprocessor if part == "embedding" else model.preprocessor
    latent = {"name": "z", "dtype": "float32", "shape": [None, c.latent_dim]}
    ids = {"name": "token_ids", "dtype": "int32", "shape": [None, None]}
    if part == "embedding":
        inputs, outputs = [ids], [{"name": "embedding", "dtype": "float32", "shape": [None, model.embedding_dim]}]
    elif part == "encoder":
        inputs, outputs = [ids], [latent]
    else:
        inputs, outputs = [latent, {"name": "length", "dtype": "int32", "shape": []}], [ids]
    return {
        "part": part,
        "format": format,
        "inputs": inputs,
        "outputs": outputs,
        "tokenizer": {
            "file": os.path.basename(tokenizer_file),
            "type": "sentencepiece",
            "pad_id": PAD_ID, "unk_id": UNK_ID, "bos_id": BOS_ID, "eos_id": EOS_ID,
            "add_bos": False,
            "add_eos": True,
            "max_length": preprocessor.max_length,
            "length_multiple": preprocessor.length_multiple,
            "bucket_lengths": list(bucket_lengths(preprocessor.max_length, preprocessor.length_multiple)),
            "input": ("pieces[:max_length - 1] + [eos_id], padded with pad_id to a length L, L a multiple of "
                      "length_multiple and at most max_length (any such L gives the same vectors)")
            if part != "decoder" else None,
        },
        "latent_dim": c.latent_dim,
        "embedding_dim": model.embedding_dim,
        "hypertext_version": __version__,
    }


def _name_onnx_output(path, name):
    """Renames the ONNX file's one output (tf2onnx calls it "Identity:0") to `name`."""
    import onnx

    graph_model = onnx.load(path)
    old = graph_model.graph.output[0].name
    for node in graph_model.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
    graph_model.graph.output[0].name = name
    onnx.save(graph_model, path)


def _check_free(paths, overwrite):
    taken = [p for p in paths if os.path.lexists(p)]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]!r} already exists. Choose another output, or pass overwrite=True "
                              "(--overwrite).")


def _replace(tmp, path):
    """Moves the finished `tmp` to `path`, removing what was at `path` (only reached with `overwrite`)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    os.replace(tmp, path)


def export(model, part=None, format="tf_saved_model", path=None, overwrite=False, verbose=False):
    """Writes `model`'s sentence embedding, encoder or decoder to `path` as a SavedModel folder or an ONNX file, with the SentencePiece
    model and a JSON description beside it (see the module docstring).

    Args:
        model: a TextAutoencoder with its tokenizer, or a checkpoint path or preset name (`hypertext.load`).
        part: "embedding", "encoder" or "decoder"; None: "embedding" for a model with a sentence-embedding head,
            else "encoder" (`default_part`).
        format: "tf_saved_model" (a folder; its endpoint is `serve`) or "onnx" (a file; needs tf2onnx).
        path: where to write the artifact.
        overwrite: replace an artifact (and its side files) already at `path`; otherwise that is an error.
        verbose: let Keras and tf2onnx print their progress.

    Returns:
        A dict of the paths written: `artifact`, `tokenizer`, `description`.

    Raises:
        ValueError: a bad `part` or `format`, a backend other than TensorFlow, a model without tokenizer.
        FileExistsError: `path` or a side file exists and `overwrite` is False.
        FileNotFoundError: `path`'s folder does not exist; no checkpoint at `model`.
        CheckpointError (a ValueError): `model` names a file that is not a loadable checkpoint.
    """
    part = None if part is None else check_choice("part", part, PARTS)
    format = check_choice("format", format, FORMATS)
    if path is None:
        raise ValueError("`path` is required: where to write the artifact. Received: path=None")
    if keras.backend.backend() != "tensorflow":
        raise ValueError("Exporting needs the TensorFlow backend (set KERAS_BACKEND=tensorflow). "
                         f"Received: backend={keras.backend.backend()}")
    path = os.path.normpath(os.fspath(path))  # a folder's trailing slash would hide its name
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"The output folder of {path!r} does not exist.")
    tokenizer_file, description_file = side_files(path)
    _check_free([path, tokenizer_file, description_file], overwrite)
    if format == "onnx":
        try:
            import onnx  # noqa: F401  (tf2onnx needs it)
            import tf2onnx  # noqa: F401
        except ImportError as e:
            raise ValueError(f"ONNX export needs tf2onnx and onnx ({e}). Install them with "
                             "`pip install hypertext[export]`.") from None
        register_tf2onnx_erfc()
    if isinstance(model, (str, os.PathLike)):
        from hypertext.saving import load

        model = load(model)
    part = default_part(model) if part is None else part
    tokenizer = model.embedding_tokenizer if part == "embedding" else model.tokenizer
    if tokenizer is None:
        raise ValueError("This model has no tokenizer; an export writes it beside the artifact.")
    proto = tokenizer.processor.serialized_model_proto()  # a ValueError if the tokenizer has no model
    model.build()
    c = model.config
    if part == "embedding":
        wrapper = _Embedder(model, name="embedding")
        signature = [keras.InputSpec(shape=(None, None), dtype="int32", name="token_ids")]
    elif part == "encoder":
        wrapper = _Encoder(model, name="encoder")
        signature = [keras.InputSpec(shape=(None, None), dtype="int32", name="token_ids")]
    else:
        wrapper = _Decoder(model, name="decoder")
        signature = [keras.InputSpec(shape=(None, c.latent_dim), dtype="float32", name="z"),
                     keras.InputSpec(shape=(), dtype="int32", name="length")]
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        with warnings.catch_warnings():
            # Keras' tf2onnx patch tests for `np.object`, which NumPy 2 answers with a FutureWarning.
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            wrapper.export(tmp, format=format, verbose=verbose, input_signature=signature)
        if format == "onnx":
            _name_onnx_output(tmp, {"embedding": "embedding", "encoder": "z", "decoder": "token_ids"}[part])
        with open(tmp + ".spm", "wb") as f:
            f.write(proto)
        with open(tmp + ".json", "w") as f:
            json.dump(describe(model, part, format, path), f, indent=2)
        _replace(tmp + ".spm", tokenizer_file)
        _replace(tmp + ".json", description_file)
        _replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".spm", tmp + ".json"):
            if os.path.isdir(leftover):
                shutil.rmtree(leftover)
            elif os.path.lexists(leftover):
                os.remove(leftover)
    return {"artifact": path, "tokenizer": tokenizer_file, "description": description_file, "part": part}
