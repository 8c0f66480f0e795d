"""`Lexicon`: the words of a training corpus, for decoding that writes only real words."""

import collections
import os

import keras
import numpy as np

from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID

ASSET_FILE = "lexicon.txt"
_END = -1  # the trie key that marks a complete word


@keras.saving.register_keras_serializable(package="hypertext")
class Lexicon(keras.layers.Layer):
    """The words (whitespace-separated tokens) of a training corpus, and greedy decoding restricted to them.

    The decoder predicts pieces position by position; off the encoder's exact outputs (a midpoint, a sample from the
    prior) the most likely piece at each position often does not continue the word the previous ones began, which
    gives non-words such as "hisomobedicence". `decode_logits` walks the positions left to right and picks, at each,
    the most likely piece among those that keep the text a sequence of lexicon words: a piece that continues the
    current word, or, once that word is complete, a piece that starts a new word, or eos. It is the lexicon-
    constrained decoding of speech and handwriting recognition, on a non-autoregressive decoder.

    The word list travels inside the `.keras` file as an asset (`lexicon.txt`), as the tokenizer's model does.

    Args:
        words: the words, a list of str (none for a lexicon whose words arrive through `load_assets`).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> lexicon = Lexicon.from_texts(["a small cat", "a tall tree"], min_count=1)
    >>> lexicon.words
    ['a', 'cat', 'small', 'tall', 'tree']
    """

    def __init__(self, words=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.set_words(words or ())

    def set_words(self, words):
        """Replaces the words."""
        self.words = sorted(set(words))
        # one trie per tokenizer (and the word set), built on first use; set past Keras' and TensorFlow's attribute
        # tracking, which would otherwise try (and fail) to save its int-keyed dicts in an exported SavedModel
        object.__setattr__(self, "_tries", {})

    @classmethod
    def from_texts(cls, texts, min_count=1, **kwargs):
        """The words of `texts` that occur at least `min_count` times."""
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"`min_count` must be an integer >= 1. Received: min_count={min_count!r}")
        counts = collections.Counter(word for text in texts for word in text.split())
        return cls([word for word, count in counts.items() if count >= min_count], **kwargs)

    def __contains__(self, word):
        return word in self._word_set()

    def _word_set(self):
        if "words" not in self._tries:
            self._tries["words"] = frozenset(self.words)
        return self._tries["words"]

    def _trie(self, tokenizer):
        """The words as a trie over `tokenizer`'s piece ids: `{piece: {piece: ..., _END: None}}`."""
        key = id(tokenizer)
        if key not in self._tries:
            root = {}
            for pieces in tokenizer.encode(self.words) if self.words else []:
                node = root
                for piece in pieces:
                    node = node.setdefault(piece, {})
                node[_END] = None
            starts = np.array(sorted(root) + [EOS_ID], "int64")
            self._tries[key] = (root, starts)
        return self._tries[key]

    def decode_logits(self, logits, tokenizer):
        """`(batch, length, vocab)` logits → one list of piece ids per row (no eos), every word one of the lexicon's.

        Greedy: position by position, the most likely piece that keeps the text a sequence of lexicon words; the row
        ends at the first eos chosen (eos is allowed wherever a word is complete). A word still incomplete at the last
        position is left out."""
        if not self.words:
            raise ValueError("This lexicon has no words: build it with `Lexicon.from_texts(texts)`.")
        root, starts = self._trie(tokenizer)
        logits = np.asarray(logits)
        rows = []
        for row in logits:
            node, out, word_start = root, [], 0
            for scores in row:
                if node is root:
                    allowed = starts
                else:
                    follow = np.fromiter((k for k in node if k != _END), "int64")
                    allowed = np.concatenate([follow, starts]) if _END in node else follow
                piece = int(allowed[np.argmax(scores[allowed])])
                if piece == EOS_ID:
                    break
                if node is root or piece not in node:
                    node, word_start = root[piece], len(out)
                else:
                    node = node[piece]
                out.append(piece)
            rows.append(out if _END in node or node is root else out[:word_start])  # no word cut off at the end
        return rows

    def get_config(self):
        return super().get_config()  # the words are an asset, not config

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, ASSET_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(self.words))

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, ASSET_FILE), encoding="utf-8") as f:
            self.set_words(line for line in f.read().split("\n") if line)
