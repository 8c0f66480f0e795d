"""Small helpers that need to know the Keras backend. The layers never do; tests and benchmarks do."""

import keras


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
