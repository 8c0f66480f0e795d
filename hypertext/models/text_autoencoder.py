"""`TextAutoencoder`: what `hypertext.load` returns, a backbone and a tokenizer with the text API."""

import keras
import numpy as np
from keras import ops

from hypertext.models.hypertext_backbone import HypertextBackbone
from hypertext.models.hypertext_preprocessor import HypertextPreprocessor
from hypertext.models.latent_prior import LatentPrior
from hypertext.models.lexicon import Lexicon
from hypertext.models.sentence_encoder import SentenceEncoder  # noqa: F401 (registers it for loading)
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID
from hypertext import vectors as vector_conventions


@keras.saving.register_keras_serializable(package="hypertext")
class TextAutoencoder(keras.Model):
    """A hypernetwork text autoencoder that reads and writes text: a `HypertextBackbone` (ids → z → logits), its
    tokenizer, and a `HypertextPreprocessor` built from them. It holds no training-only weight: training wraps the
    same backbone in a `hypertext.models.AutoencoderTask`, which owns the objectives' heads.

    The tokenizer is saved into the `.keras` file as an asset, so `hypertext.load(path)` gives back a model that
    reads and writes text. So are the two things that make the latent space usable away from the encoder's exact
    outputs, which `train()` fits at the end of a run: `prior`, a `LatentPrior` (a Gaussian fitted to training
    latents, for `sample`), and `lexicon`, a `Lexicon` (the training corpus's words, with which `sample` and
    `interpolate` decode, so that every word they write is a real one).

    Args:
        config: a `hypertext.configs.ModelConfig`, a recipe `Config` or a dict: builds a new backbone. Pass this
            or `backbone`.
        tokenizer: a `SentencePieceTokenizer` (optional for the array API, required for the text API).
        metadata: JSON-able dict saved with the model (train.py records the corpus it trained on).
        backbone: an existing `HypertextBackbone` (shared, not copied).
        sentence_encoder: an optional `SentenceEncoder` (with its own tokenizer): when given, `encode()` returns its
            vectors, and `encode_latent()`, `decode()` and `reconstruct()` keep using the backbone. The widths it was
            trained to be truncated to become `metadata["matryoshka_dims"]`.

    Call arguments:
        token_ids: as `HypertextBackbone`'s (the call runs the backbone).

    Returns:
        float32 logits `(batch, length, vocab_size)`.

    Example:

    >>> model = hypertext.load("wordnet")   # or a path to a model.keras
    >>> model.reconstruct(["a small domesticated carnivore"])
    ['a small domesticated carnivore']
    """

    def __init__(self, config=None, tokenizer=None, metadata=None, backbone=None, sentence_encoder=None, **kwargs):
        super().__init__(**kwargs)
        if (config is None) == (backbone is None):
            raise ValueError("Pass one of `config` and `backbone`. Received: "
                             f"config={'None' if config is None else 'given'}, "
                             f"backbone={'None' if backbone is None else 'given'}")
        self.backbone = HypertextBackbone(config, dtype=self.dtype_policy) if backbone is None else backbone
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        self.prior = LatentPrior(self.config.latent_dim, name="latent_prior")
        self.lexicon = Lexicon(name="lexicon")
        self.sentence_encoder = sentence_encoder
        if sentence_encoder is not None and sentence_encoder.matryoshka_dims:
            self.metadata.setdefault(vector_conventions.MATRYOSHKA_KEY, list(sentence_encoder.matryoshka_dims))
        self.built = self.backbone.built

    @property
    def config(self):
        """The backbone's `ModelConfig`."""
        return self.backbone.config

    @property
    def length_multiple(self):
        return self.backbone.length_multiple

    @property
    def preprocessor(self):
        """The `HypertextPreprocessor` of this model's tokenizer and lengths."""
        c = self.config
        return HypertextPreprocessor(self.tokenizer, c.max_length, self.length_multiple, c.reconstruct_window)

    # ---- the sentence-embedding function: `encode()`, `hypertext-encode`, the `embedding` export and calibration
    # read the vectors only through these four members (a model with another embedding module overrides them).

    @property
    def embedding_tokenizer(self):
        """The tokenizer whose ids `embed_ids` reads: the `sentence_encoder`'s when the model has one, else this
        model's `tokenizer`."""
        if self.sentence_encoder is not None:
            return self.sentence_encoder.tokenizer
        return self.tokenizer

    @property
    def embedding_preprocessor(self):
        """The `HypertextPreprocessor` that makes the ids `embed_ids` reads (the `sentence_encoder`'s, else this
        model's `preprocessor`)."""
        if self.sentence_encoder is not None:
            return self.sentence_encoder.preprocessor
        return self.preprocessor

    @property
    def embedding_dim(self):
        """The width of what `encode()` returns: the `sentence_encoder`'s `output_dim`, else the head's
        `embedding_dim`, or `latent_dim` without either."""
        if self.sentence_encoder is not None:
            return self.sentence_encoder.output_dim
        return self.config.embedding_dim or self.config.latent_dim

    def embed_ids(self, token_ids):
        """int `(batch, length)` ids of `embedding_preprocessor` → float32 `(batch, embedding_dim)`, the vectors
        `encode()` returns (before truncation, normalisation and quantisation)."""
        if self.sentence_encoder is not None:
            return self.sentence_encoder(token_ids)
        return self.backbone.embed_ids(token_ids)

    def build(self, input_shape=None):
        self.backbone.build()
        if self.sentence_encoder is not None:
            self.sentence_encoder.build()
        self.built = True

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras' `Model.export`, with int32 token ids `(batch, length)` as the default input signature (this model is
        built by a direct call, so Keras has no recorded input shape to take one from). `hypertext-export` writes the
        encoder or the decoder alone (`hypertext.export`)."""
        if input_signature is None:
            input_signature = [keras.InputSpec(shape=(None, None), dtype="int32", name="token_ids")]
        if format == "onnx":
            from hypertext.backend_utils import register_tf2onnx_erfc  # TensorFlow's gelu needs it

            register_tf2onnx_erfc()
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    # ---- the array API ----------------------------------------------------------------------------------------------

    def encode_ids(self, token_ids, training=False):
        """int `(batch, length)` → the sentence embedding `z`, `(batch, latent_dim)`."""
        return self.backbone.encode_ids(token_ids, training=training)

    def decode_latent(self, z, length=None, training=False):
        """`z (batch, latent_dim)` → float32 logits `(batch, length, vocab_size)`; `length` defaults to
        `max_length`."""
        return self.backbone.decode_latent(z, length=length, training=training)

    def call(self, token_ids, training=False):
        return self.backbone(token_ids, training=training)

    # ---- the text API -----------------------------------------------------------------------------------------------
    def texts_to_ids(self, texts):
        """Tokenizes to `(N, max_length)` ids (eos-terminated, padded), warning when texts are truncated."""
        return self.preprocessor.texts_to_ids(texts)

    def _compiled(self, name, fn):
        """`fn` compiled once per model for inference: on TensorFlow a `tf.function` (it reads the variables at every
        call, and relaxes to an unknown batch and length after a few shapes); on JAX a `jax.jit` of `fn` made
        stateless (the model's variables are an argument, read at every call, so new weights are seen, never frozen
        into the compiled function; one compile per batch shape); on PyTorch `fn` itself, run eagerly."""
        cache = self.__dict__.setdefault("_inference_functions", {})  # not a tracked Keras attribute
        if name not in cache:
            backend = keras.backend.backend()
            if backend == "tensorflow":
                import tensorflow as tf

                fn = tf.function(fn, reduce_retracing=True)
            elif backend == "jax":
                fn = _stateless_jit(fn, self.variables)
            cache[name] = fn
        return cache[name]

    def encode(self, texts, batch_size=256, normalize=False, precision="float32", truncate_dim=None,
               show_progress_bar=False):
        """Sentence embeddings: `list[str]` → `(N, dim)` vectors. Deterministic; any N, including 0.

        `dim` is `embedding_dim` for a model with a sentence-embedding head (its output, trained for similarity),
        else `latent_dim` (z itself). `decode` reads z: `encode_latent` returns it for any model.

        Compare vectors by cosine similarity (what `evaluate.py --noise` uses); `normalize=True` returns them scaled
        to unit L2 norm, so that a dot product is the cosine.

        A text's vector does not depend on the other texts of the call: alone or in a batch, it is the same (within
        float32 round-off). Texts are grouped by length, so the cost follows their length. A text longer than
        `max_length` pieces (eos included) is encoded from its first `max_length - 1` pieces, with one warning per
        call giving the count.

        Args:
            texts: a list of strings.
            batch_size: texts per forward pass.
            normalize: scale each vector (after truncation) to unit length.
            precision: "float32" (the default), "int8" or "uint8" (each dimension mapped onto 256 levels from
                ranges calibrated on training texts, saved in the checkpoint: `calibrate_vectors`), "binary" or
                "ubinary" (sign bits packed 8 to a byte, int8 or uint8, width `ceil(dim / 8)`); see
                `hypertext.vectors`.
            truncate_dim: keep the first `truncate_dim` dimensions; only for a model trained for it, which lists
                the widths in `metadata["matryoshka_dims"]` (others refuse it).
            show_progress_bar: a progress bar on stderr.
        """
        vector_conventions.finish(np.zeros((0, self.embedding_dim), "float32"), precision, truncate_dim, normalize,
                                  self.metadata)  # every argument checked before any work
        vectors = self._encode_with("embed", self.embed_ids, texts, batch_size, self.embedding_dim,
                                    self.embedding_preprocessor, show_progress_bar)
        return vector_conventions.finish(vectors, precision, truncate_dim, normalize, self.metadata)

    def encode_latent(self, texts, batch_size=256, show_progress_bar=False):
        """The latents `z` of texts, float32 `(N, latent_dim)`: what `decode` reads (for a model without a
        sentence-embedding head, the same as `encode`)."""
        return self._encode_with("encode", self.backbone.encode_ids, texts, batch_size, self.config.latent_dim,
                                 self.preprocessor, show_progress_bar)

    def _encode_with(self, name, fn, texts, batch_size, dim, preprocessor, show_progress_bar=False):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        pieces = preprocessor.tokenize(texts)
        preprocessor.warn_long(pieces, "encoded from their first max_length - 1 pieces")
        sequences = preprocessor.first_windows(pieces)
        if not sequences:
            return np.zeros((0, dim), "float32")
        bar = vector_conventions.Progress(len(sequences), enabled=bool(show_progress_bar))
        rows = preprocessor.map_by_length(self._compiled(name, fn), sequences, batch_size, on_batch=bar.update)
        bar.close()
        return np.stack(rows).astype("float32")

    def calibrate_vectors(self, texts, limit=20_000, seed=0, batch_size=256):
        """Measures the per-dimension ranges that `encode(precision="int8" | "uint8")` maps onto 256 levels, on (a
        seeded sample of at most `limit` of) `texts`, training texts; stores them in `metadata["vector_ranges"]`
        (saved with the model), for the sentence embedding and for z, raw and unit-length, at the full width and
        each declared `metadata["matryoshka_dims"]`. `train()` calls it at the end of a run. Returns the model."""
        texts = list(texts)
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(texts), size=min(limit, len(texts)), replace=False)) if texts else []
        sample = [texts[i] for i in chosen]
        ranges = vector_conventions.calibration(
            self._encode_with("embed", self.embed_ids, sample, batch_size, self.embedding_dim,
                              self.embedding_preprocessor),
            "embedding", vector_conventions.matryoshka_dims(self.metadata))
        ranges.update(vector_conventions.calibration(self.encode_latent(sample, batch_size), "latent"))
        self.metadata[vector_conventions.RANGES_KEY] = ranges
        self.metadata["vector_ranges_texts"] = len(sample)
        return self

    def decode(self, z, batch_size=256, lexicon=False):
        """`(N, latent_dim)` vectors → `list[str]`, decoded at `max_length` and cut at the first eos: the greedy
        (argmax) piece at each position, or with `lexicon=True` the likeliest piece that keeps the text a sequence of
        the training corpus's words (`Lexicon.decode_logits`; the model's lexicon must be fitted)."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            hint = (f" `encode()` of this model returns its sentence embedding ({self.embedding_dim}-d), which is not "
                    "z." if self.embedding_dim != self.config.latent_dim else "")
            raise ValueError(f"`decode` reads latents z of shape (N, {self.config.latent_dim}), as "
                             f"`encode_latent(texts)` returns them.{hint} Received: z.shape={z.shape}")
        tokenizer = self.preprocessor.require_tokenizer()
        if len(z) == 0:
            return []
        if lexicon:
            logits = self._compiled("logits", self.backbone.decode_latent)
            return tokenizer.decode([row for i in range(0, len(z), batch_size) for row in self.lexicon.decode_logits(
                keras.ops.convert_to_numpy(logits(z[i:i + batch_size])), tokenizer)])
        decode = self._compiled("decode", lambda z: ops.argmax(self.backbone.decode_latent(z), axis=-1))
        ids = [keras.ops.convert_to_numpy(decode(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
        return tokenizer.decode(np.concatenate(ids))

    def sample(self, n, seed=None, batch_size=256):
        """`n` new texts: latents drawn from the model's prior (`prior`, a Gaussian fitted to training latents),
        decoded with its lexicon. The same `seed` gives the same texts."""
        return self.decode(self.prior.sample(n, seed=seed), batch_size=batch_size, lexicon=True)

    def fit_latent_space(self, texts, prior_texts=20_000, seed=0, batch_size=256):
        """Fits `prior` to the latents of (a seeded sample of at most `prior_texts` of) `texts` and builds `lexicon`
        from the words of all of them; `train()` calls it with the training split at the end of a run."""
        texts = list(texts)
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(texts), size=min(prior_texts, len(texts)), replace=False) if texts else []
        self.prior.fit(self.encode_latent([texts[i] for i in sorted(chosen)], batch_size=batch_size))
        self.lexicon.set_words(Lexicon.from_texts(texts).words)
        return self

    def reconstruct_pieces(self, pieces, batch_size=256, window=None):
        """Token-id sequences (no eos) → their greedy reconstructions (no eos), each as long as the model made it.

        A sequence of at most `window` pieces (default: the config's `reconstruct_window`, capped at
        `max_length - 1`) is encoded and decoded at its bucket length. A longer one of n pieces is cut into
        `k = ceil(n / window)` consecutive windows of nearly equal size (their lengths differ by at most one); each
        window is reconstructed on its own, as a text of its own ending in eos, and the windows' outputs are joined
        in order, so the whole text comes back. A smaller `window` trades more windows for shorter ones, which these
        models reconstruct more accurately."""
        preprocessor = self.preprocessor
        sequences, owner = preprocessor.windows(pieces, window)
        if not sequences:
            return []
        reconstruct = self._compiled("reconstruct", lambda ids: ops.argmax(self(ids), axis=-1))
        predicted = preprocessor.map_by_length(reconstruct, sequences, batch_size)
        out = [[] for _ in pieces]
        for i, row in zip(owner, predicted):
            row = row.tolist()
            out[i].extend(row[:row.index(EOS_ID)] if EOS_ID in row else row)
        return out

    def reconstruct(self, texts, batch_size=256):
        """Encodes then decodes: `list[str]` → `list[str]`, texts of any length (longer ones window by window,
        see `reconstruct_pieces`)."""
        pieces = self.preprocessor.tokenize(texts)
        return self.tokenizer.decode(self.reconstruct_pieces(pieces, batch_size)) if pieces else []

    def interpolate(self, first, second, steps=5):
        """Decodes `steps` points on the straight line from `z` of `first` to `z` of `second`: the ends as `decode`
        does, the points between with the lexicon when the model has one (so that they are made of real words)."""
        if not isinstance(steps, int) or steps < 2:
            raise ValueError(f"`steps` must be an integer >= 2. Received: steps={steps!r}")
        z = self.encode_latent([first, second])
        weights = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        points = (1 - weights) * z[0] + weights * z[1]
        ends = self.decode(points[[0, -1]])
        middle = self.decode(points[1:-1], lexicon=bool(self.lexicon.words)) if steps > 2 else []
        return [ends[0], *middle, ends[1]]

    # ---- serialisation ----------------------------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tokenizer": None if self.tokenizer is None else keras.saving.serialize_keras_object(self.tokenizer),
            "metadata": self.metadata,
            "sentence_encoder": (None if self.sentence_encoder is None
                                 else keras.saving.serialize_keras_object(self.sentence_encoder)),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("tokenizer") is not None:
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        if "backbone" in config:
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("sentence_encoder") is not None:
            config["sentence_encoder"] = keras.saving.deserialize_keras_object(config["sentence_encoder"])
        # (A checkpoint written before the split has `config` (a flat config) instead of `backbone`: it builds a
        # backbone from it; `hypertext.saving.load` then maps its weights, see hypertext.saving.legacy.)
        return cls(**config)


def _stateless_jit(fn, variables):
    """`fn(*args)` as one `jax.jit` function that takes the current values of `variables` at each call (Keras'
    `StatelessScope` maps each variable to its traced value), so the compiled function never holds stale weights."""
    import jax

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    jitted = jax.jit(pure)
    return lambda *args: jitted([v.value for v in variables], *args)
