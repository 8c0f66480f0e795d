import keras

from hypertext import ops as hops
from hypertext.layers.per_sample_conv_base import PerSampleConvTransposeBase


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv1DTranspose(PerSampleConvTransposeBase):
    """A 1D transposed convolution whose kernel differs for every sample of the batch.

    The per-sample counterpart of `keras.layers.Conv1DTranspose`: with every sample given the same kernel it computes
    exactly what that layer computes (same `strides`, `padding`, `output_padding` and output length). The kernels are
    an input, in hypertext's layout `(batch, out_channels, kernel_size, in_channels)`; the layer has no weights.

    It never uses the slow depthwise fold: every tap's contribution comes from one batched matmul
    `(batch, length, in) @ (batch, in, kernel_size * out)`, and the taps are overlap-added at their strided offsets.
    That does a shared transposed conv's FLOPs, where zero-insertion followed by a convolution would do `strides`
    times more. `benchmarks/per_sample_conv_transpose.py` measures it against `keras.layers.Conv1DTranspose`.

    Args:
        strides: int >= 1, the upsampling factor.
        padding: `"valid"` or `"same"`, as in `keras.layers.Conv1DTranspose`.
        output_padding: None, or an int in `[0, strides)`: extra steps added at the end of the output.
        dilation_rate: int >= 1.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, length, in_channels)`; the length may be unknown (None) in a traced graph.
        kernel: `(batch, out_channels, kernel_size, in_channels)`.
        bias: optional `(batch, out_channels)`.

    Returns:
        `(batch, new_length, out_channels)`, with `new_length` as for `keras.layers.Conv1DTranspose`
        (`length * strides` for "same" padding and no output padding).

    Example:

    >>> x = np.random.normal(size=(4, 10, 8)).astype("float32")
    >>> kernel = np.random.normal(size=(4, 16, 3, 8)).astype("float32")
    >>> PerSampleConv1DTranspose(strides=2, padding="same")(x, kernel).shape
    (4, 20, 16)
    """

    spatial_rank = 1
    op = staticmethod(hops.per_sample_conv1d_transpose)
