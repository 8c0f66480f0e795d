"""tf.data input pipelines for the text autoencoder. tf.data feeds `model.fit` on every Keras backend."""

import warnings

import numpy as np


def encode_texts(texts, tokenizer, max_length):
    """Tokenizes once, up front: `(ids int32 (N, max_length), num_truncated)`.

    Each text becomes its pieces followed by eos, padded with 0 or truncated to `max_length`.
    """
    if max_length < 2:
        raise ValueError(f"`max_length` must be an integer >= 2. Received: max_length={max_length!r}")
    ids, truncated = tokenizer.encode_padded(list(texts), max_length, add_eos=True)
    return ids, truncated


def make_dataset(texts, tokenizer, max_length, batch_size, shuffle=True, seed=0, repeat=False,
                 drop_remainder=False):
    """A `tf.data.Dataset` of `(token_ids, token_ids, sample_weights)` batches for an autoencoder.

    The tokenizer runs once over all texts before the pipeline starts, never in the training loop. Texts longer than
    `max_length` pieces (eos included) are truncated, counted and reported with a warning. The sample weights are 1
    on real tokens (eos included) and 0 on padding, so pads count neither in the loss nor in the metrics.

    Args:
        texts: a list of str, or an int array `(N, max_length)` that `encode_texts` made.
        tokenizer: a `SentencePieceTokenizer`.
        max_length: int, the sequence length.
        batch_size: int.
        shuffle: whether to reshuffle every epoch (seeded).
        repeat: whether to repeat forever (use with `steps_per_epoch`).
        drop_remainder: whether to drop the last, smaller batch.
    """
    import tensorflow as tf

    if isinstance(texts, np.ndarray):
        ids = texts.astype("int32")
    else:
        ids, truncated = encode_texts(texts, tokenizer, max_length)
        if truncated:
            warnings.warn(f"{truncated} of {len(ids)} texts were longer than max_length={max_length} pieces and were "
                          "truncated.", stacklevel=2)
    if len(ids) == 0:
        raise ValueError("Cannot make a dataset from no texts.")
    weights = (ids != tokenizer.pad_id).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((ids, ids, weights))
    if shuffle:
        dataset = dataset.shuffle(min(len(ids), 100_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
