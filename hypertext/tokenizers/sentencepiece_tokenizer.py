import io
import os

import keras
import numpy as np
import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
MODEL_TYPES = ("unigram", "bpe")
ASSET_FILE = "sentencepiece.model"


@keras.saving.register_keras_serializable(package="hypertext")
class SentencePieceTokenizer(keras.layers.Layer):
    """A SentencePiece tokenizer that travels inside `.keras` files.

    Special ids are fixed: pad=0, unk=1, bos=2, eos=3. Training turns on byte fallback, so any text (accents, CJK,
    emoji, control characters) round-trips through `encode` and `decode` even when its characters are rare.

    Following keras-hub, the serialized model proto is *not* in the JSON config: `save_assets` writes it next to the
    weights inside the `.keras` archive and `load_assets` reads it back, so `keras.saving.load_model` (and
    `hypertext.load`) restore the tokenizer with the model.

    Args:
        proto: the serialized SentencePiece model, as bytes or a path to a `.model` file; None for a tokenizer whose
            model arrives later through `load_assets` (what deserialisation does).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> tok = SentencePieceTokenizer.from_texts(["a small domesticated carnivore", "a large cat"] * 50, vocab_size=300)
    >>> tok.decode(tok.encode(["a small cat"]))
    ['a small cat']
    """

    def __init__(self, proto=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self._processor = None
        self.proto = None
        if proto is not None:
            self.set_proto(proto)

    # ----------------------------------------------------------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts, vocab_size=8000, model_type="unigram", character_coverage=0.9995,
              max_training_sentences=200_000, seed_sentencepiece_size=200_000, seed=0, **kwargs):
        """Trains a tokenizer on an iterable of strings. (Not named `train`: on the torch backend every Keras layer is
        a `torch.nn.Module`, whose `train(mode)` Keras calls.)

        Args:
            texts: iterable of str. Empty strings are skipped.
            vocab_size: int, the vocabulary size, special and byte-fallback pieces included (so at least 260 + a few).
            model_type: "unigram" or "bpe".
            character_coverage: fraction of characters covered by pieces; the rest fall back to bytes.
            max_training_sentences: at most this many sentences (a random sample) train the model, which keeps large
                corpora fast.
            seed: seeds SentencePiece's sampling of those sentences, so the same texts and seed give the same
                tokenizer.
        """
        if model_type not in MODEL_TYPES:
            raise ValueError(f"`model_type` must be one of {MODEL_TYPES}. Received: model_type={model_type!r}")
        if not isinstance(vocab_size, int) or vocab_size < 261:
            raise ValueError(
                "`vocab_size` must be an integer >= 261 (4 special ids + 256 byte pieces + at least one more). "
                f"Received: vocab_size={vocab_size!r}"
            )
        sentences = [t for t in texts if t and t.strip()]
        if not sentences:
            raise ValueError("Cannot train a tokenizer on an empty corpus: every text was empty.")
        model = io.BytesIO()
        spm.set_random_generator_seed(int(seed))
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                input_sentence_size=max_training_sentences,
                shuffle_input_sentence=True,
                seed_sentencepiece_size=seed_sentencepiece_size,
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                byte_fallback=True,
                hard_vocab_limit=False,
                minloglevel=2,
                # One thread: with several, the result can change with the machine's load (seen here: two runs
                # on the same texts gave different vocabularies), and runs must be reproducible.
                num_threads=1,
            )
        except RuntimeError as e:  # SentencePiece's own checks, e.g. a vocabulary too small for the characters seen
            raise ValueError(f"SentencePiece could not train with vocab_size={vocab_size}: "
                             f"{str(e).split('] ')[-1]}") from None
        return cls(proto=model.getvalue(), **kwargs)

    def set_proto(self, proto):
        """Loads a SentencePiece model from bytes or from a file path."""
        if isinstance(proto, (str, os.PathLike)):
            if not os.path.isfile(proto):
                raise FileNotFoundError(f"No SentencePiece model at {os.fspath(proto)!r}.")
            with open(proto, "rb") as f:
                proto = f.read()
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except Exception as e:  # sentencepiece raises RuntimeError / OSError with terse messages
            raise ValueError(f"Not a valid SentencePiece model ({len(proto)} bytes): {e}") from None
        self._processor = processor
        self.proto = bytes(proto)

    @property
    def has_model(self):
        """Whether the tokenizer holds a SentencePiece model (trained, given, or loaded from a `.keras` file)."""
        return self._processor is not None

    @property
    def processor(self):
        if self._processor is None:
            raise ValueError(
                "This SentencePieceTokenizer has no model: train it, pass `proto=`, or load it from a `.keras` file "
                "that contains its asset."
            )
        return self._processor

    @property
    def vocab_size(self):
        return self.processor.GetPieceSize()

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    # ----------------------------------------------------------------------------------------------------------------
    def encode(self, texts, add_eos=False):
        """`list[str] -> list[list[int]]`, optionally ending every sequence with eos."""
        ids = self.processor.EncodeAsIds(list(texts))
        if add_eos:
            ids = [seq + [EOS_ID] for seq in ids]
        return ids

    def encode_padded(self, texts, length, add_eos=True):
        """Encodes and pads (with pad=0) or truncates to `length`. Returns `(ids int32 (N, length), num_truncated)`."""
        sequences = self.encode(texts, add_eos=add_eos)
        ids = np.zeros((len(sequences), length), dtype="int32")
        truncated = 0
        for i, seq in enumerate(sequences):
            if len(seq) > length:
                truncated += 1
                seq = seq[:length]
            ids[i, : len(seq)] = seq
        return ids, truncated

    def decode(self, ids):
        """Decodes a batch of id sequences (lists or a 2D array) to `list[str]`, or one flat sequence to `str`.

        Decoding stops at the first eos and drops pad, bos and unk ids.
        """
        ids = ids.tolist() if isinstance(ids, np.ndarray) else ids
        if len(ids) and not isinstance(ids[0], (list, tuple, np.ndarray)):
            return self.decode([ids])[0]
        out = []
        for seq in ids:
            seq = list(seq)
            if EOS_ID in seq:
                seq = seq[: seq.index(EOS_ID)]
            out.append(self.processor.DecodeIds([int(i) for i in seq if int(i) not in (PAD_ID, BOS_ID, UNK_ID)]))
        return out

    # ----------------------------------------------------------------------------------------------------------------
    def call(self, inputs):
        raise NotImplementedError(
            "SentencePieceTokenizer works on Python strings outside the graph: use encode()/decode()."
        )

    def get_config(self):
        # The model proto is an asset (see save_assets), never part of the JSON config.
        return super().get_config()

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, ASSET_FILE), "wb") as f:
            f.write(self.processor.serialized_model_proto())

    def load_assets(self, dir_path):
        path = os.path.join(dir_path, ASSET_FILE)
        if not os.path.isfile(path):
            raise ValueError("The `.keras` file has no tokenizer asset (assets/.../sentencepiece.model is missing).")
        self.set_proto(path)
