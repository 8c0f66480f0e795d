"""The 2D per-sample task of examples/pattern_classifier_2d.py, run tiny: the data are exact and the three models
build, train and score. The measured comparison (full size) is in docs/layers-2d.md."""

import numpy as np

from examples import pattern_classifier_2d as example


def test_task_labels_are_balanced_and_exact():
    (grids, query), labels = example.make_pattern_task(400, seed=3)
    assert grids.shape == (400, 10, 10, 1) and query.shape == (400, 9)
    assert set(np.unique(grids)) == set(np.unique(query)) == {-1.0, 1.0}
    assert 0.4 < labels.mean() < 0.7
    for i in range(40):  # brute force, against the vectorised labels
        pattern = query[i].reshape(3, 3)
        found = any((grids[i, r:r + 3, c:c + 3, 0] == pattern).all() for r in range(8) for c in range(8))
        assert found == bool(labels[i])


def test_example_runs_tiny():
    results = example.main(["--epochs", "1", "--train", "256", "--test", "128"])
    assert set(results) == set(example.BUILDERS)
    hyper_params = results["HyperConv2D"][0]
    assert all(params > hyper_params for name, (params, _) in results.items() if name != "HyperConv2D")
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in results.values())
