import keras

from hypertext.layers.hyper_conv_base import HyperConvBase
from hypertext.layers.per_sample_conv2d import PerSampleConv2D
from hypertext.layers.validation import check_positive_int_tuple


@keras.saving.register_keras_serializable(package="hypertext")
class HyperConv2D(HyperConvBase):
    """A 2D convolution whose kernel is generated, per sample, from a context vector.

    The 2D counterpart of `HyperConv1D`: a `KernelGenerator` (the hypernetwork; its `in_channels` is inferred from the
    inputs in `build`) emits `(batch, filters, kernel_height, kernel_width, in_channels)` kernels and a
    `PerSampleConv2D` applies them. Use it where a `keras.layers.Conv2D` should depend on a per-example context: a
    class or style embedding (conditional generators, CondConv-style dynamic convolutions), a task vector, a query.

    When the generator's output does not depend on the context, the layer is exactly a `keras.layers.Conv2D`.

    Args:
        filters: int, output channels.
        kernel_size: int or tuple of 2 ints, the kernel's height and width.
        strides, padding, dilation_rate, implementation: as in `PerSampleConv2D` (padding "valid" or "same";
            implementation "auto", "unfold", "fold", "grouped", "loop").
        activation: activation applied to the output (name or callable), or None.
        use_bias: whether the generator also emits a per-sample bias.
        mode, rank, num_bases, tap_pattern, tap_tiling, kernel_mask, init_scale: the `KernelGenerator` arguments
            (tied taps count the `kernel_height * kernel_width` taps in row-major order; `kernel_mask` broadcasts to
            `(filters, kernel_height, kernel_width, in_channels)`).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, in_channels)`.
        context: `(batch, context_dim)`, ideally of unit variance (e.g. after a LayerNormalization), which is what
            the hyperfan-in initialisation assumes.
        sample_mask: optional per-sample kernel mask, broadcastable to
            `(batch, filters, kernel_height, kernel_width, in_channels)`.

    Returns:
        `(batch, new_height, new_width, filters)`, the sizes as for `keras.layers.Conv2D`.

    Example:

    >>> x = np.random.normal(size=(4, 8, 8, 3)).astype("float32")
    >>> context = np.random.normal(size=(4, 10)).astype("float32")
    >>> HyperConv2D(filters=16, kernel_size=3, padding="same", activation="relu")(x, context).shape
    (4, 8, 8, 16)
    """

    CONV_CLASS = PerSampleConv2D

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, implementation="auto",
                 **kwargs):
        super().__init__(filters, check_positive_int_tuple("kernel_size", kernel_size, 2),
                         conv_args=dict(strides=strides, padding=padding, dilation_rate=dilation_rate,
                                        implementation=implementation), **kwargs)
