"""Reusing HyperConv1D in your own model: a classifier whose conv filters depend on a per-example context.

Task: each example is a token sequence plus a query id. The label is 1 when the sequence contains the 3-token pattern
that the query names. Every sequence also holds a distractor pattern, so the conv must look for a *different*
pattern in every example. A HyperConv1D generates that example's filters from the query; a plain Conv1D must detect
every pattern at once and gate them with the query concatenated to every step.

    python examples/pattern_classifier.py            # trains both models and prints their test accuracy
"""

import argparse

import keras
import numpy as np

from hypertext.layers import HyperConv1D

VOCAB, LENGTH, NUM_PATTERNS = 6, 16, 16


def make_pattern_task(num_examples, seed=0):
    """Returns `((tokens_one_hot, query_one_hot), labels)` for the pattern task; the patterns are fixed by seed 0."""
    patterns = np.random.default_rng(0).permutation(
        np.array(np.meshgrid(*[range(VOCAB)] * 3)).reshape(3, -1).T)[:NUM_PATTERNS]
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, size=(num_examples, LENGTH))
    query = rng.integers(0, NUM_PATTERNS, size=num_examples)
    for i in range(num_examples):
        distractor = (query[i] + rng.integers(1, NUM_PATTERNS)) % NUM_PATTERNS
        first, second = rng.permutation(LENGTH - 2)[:2]
        tokens[i, first:first + 3] = patterns[distractor]
        if rng.random() < 0.5:
            tokens[i, second:second + 3] = patterns[query[i]]
    windows = np.lib.stride_tricks.sliding_window_view(tokens, 3, axis=1)  # (n, LENGTH - 2, 3)
    labels = (windows == patterns[query][:, None, :]).all(-1).any(-1).astype("float32")
    eye = np.eye(max(VOCAB, NUM_PATTERNS), dtype="float32")
    return (eye[tokens][..., :VOCAB], eye[query][:, :NUM_PATTERNS]), labels


def build_hyper_classifier(filters=16, num_bases=8):
    tokens = keras.Input((LENGTH, VOCAB), name="tokens")
    query = keras.Input((NUM_PATTERNS,), name="query")
    # The core lines: the conv's filters are generated per example from the query.
    hits = HyperConv1D(filters, 3, activation="relu", mode="basis", num_bases=num_bases)(tokens, query)
    pooled = keras.layers.GlobalMaxPooling1D()(hits)
    return keras.Model([tokens, query], keras.layers.Dense(1, activation="sigmoid")(pooled))


def build_plain_classifier(filters=48):
    tokens = keras.Input((LENGTH, VOCAB), name="tokens")
    query = keras.Input((NUM_PATTERNS,), name="query")
    both = keras.layers.Concatenate()([tokens, keras.layers.RepeatVector(LENGTH)(query)])
    hits = keras.layers.Conv1D(filters, 3, activation="relu")(both)
    pooled = keras.layers.GlobalMaxPooling1D()(hits)
    return keras.Model([tokens, query], keras.layers.Dense(1, activation="sigmoid")(pooled))


def train_and_score(model, train, test, epochs=30, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model.fit(train[0], train[1], batch_size=64, epochs=epochs, verbose=0)
    return float(model.evaluate(test[0], test[1], verbose=0)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    train, test = make_pattern_task(6000, seed=1), make_pattern_task(2000, seed=2)
    for name, build in [("HyperConv1D", build_hyper_classifier), ("Conv1D + concatenated query",
                                                                   build_plain_classifier)]:
        keras.utils.set_random_seed(0)
        model = build()
        accuracy = train_and_score(model, train, test, args.epochs)
        print(f"{name:30s} params={model.count_params():6d} test accuracy={accuracy:.3f}")


if __name__ == "__main__":
    main()
