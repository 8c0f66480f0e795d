"""`HypertextPreprocessor`: texts -> the token-id windows a backbone reads, grouped into length buckets."""

import warnings

import keras

from hypertext.lengths import group_by_length, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID


class HypertextPreprocessor:
    """Turns texts into what a `HypertextBackbone` reads, and runs a function over them bucket by bucket.

    A text of `n` pieces becomes an eos-terminated sequence of at most `max_length` ids: for encoding, its first
    `max_length - 1` pieces (`first_windows`); for reconstruction, `k = ceil(n / window)` consecutive windows of
    nearly equal size (`windows`). `map_by_length` pads sequences of similar length to a shared bucket length (a
    multiple of `length_multiple`) and runs a model function on each bucket.

    Args:
        tokenizer: a `SentencePieceTokenizer` (or None: then only the id-level methods work).
        max_length: the backbone's `max_length`.
        length_multiple: the backbone's `2**num_stages`.
        reconstruct_window: the default `window` of `windows`, capped at `max_length - 1`.

    Example:

    >>> preprocessor = HypertextPreprocessor(tokenizer, max_length=128, length_multiple=2)
    >>> ids = preprocessor.texts_to_ids(["a small domesticated carnivore"])   # (1, 128)
    """

    def __init__(self, tokenizer, max_length, length_multiple, reconstruct_window=24):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.length_multiple = length_multiple
        self.reconstruct_window = reconstruct_window

    def tokenize(self, texts):
        """`list[str]` → token-id sequences (no eos). A single str is an error."""
        if isinstance(texts, str):
            raise ValueError("Pass a list of texts, not a single string. Received: a str")
        return self.require_tokenizer().encode(list(texts))

    def require_tokenizer(self):
        if self.tokenizer is None or not self.tokenizer.has_model:
            raise ValueError("This model has no tokenizer: the text API (encode, reconstruct, decode) needs one.")
        return self.tokenizer

    def first_windows(self, pieces):
        """What the encoder reads of each token-id sequence (no eos): its first `max_length - 1` pieces, then eos."""
        return [list(p[:self.max_length - 1]) + [EOS_ID] for p in pieces]

    def warn_long(self, pieces, action, stacklevel=4):
        """One warning giving how many of `pieces` are longer than `max_length` (eos included) and what was done."""
        long = sum(len(p) + 1 > self.max_length for p in pieces)
        if long:
            warnings.warn(f"{long} of {len(pieces)} texts were longer than max_length={self.max_length} "
                          f"tokens (eos included) and were {action}.", stacklevel=stacklevel)

    def texts_to_ids(self, texts):
        """Tokenizes to `(N, max_length)` ids (eos-terminated, padded), warning when texts are truncated."""
        pieces = self.tokenize(texts)
        self.warn_long(pieces, "truncated")
        return pad_batch(self.first_windows(pieces), self.max_length)

    def check_window(self, window):
        """`window`, or the default (`reconstruct_window` capped at `max_length - 1`) for None; checked."""
        if window is None:
            window = min(self.reconstruct_window, self.max_length - 1)
        if not isinstance(window, int) or not 1 <= window <= self.max_length - 1:
            raise ValueError(f"`window` must be an integer in [1, max_length - 1 = {self.max_length - 1}]. "
                             f"Received: window={window!r}")
        return window

    def windows(self, pieces, window=None):
        """Cuts each sequence of n pieces into `ceil(n / window)` consecutive windows of nearly equal size (their
        lengths differ by at most one), each eos-terminated. Returns `(windows, owner)`: `owner[i]` is the index in
        `pieces` of window `i`."""
        window = self.check_window(window)
        sequences, owner = [], []
        for i, p in enumerate(pieces):
            count = max(1, -(-len(p) // window))
            bounds = [round(j * len(p) / count) for j in range(count + 1)]
            for start, end in zip(bounds, bounds[1:]):
                sequences.append(list(p[start:end]) + [EOS_ID])
                owner.append(i)
        return sequences, owner

    def map_by_length(self, fn, sequences, batch_size, on_batch=None):
        """Runs `fn(ids (n, L)) -> array (n, ...)` over `sequences` (eos-terminated, each at most `max_length`) in
        batches of texts of similar length, each padded to its bucket length `L`; returns the per-text results (NumPy)
        in input order. `on_batch(count)`, optional, is called after each batch with its number of sequences."""
        lengths = [len(s) for s in sequences]
        results = [None] * len(sequences)
        for indices, length in group_by_length(lengths, batch_size, self.length_multiple, self.max_length):
            out = keras.ops.convert_to_numpy(fn(pad_batch([sequences[i] for i in indices], length)))
            for i, row in zip(indices, out):
                results[i] = row
            if on_batch is not None:
                on_batch(len(indices))
        return results
