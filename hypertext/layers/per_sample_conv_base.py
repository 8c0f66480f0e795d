"""The machinery PerSampleConv1D and PerSampleConv2D share: argument normalisation, shape checks, the call into
`hypertext.ops`, output shapes and the config."""

import keras

from hypertext import ops as hops
from hypertext.layers.slow_path import warn_once_if_slow
from hypertext.layers.validation import (
    cast_to,
    check_choice,
    check_per_sample_shapes,
    check_positive_int,
    check_positive_int_tuple,
    shape_str,
)


class PerSampleConvBase(keras.layers.Layer):
    """A per-sample conv with `spatial_rank` spatial axes, computed by `op` (a `hypertext.ops` function). 1D layers
    keep `strides` and `dilation_rate` as ints, as before; 2D layers as pairs, as `keras.layers.Conv2D` does."""

    spatial_rank = None  # set by each subclass, with the next three
    PADDINGS = None
    EXTENT = None  # how the valid-padding error describes the input's spatial size: "long", "high and wide"

    @staticmethod
    def op(*args, **kwargs):
        raise NotImplementedError

    def __init__(self, strides=1, padding="valid", dilation_rate=1, implementation="auto", **kwargs):
        super().__init__(**kwargs)
        self.strides = self._normalize("strides", strides)
        self.padding = check_choice("padding", padding, self.PADDINGS)
        self.dilation_rate = self._normalize("dilation_rate", dilation_rate)
        self.implementation = check_choice("implementation", implementation, hops.IMPLEMENTATIONS)

    def _normalize(self, name, value):
        if self.spatial_rank == 1:
            return check_positive_int(name, value)
        return check_positive_int_tuple(name, value, self.spatial_rank)

    def _per_axis(self, value):
        return (value,) if self.spatial_rank == 1 else value

    def build(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        self.built = True

    def _check_shapes(self, inputs_shape, kernel_shape, bias_shape=None):
        check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape, spatial_rank=self.spatial_rank)
        if self.padding != "valid":
            return
        dilations = self._per_axis(self.dilation_rate)
        for size, kernel_size, dilation in zip(inputs_shape[1:-1], kernel_shape[2:-1], dilations):
            span = hops.effective_kernel_size(kernel_size, dilation)
            if size is not None and size < span:
                raise ValueError(
                    f"With padding='valid', `inputs` must be at least as {self.EXTENT} as the dilated kernel "
                    f"(dilation_rate * (kernel_size - 1) + 1 = {span}). "
                    f"Received: inputs.shape={shape_str(inputs_shape)}"
                )

    def call(self, inputs, kernel, bias=None):
        self._check_shapes(inputs.shape, kernel.shape, None if bias is None else bias.shape)
        warn_once_if_slow()
        inputs, kernel, bias = cast_to(self.compute_dtype, inputs, kernel, bias)
        return self.op(
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
                 zip(inputs_shape[1:-1], kernel_shape[2:-1], self._per_axis(self.strides),
                     self._per_axis(self.dilation_rate))]
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
