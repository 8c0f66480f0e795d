"""The 2D per-sample task of examples/pattern_classifier_2d.py, run tiny: the data are exact and the three models
build, train and score. The measured comparison (full size) is in docs/layers-2d.md."""

import keras
import numpy as np
import pytest

from examples import pattern_classifier_2d as example


@pytest.mark.backends("tensorflow")  # NumPy only
def test_task_labels_are_balanced_and_exact():
    (grids, query), labels = example.make_pattern_task(400, seed=3)
    assert grids.shape == (400, 10, 10, 1) and query.shape == (400, 9)
    assert set(np.unique(grids)) == set(np.unique(query)) == {-1.0, 1.0}
    assert 0.4 < labels.mean() < 0.7
    for i in range(40):  # brute force, against the vectorised labels
        pattern = query[i].reshape(3, 3)
        found = any((grids[i, r:r + 3, c:c + 3, 0] == pattern).all() for r in range(8) for c in range(8))
        assert found == bool(labels[i])


def test_example_runs_tiny(monkeypatch):
    scored = {}
    train_and_score = example.train_and_score

    def recording(model, train, test, *args, **kwargs):
        before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
        accuracy = train_and_score(model, train, test, *args, **kwargs)
        moved = np.mean([not np.array_equal(b, keras.ops.convert_to_numpy(w))
                         for b, w in zip(before, model.trainable_weights)]) > 0.5
        scored[model.count_params()] = (model, test, accuracy, moved)
        return accuracy

    monkeypatch.setattr(example, "train_and_score", recording)
    results = example.main(["--epochs", "1", "--train", "256", "--test", "128"])
    assert set(results) == set(example.BUILDERS)
    hyper_params = results["HyperConv2D"][0]
    assert all(params > hyper_params for name, (params, _) in results.items() if name != "HyperConv2D")
    assert len(scored) == 3
    for name, (params, accuracy) in results.items():
        model, (inputs, labels), recorded, moved = scored[params]
        assert moved, name  # it trained
        assert len(labels) == 128 and accuracy == recorded
        # The reported accuracy is the model's on the 128 test examples: counted here from its predictions.
        predicted = model.predict(inputs, verbose=0)[:, 0] > 0.5
        assert abs(accuracy - np.mean(predicted == labels.astype(bool))) < 1e-6, name
