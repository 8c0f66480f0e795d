"""Reusing HyperConv2D in your own model: an image classifier whose conv filters depend on a per-example query.

Task: each example is a 10x10 grid of random +-1 pixels plus a query id. The label is 1 when the grid contains the 3x3
pattern that the query names. Every grid also holds a distractor (another query's pattern), so the conv must look
for a *different* pattern in every example. A HyperConv2D generates that example's filters from the query. The two
baselines hold more parameters and see the same query: a Conv2D with the query concatenated to every pixel
("concat"), and a Conv2D whose feature maps are scaled and shifted by the query (FiLM, Perez et al. 2018).

    python examples/pattern_classifier_2d.py            # trains the three models and prints their test accuracy
"""

import argparse

import keras
import numpy as np

from hypertext.layers import HyperConv2D

SIZE, PATTERN, NUM_PATTERNS = 10, 3, 16


def make_pattern_task(num_examples, seed=0):
    """Returns `((grids, query_one_hot), labels)`; grids are `(n, SIZE, SIZE, 1)` in {-1, 1}. The patterns are fixed
    (seed 0); the label is computed exactly, so a pattern that turns up by chance counts."""
    patterns = np.random.default_rng(0).choice([-1.0, 1.0], size=(NUM_PATTERNS, PATTERN, PATTERN))
    rng = np.random.default_rng(seed)
    grids = rng.choice([-1.0, 1.0], size=(num_examples, SIZE, SIZE))
    query = rng.integers(0, NUM_PATTERNS, size=num_examples)
    for i in range(num_examples):
        distractor = (query[i] + rng.integers(1, NUM_PATTERNS)) % NUM_PATTERNS
        corners = rng.integers(0, SIZE - PATTERN + 1, size=(2, 2))
        (r0, c0), (r1, c1) = corners
        grids[i, r0:r0 + PATTERN, c0:c0 + PATTERN] = patterns[distractor]
        if rng.random() < 0.5:
            grids[i, r1:r1 + PATTERN, c1:c1 + PATTERN] = patterns[query[i]]
    windows = np.lib.stride_tricks.sliding_window_view(grids, (PATTERN, PATTERN), axis=(1, 2))  # (n, 8, 8, 3, 3)
    labels = (windows == patterns[query][:, None, None]).all((-1, -2)).any((-1, -2)).astype("float32")
    return (grids[..., None].astype("float32"), np.eye(NUM_PATTERNS, dtype="float32")[query]), labels


def _inputs():
    return keras.Input((SIZE, SIZE, 1), name="grid"), keras.Input((NUM_PATTERNS,), name="query")


def _head(features, inputs):
    pooled = keras.layers.GlobalMaxPooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))


def build_hyper_classifier(filters=8, num_bases=16):
    grid, query = _inputs()
    # The core line: the conv's filters are generated per example from the query.
    hits = HyperConv2D(filters, PATTERN, activation="relu", mode="basis", num_bases=num_bases)(grid, query)
    return _head(hits, [grid, query])


def build_concat_classifier(filters=32):
    grid, query = _inputs()
    tiled = keras.layers.Lambda(lambda q: keras.ops.tile(q[:, None, None, :], (1, SIZE, SIZE, 1)))(query)
    both = keras.layers.Concatenate()([grid, tiled])
    return _head(keras.layers.Conv2D(filters, PATTERN, activation="relu")(both), [grid, query])


def build_film_classifier(filters=36):
    grid, query = _inputs()
    features = keras.layers.Conv2D(filters, PATTERN)(grid)
    scale = keras.layers.Reshape((1, 1, filters))(keras.layers.Dense(filters)(query))
    shift = keras.layers.Reshape((1, 1, filters))(keras.layers.Dense(filters)(query))
    modulated = keras.layers.Activation("relu")(features * (1.0 + scale) + shift)
    return _head(modulated, [grid, query])


BUILDERS = {"HyperConv2D": build_hyper_classifier, "Conv2D + concatenated query": build_concat_classifier,
            "Conv2D + FiLM": build_film_classifier}


def train_and_score(model, train, test, epochs=20, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model.fit(train[0], train[1], batch_size=64, epochs=epochs, verbose=0)
    return float(model.evaluate(test[0], test[1], verbose=0)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train", type=int, default=6000, help="training examples")
    parser.add_argument("--test", type=int, default=2000, help="test examples")
    args = parser.parse_args(argv)
    train, test = make_pattern_task(args.train, seed=1), make_pattern_task(args.test, seed=2)
    results = {}
    for name, build in BUILDERS.items():
        keras.utils.set_random_seed(0)
        model = build()
        accuracy = train_and_score(model, train, test, args.epochs)
        results[name] = (model.count_params(), accuracy)
        print(f"{name:30s} params={model.count_params():6d} test accuracy={accuracy:.3f}")
    return results


if __name__ == "__main__":
    main()
