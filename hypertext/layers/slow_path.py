"""The one backend-aware check in hypertext's layers: a once-per-process warning when the per-sample convs run on
TensorFlow's CPU kernels with oneDNN off.

There every per-sample conv ends in TensorFlow's own batched matmul (`BatchMatMulV2`), which on CPU runs the batch's
small products one after another, each split over the threads: measured on a 2-core CPU (B32 L64 C=O128 K3), one
`(32, 64, 384) @ (32, 384, 128)` batched matmul took 2.0-2.5x the time of the single `(2048, 384) @ (384, 128)` matmul
of the same FLOPs that a shared `Conv1D` runs, and a forward+backward needs three of them. No formulation built from
TensorFlow's ops measured better than 2.4x `Conv1D` there (`benchmarks/onednn_off_formulations.py`; the JSON in
`benchmarks/results/`), while with oneDNN on the same layer runs at 1.0-1.5x. So the layer says what to set.
"""

import os
import warnings

import keras

_warned = False

MESSAGE = (
    "hypertext's per-sample convolutions are running on TensorFlow's CPU kernels with oneDNN off, where TensorFlow's "
    "batched matmul makes them about 2.5x slower than a shared convolution (forward+backward). Set the environment "
    "variable TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported (about 1.0-1.5x a shared convolution), or use the "
    "JAX backend. This warning is shown once."
)


def onednn_off_on_tf_cpu():
    """True when the Keras backend is TensorFlow, no GPU is visible and TensorFlow's oneDNN kernels are off."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return False
    try:  # a private TF function; the environment variable is the fallback
        from tensorflow.python.util import _pywrap_util_port

        return not _pywrap_util_port.IsMklEnabled()
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0"


def warn_once_if_slow():
    """Warns (once per process) when `onednn_off_on_tf_cpu()`; a layer calls it whenever it runs."""
    global _warned
    if _warned:
        return
    _warned = True
    if onednn_off_on_tf_cpu():
        warnings.warn(MESSAGE, stacklevel=3)
