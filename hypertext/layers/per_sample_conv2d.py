import keras

from hypertext import ops as hops
from hypertext.layers.per_sample_conv_base import PerSampleConvBase


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv2D(PerSampleConvBase):
    """A 2D convolution whose kernel differs for every sample of the batch.

    The 2D member of the `PerSampleConv1D` family: the kernels usually come from a hypernetwork (`KernelGenerator`,
    `HyperConv2D`), so they are an *input*, in the layout `(batch, out_channels, kernel_height, kernel_width,
    in_channels)`. The layer has no weights. With every sample given the same kernel it computes exactly what
    `keras.layers.Conv2D` computes (channels last), for the same `strides`, `padding` and `dilation_rate`; unlike
    `Conv2D` it also accepts strides > 1 together with dilation > 1.

    Implementations (all give the same result; they differ in speed and memory), as in `PerSampleConv1D`:

    - `"unfold"`: cut the padded input into `kernel_height * kernel_width` strided views, concatenate them into
      patches `(batch, positions, kernel_height * kernel_width * in_channels)` and apply one batched matmul: the FLOPs
      of a shared convolution and nothing more. `"auto"` (default) picks it; `benchmarks/per_sample_conv2d.py`
      times it against `Conv2D` and the usual answers (`jax.vmap`, `torch.func.vmap`, grouped conv).
    - `"fold"`: the batch folded into the channels of one depthwise convolution, then a sum over input channels.
    - `"grouped"`: the batch as the groups of one grouped convolution. TensorFlow's CPU kernel has no gradient for it.
    - `"loop"`: one ordinary convolution per sample, mapped over the batch (`keras.ops.map`). The readable reference.

    Args:
        strides: int or tuple of 2 ints >= 1, the strides along the height and width.
        padding: `"valid"` or `"same"`, with `keras.layers.Conv2D`'s meaning.
        dilation_rate: int or tuple of 2 ints >= 1.
        implementation: `"auto"`, `"unfold"`, `"fold"`, `"grouped"` or `"loop"`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, height, width, in_channels)`.
        kernel: `(batch, out_channels, kernel_height, kernel_width, in_channels)`.
        bias: optional `(batch, out_channels)`.

    Returns:
        `(batch, new_height, new_width, out_channels)`, the sizes as for `keras.layers.Conv2D`.

    Example:

    >>> x = np.random.normal(size=(4, 10, 12, 8)).astype("float32")
    >>> kernel = np.random.normal(size=(4, 16, 3, 3, 8)).astype("float32")
    >>> PerSampleConv2D(strides=2, padding="same")(x, kernel).shape
    (4, 5, 6, 16)
    """

    spatial_rank = 2
    PADDINGS = hops.PADDINGS_2D
    EXTENT = "high and wide"
    op = staticmethod(hops.per_sample_conv2d)
