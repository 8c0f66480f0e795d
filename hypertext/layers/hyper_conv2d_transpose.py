import keras

from hypertext.layers.hyper_conv_base import HyperConvBase
from hypertext.layers.per_sample_conv2d_transpose import PerSampleConv2DTranspose
from hypertext.layers.validation import check_positive_int_tuple


@keras.saving.register_keras_serializable(package="hypertext")
class HyperConv2DTranspose(HyperConvBase):
    """A 2D transposed convolution whose kernel is generated, per sample, from a context vector.

    The per-sample, hypernetwork-driven counterpart of `keras.layers.Conv2DTranspose`: a `KernelGenerator` emits
    `(batch, filters, kernel_height, kernel_width, in_channels)` kernels and a `PerSampleConv2DTranspose` applies
    them, so a decoder can upsample an image or feature map with filters that depend on a per-example context.

    When the generator's output does not depend on the context, the layer is exactly a `keras.layers.Conv2DTranspose`.

    Args:
        filters: int, output channels.
        kernel_size: int or tuple of 2 ints, the kernel's height and width.
        strides, padding, output_padding, dilation_rate: as in `keras.layers.Conv2DTranspose` (padding "valid" or
            "same"; each an int or a pair, `output_padding` None or smaller than the stride on each axis).
        activation: activation applied to the output (name or callable), or None.
        use_bias: whether the generator also emits a per-sample bias.
        mode, rank, num_bases, tap_pattern, tap_tiling, kernel_mask, init_scale: the `KernelGenerator` arguments
            (tied taps count the `kernel_height * kernel_width` taps in row-major order; `kernel_mask` broadcasts to
            `(filters, kernel_height, kernel_width, in_channels)`).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, in_channels)`; the height and width may be unknown (None) in a traced graph.
        context: `(batch, context_dim)`, ideally of unit variance (e.g. after a LayerNormalization), which is what
            the hyperfan-in initialisation assumes.
        sample_mask: optional per-sample kernel mask, broadcastable to
            `(batch, filters, kernel_height, kernel_width, in_channels)`.

    Returns:
        `(batch, new_height, new_width, filters)`, the sizes as for `keras.layers.Conv2DTranspose`.

    Example:

    >>> x = np.random.normal(size=(4, 4, 4, 16)).astype("float32")
    >>> context = np.random.normal(size=(4, 10)).astype("float32")
    >>> HyperConv2DTranspose(filters=8, kernel_size=4, strides=2, padding="same")(x, context).shape
    (4, 8, 8, 8)
    """

    CONV_CLASS = PerSampleConv2DTranspose

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                 **kwargs):
        super().__init__(filters, check_positive_int_tuple("kernel_size", kernel_size, 2),
                         conv_args=dict(strides=strides, padding=padding, output_padding=output_padding,
                                        dilation_rate=dilation_rate), **kwargs)
