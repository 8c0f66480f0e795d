import keras

from hypertext import ops as hops
from hypertext.layers.slow_path import warn_once_if_slow
from hypertext.layers.validation import cast_to, check_choice, check_per_sample_shapes, check_positive_int


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv1DTranspose(keras.layers.Layer):
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

    def __init__(self, strides=1, padding="valid", output_padding=None, dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_positive_int("strides", strides)
        self.padding = check_choice("padding", padding, hops.TRANSPOSE_PADDINGS)
        if output_padding is not None:
            output_padding = check_positive_int("output_padding", output_padding, minimum=0)
            if output_padding >= self.strides:
                raise ValueError(
                    "`output_padding` must be smaller than `strides`. "
                    f"Received: output_padding={output_padding}, strides={self.strides}"
                )
        self.output_padding = output_padding
        self.dilation_rate = check_positive_int("dilation_rate", dilation_rate)

    def build(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        self.built = True

    def _check_shapes(self, inputs_shape, kernel_shape, bias_shape=None):
        check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape)
        length = self._output_length(inputs_shape[1], kernel_shape[2])
        if length is not None and length < 1:
            raise ValueError(
                f"The output would be empty (length {length}) for this kernel size and padding. "
                f"Received: inputs.shape={tuple(inputs_shape)}, kernel.shape={tuple(kernel_shape)}"
            )

    def _output_length(self, length, kernel_size):
        return hops.conv_transpose_output_length(
            length, kernel_size, self.strides, self.padding, self.output_padding, self.dilation_rate
        )

    def call(self, inputs, kernel, bias=None):
        self._check_shapes(inputs.shape, kernel.shape, None if bias is None else bias.shape)
        warn_once_if_slow()
        inputs, kernel, bias = cast_to(self.compute_dtype, inputs, kernel, bias)
        return hops.per_sample_conv1d_transpose(
            inputs,
            kernel,
            bias,
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation_rate=self.dilation_rate,
        )

    def compute_output_shape(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        return (inputs_shape[0], self._output_length(inputs_shape[1], kernel_shape[2]), kernel_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "strides": self.strides,
                "padding": self.padding,
                "output_padding": self.output_padding,
                "dilation_rate": self.dilation_rate,
            }
        )
        return config
