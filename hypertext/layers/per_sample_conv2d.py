import keras

from hypertext import ops as hops
from hypertext.layers.slow_path import warn_once_if_slow
from hypertext.layers.validation import (
    cast_to,
    check_choice,
    check_per_sample_shapes,
    check_positive_int_tuple,
    shape_str,
)


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv2D(keras.layers.Layer):
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

    def __init__(self, strides=1, padding="valid", dilation_rate=1, implementation="auto", **kwargs):
        super().__init__(**kwargs)
        self.strides = check_positive_int_tuple("strides", strides, 2)
        self.padding = check_choice("padding", padding, hops.PADDINGS_2D)
        self.dilation_rate = check_positive_int_tuple("dilation_rate", dilation_rate, 2)
        self.implementation = check_choice("implementation", implementation, hops.IMPLEMENTATIONS)

    def build(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        self.built = True

    def _check_shapes(self, inputs_shape, kernel_shape, bias_shape=None):
        check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape, spatial_rank=2)
        if self.padding != "valid":
            return
        for size, kernel_size, dilation in zip(inputs_shape[1:3], kernel_shape[2:4], self.dilation_rate):
            span = hops.effective_kernel_size(kernel_size, dilation)
            if size is not None and size < span:
                raise ValueError(
                    "With padding='valid', `inputs` must be at least as high and wide as the dilated kernel "
                    f"(dilation_rate * (kernel_size - 1) + 1 = {span}). Received: inputs.shape={shape_str(inputs_shape)}"
                )

    def call(self, inputs, kernel, bias=None):
        self._check_shapes(inputs.shape, kernel.shape, None if bias is None else bias.shape)
        warn_once_if_slow()
        inputs, kernel, bias = cast_to(self.compute_dtype, inputs, kernel, bias)
        return hops.per_sample_conv2d(
            inputs,
            kernel,
            bias,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            implementation=self.implementation,
        )

    def compute_output_shape(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        sizes = [hops.conv_output_length(size, k, s, self.padding, d) for size, k, s, d in
                 zip(inputs_shape[1:3], kernel_shape[2:4], self.strides, self.dilation_rate)]
        return (inputs_shape[0], *sizes, kernel_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "implementation": self.implementation,
            }
        )
        return config
