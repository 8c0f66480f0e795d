"""The standard checks every hypertext layer passes: config round trip, symbolic call, eager call, one fit step and a
`.keras` save/load round trip. Modelled on keras-hub's `run_layer_test`."""

import os

import keras
import numpy as np


def run_layer_checks(layer_cls, init_kwargs, inputs, expected_output_shape, tmp_path, atol=1e-5):
    """`inputs` is a list of NumPy arrays passed positionally to the layer."""
    # 1. Config round trip.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    for key, value in init_kwargs.items():
        assert config[key] == value or (isinstance(value, (list, tuple)) and list(config[key]) == list(value)), key

    # 2. Symbolic call with an unknown batch size.
    symbolic = [keras.Input(shape=a.shape[1:], dtype=a.dtype) for a in inputs]
    output = layer(*symbolic)
    assert tuple(output.shape) == (None, *expected_output_shape[1:])

    # 3. Eager call.
    eager = keras.ops.convert_to_numpy(layer(*inputs))
    assert eager.shape == tuple(expected_output_shape)
    assert np.all(np.isfinite(eager))

    # 4. One fit step through a functional model; trainable weights must move.
    model = keras.Model(symbolic, output)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    target = np.random.default_rng(1).normal(size=expected_output_shape).astype("float32")
    model.fit(inputs, target, batch_size=len(target), epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    for b, a in zip(before, after):
        assert not np.allclose(b, a), "a trainable weight did not change after one fit step"

    # 5. Save/load round trip gives identical predictions.
    expected = model.predict(inputs, verbose=0)
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.predict(inputs, verbose=0), expected, atol=atol)
    return layer


def check_config_and_weights_round_trip(layer, inputs):
    """A built `layer` rebuilt from its config (also through JSON, as a `.keras` file stores it, where tuples come back
    as lists), given its weights, computes the same output on `inputs`. Returns the config."""
    import json

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build(*[a.shape for a in inputs])
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(*inputs)),
                                  keras.ops.convert_to_numpy(layer(*inputs)))
    assert type(layer).from_config(json.loads(json.dumps(config))).get_config() == config
    return config


def randomize_weights(layer, rng, scale):
    """Normal random weights of standard deviation `scale` everywhere (the generators' bias heads start at zero), so
    every term of a reference is exercised."""
    for variable in layer.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32") * scale)
