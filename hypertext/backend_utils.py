"""Small helpers that need to know the Keras backend. The layers never do; tests and benchmarks do."""

import functools
import importlib.util
import os

import keras
import numpy as np


def value_and_grad(loss_fn, num_args):
    """Returns `f(*arrays) -> (loss, grads)`: the gradients of the scalar `loss_fn(*arrays)` with respect to the first
    `num_args` arrays, computed with the current backend's autodiff (TensorFlow, JAX or PyTorch)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def f(*arrays):
            arrays = [tf.convert_to_tensor(a) for a in arrays]
            with tf.GradientTape() as tape:
                watched = arrays[:num_args]
                for a in watched:
                    tape.watch(a)
                loss = loss_fn(*arrays)
            return loss, tape.gradient(loss, watched)

        return f
    if backend == "jax":
        import jax

        def f(*arrays):
            return jax.value_and_grad(lambda *w: loss_fn(*w, *arrays[num_args:]), argnums=tuple(range(num_args)))(
                *arrays[:num_args]
            )

        return f
    import torch

    def f(*arrays):
        arrays = [keras.ops.convert_to_tensor(a) for a in arrays]
        leaves = [a.detach().requires_grad_(True) for a in arrays[:num_args]]
        loss = loss_fn(*leaves, *arrays[num_args:])
        grads = torch.autograd.grad(loss, leaves)
        return loss, grads

    return f


def device_description():
    """One line naming the backend, its version and device, and on TensorFlow CPU whether oneDNN is on."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return f"jax {jax.__version__} on {jax.devices()[0].device_kind}"
    if backend == "torch":
        import torch

        dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
        return f"torch {torch.__version__} on {dev}"
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return f"tensorflow {tf.__version__} on GPU"
    try:  # a private TF function; the environment variable is the fallback
        from tensorflow.python.util import _pywrap_util_port

        onednn = "on" if _pywrap_util_port.IsMklEnabled() else "off"
    except (ImportError, AttributeError):
        onednn = f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}"
    return f"tensorflow {tf.__version__} on CPU ({os.cpu_count()} cores), oneDNN {onednn}"


def has_tensorflow():
    """Whether TensorFlow is installed (without importing it)."""
    return importlib.util.find_spec("tensorflow") is not None


@functools.lru_cache()
def register_tf2onnx_erfc():
    """Teaches tf2onnx TensorFlow's `Erfc` op as `1 - Erf`. TensorFlow's exact `gelu` (Keras' "gelu" activation)
    is written with `erfc` in recent TensorFlow (2.21 here), which tf2onnx 1.17 cannot convert
    (onnx/tensorflow-onnx#2347), so without this no model with a gelu exports to ONNX on TensorFlow. Runs once; a
    no-op without tf2onnx or off TensorFlow."""
    if keras.backend.backend() != "tensorflow":  # other backends export ONNX without tf2onnx
        return
    try:
        from tf2onnx import utils
        from tf2onnx.handler import tf_op
    except ImportError:  # Keras' ONNX export then says what to install
        return

    @tf_op("Erfc")
    class Erfc:  # noqa: F841  (the decorator registers it)
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"  # ONNX has Erf from opset 9
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
            ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(f"{node.name}_erfc"),
                                          inputs=[one.output[0], node.output[0]])
