"""Reusing HyperConv2D in your own model: an image classifier whose conv filters depend on a per-example query.

Task: each example is a 10x10 grid of random +-1 pixels plus a query: a random 3x3 +-1 pattern, new for every example
(512 possible). The label is 1 when the grid contains the query pattern. Every grid also holds a distractor (another
random pattern), so the conv must look for a *different* pattern in every example. A HyperConv2D generates that
example's filters from the query. The two baselines hold more parameters and see the same query: a Conv2D with the
query concatenated to every pixel ("concat"), and a Conv2D whose feature maps are scaled and shifted by the query
(FiLM, Perez et al. 2018).

    python examples/pattern_classifier_2d.py            # trains the three models and prints their test accuracy
"""

import argparse

import keras
import numpy as np

from hypertext.layers import HyperConv2D

SIZE, PATTERN = 10, 3
QUERY_DIM = PATTERN * PATTERN


def make_pattern_task(num_examples, seed=0):
    """Returns `((grids, queries), labels)`: grids `(n, SIZE, SIZE, 1)` and queries `(n, 9)` (the flattened 3x3
    pattern), both in {-1, 1}. The label is computed exactly, so a query pattern that turns up by chance counts."""
    rng = np.random.default_rng(seed)
    grids = rng.choice([-1.0, 1.0], size=(num_examples, SIZE, SIZE))
    patterns = rng.choice([-1.0, 1.0], size=(num_examples, 2, PATTERN, PATTERN))  # query, distractor
    for i in range(num_examples):
        (r0, c0), (r1, c1) = rng.integers(0, SIZE - PATTERN + 1, size=(2, 2))
        grids[i, r0:r0 + PATTERN, c0:c0 + PATTERN] = patterns[i, 1]
        if rng.random() < 0.5:
            grids[i, r1:r1 + PATTERN, c1:c1 + PATTERN] = patterns[i, 0]
    windows = np.lib.stride_tricks.sliding_window_view(grids, (PATTERN, PATTERN), axis=(1, 2))  # (n, 8, 8, 3, 3)
    labels = (windows == patterns[:, 0, None, None]).all((-1, -2)).any((-1, -2)).astype("float32")
    queries = patterns[:, 0].reshape(num_examples, QUERY_DIM)
    return (grids[..., None].astype("float32"), queries.astype("float32")), labels


def _inputs():
    return keras.Input((SIZE, SIZE, 1), name="grid"), keras.Input((QUERY_DIM,), name="query")


def _head(features, inputs):
    pooled = keras.layers.GlobalMaxPooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))


def build_hyper_classifier(filters=4):
    grid, query = _inputs()
    # The core line: the conv's filters are generated per example from the query.
    hits = HyperConv2D(filters, PATTERN, activation="relu", mode="dense")(grid, query)
    return _head(hits, [grid, query])


def build_concat_classifier(filters=32):
    grid, query = _inputs()
    tiled = keras.layers.Reshape((SIZE, SIZE, QUERY_DIM))(keras.layers.RepeatVector(SIZE * SIZE)(query))
    both = keras.layers.Concatenate()([grid, tiled])
    return _head(keras.layers.Conv2D(filters, PATTERN, activation="relu")(both), [grid, query])


def build_film_classifier(filters=32):
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
