"""Data parallelism: the one place that picks a distribution strategy for `train()`. To train on several machines,
replace the strategy here (e.g. `tf.distribute.MultiWorkerMirroredStrategy` with `TF_CONFIG` set)."""

import contextlib

import keras


def distribution_strategy_scope():
    """Data parallelism over every local accelerator with an existing engine: `tf.distribute.MirroredStrategy` on
    TensorFlow, `keras.distribution.DataParallel` on JAX. A single device gets no strategy (a null context)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_logical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy().scope()
    elif backend == "jax":
        devices = keras.distribution.list_devices()
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext()
