import keras

from hypertext.layers.hyper_conv_base import HyperConvBase
from hypertext.layers.per_sample_conv1d_transpose import PerSampleConv1DTranspose


@keras.saving.register_keras_serializable(package="hypertext")
class HyperConv1DTranspose(HyperConvBase):
    """A 1D transposed convolution whose kernel is generated, per sample, from a context vector.

    The per-sample, hypernetwork-driven counterpart of `keras.layers.Conv1DTranspose`: a `KernelGenerator` emits
    `(batch, filters, kernel_size, in_channels)` kernels and a `PerSampleConv1DTranspose` applies them, so a decoder
    can upsample with filters that depend on what it is decoding.

    Args:
        filters: int, output channels.
        kernel_size: int, taps of the kernel.
        strides, padding, output_padding, dilation_rate: as in `keras.layers.Conv1DTranspose` (padding "valid" or
            "same").
        activation: activation applied to the output, or None.
        use_bias: whether the generator also emits a per-sample bias.
        mode, rank, num_bases, tap_pattern, tap_tiling, kernel_mask, init_scale: the `KernelGenerator` arguments.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, length, in_channels)`; the length may be unknown (None) in a traced graph.
        context: `(batch, context_dim)`.
        sample_mask: optional per-sample kernel mask, broadcastable to `(batch, filters, kernel_size, in_channels)`.

    Returns:
        `(batch, new_length, filters)`, with `new_length` as for `keras.layers.Conv1DTranspose`.

    Example:

    >>> x = np.random.normal(size=(4, 6, 16)).astype("float32")
    >>> context = np.random.normal(size=(4, 32)).astype("float32")
    >>> HyperConv1DTranspose(filters=8, kernel_size=4, strides=2, padding="same")(x, context).shape
    (4, 12, 8)
    """

    CONV_CLASS = PerSampleConv1DTranspose

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                 **kwargs):
        super().__init__(filters, kernel_size, conv_args=dict(strides=strides, padding=padding,
                                                              output_padding=output_padding,
                                                              dilation_rate=dilation_rate), **kwargs)
