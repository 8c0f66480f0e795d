import keras

from hypertext import ops as hops
from hypertext.layers.per_sample_conv_base import PerSampleConvTransposeBase


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv2DTranspose(PerSampleConvTransposeBase):
    """A 2D transposed convolution whose kernel differs for every sample of the batch.

    The per-sample counterpart of `keras.layers.Conv2DTranspose` (channels last): with every sample given the same
    kernel it computes exactly what that layer computes, for the same `strides`, `padding`, `output_padding` and
    `dilation_rate`. The kernels are an input, in the layout of `PerSampleConv2D`,
    `(batch, out_channels, kernel_height, kernel_width, in_channels)`; the layer has no weights.

    As `PerSampleConv1DTranspose` does on one axis, it computes every tap's contribution with one batched matmul
    `(batch, height * width, in) @ (batch, in, kernel_height * kernel_width * out)` and overlap-adds the taps at their
    strided offsets: a shared transposed conv's FLOPs, where zero-insertion followed by a convolution would do
    `strides[0] * strides[1]` times more.

    Args:
        strides: int or tuple of 2 ints >= 1, the upsampling factors along the height and width.
        padding: `"valid"` or `"same"`, as in `keras.layers.Conv2DTranspose`.
        output_padding: None, or an int or a tuple of 2 ints, each in `[0, stride)` on its axis: extra rows and
            columns added at the end of the output.
        dilation_rate: int or tuple of 2 ints >= 1.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, in_channels)`; the height and width may be unknown (None) in a traced graph.
        kernel: `(batch, out_channels, kernel_height, kernel_width, in_channels)`.
        bias: optional `(batch, out_channels)`.

    Returns:
        `(batch, new_height, new_width, out_channels)`, the sizes as for `keras.layers.Conv2DTranspose`
        (`height * strides[0]` by `width * strides[1]` for "same" padding and no output padding).

    Example:

    >>> x = np.random.normal(size=(4, 5, 6, 8)).astype("float32")
    >>> kernel = np.random.normal(size=(4, 16, 3, 3, 8)).astype("float32")
    >>> PerSampleConv2DTranspose(strides=2, padding="same")(x, kernel).shape
    (4, 10, 12, 16)
    """

    spatial_rank = 2
    op = staticmethod(hops.per_sample_conv2d_transpose)
