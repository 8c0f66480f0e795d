"""The machinery the per-sample conv layers share: argument normalisation, shape checks, the call into
`hypertext.ops`, output shapes and the config. `PerSampleConvBase` is the forward convs' (`PerSampleConv1D`,
`PerSampleConv2D`), `PerSampleConvTransposeBase` the transposed ones' (`PerSampleConv1DTranspose`,
`PerSampleConv2DTranspose`)."""

import keras

from hypertext import ops as hops
from hypertext.layers.slow_path import warn_once_if_slow
from hypertext.layers.validation import (
    INPUT_AXES,
    cast_to,
    check_choice,
    check_per_sample_shapes,
    check_positive_int,
    check_positive_int_tuple,
    shape_str,
)


class PerSampleLayerBase(keras.layers.Layer):
    """A per-sample conv with `spatial_rank` spatial axes, computed by `op` (a `hypertext.ops` function) with the
    keyword arguments `_op_args()` returns, which are also the layer's config. 1D layers keep their spatial arguments
    (`strides`, ...) as ints, as before; 2D layers as pairs, as `keras.layers.Conv2D` does."""

    spatial_rank = None  # set by each subclass, with `op`

    @staticmethod
    def op(*args, **kwargs):
        raise NotImplementedError

    def _op_args(self):
        raise NotImplementedError

    def _output_sizes(self, inputs_shape, kernel_shape):
        """The output's spatial sizes (None where unknown), from already checked shapes."""
        raise NotImplementedError

    def _check_sizes(self, inputs_shape, kernel_shape):
        """Checks the spatial sizes, after the shapes passed `check_per_sample_shapes`."""

    def _normalize(self, name, value, minimum=1):
        if self.spatial_rank == 1:
            return check_positive_int(name, value, minimum)
        return check_positive_int_tuple(name, value, self.spatial_rank, minimum)

    def _per_axis(self, value):
        return (value,) if self.spatial_rank == 1 else value

    def build(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        self.built = True

    def _check_shapes(self, inputs_shape, kernel_shape, bias_shape=None):
        check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape, spatial_rank=self.spatial_rank)
        self._check_sizes(inputs_shape, kernel_shape)

    def call(self, inputs, kernel, bias=None):
        self._check_shapes(inputs.shape, kernel.shape, None if bias is None else bias.shape)
        warn_once_if_slow()
        inputs, kernel, bias = cast_to(self.compute_dtype, inputs, kernel, bias)
        return self.op(inputs, kernel, bias, **self._op_args())

    def compute_output_shape(self, inputs_shape, kernel_shape, bias_shape=None):
        self._check_shapes(inputs_shape, kernel_shape, bias_shape)
        return (inputs_shape[0], *self._output_sizes(inputs_shape, kernel_shape), kernel_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(self._op_args())
        return config


class PerSampleConvBase(PerSampleLayerBase):
    """The forward per-sample convs."""

    PADDINGS = None  # set by each subclass, with the next one
    EXTENT = None  # how the valid-padding error describes the input's spatial size: "long", "high and wide"

    def __init__(self, strides=1, padding="valid", dilation_rate=1, implementation="auto", **kwargs):
        super().__init__(**kwargs)
        self.strides = self._normalize("strides", strides)
        self.padding = check_choice("padding", padding, self.PADDINGS)
        self.dilation_rate = self._normalize("dilation_rate", dilation_rate)
        self.implementation = check_choice("implementation", implementation, hops.IMPLEMENTATIONS)

    def _op_args(self):
        return {"strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate,
                "implementation": self.implementation}

    def _check_sizes(self, inputs_shape, kernel_shape):
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

    def _output_sizes(self, inputs_shape, kernel_shape):
        return [hops.conv_output_length(size, k, s, self.padding, d) for size, k, s, d in
                zip(inputs_shape[1:-1], kernel_shape[2:-1], self._per_axis(self.strides),
                    self._per_axis(self.dilation_rate))]


class PerSampleConvTransposeBase(PerSampleLayerBase):
    """The transposed per-sample convs, with `keras.layers.Conv1DTranspose` / `Conv2DTranspose` semantics."""

    def __init__(self, strides=1, padding="valid", output_padding=None, dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        self.strides = self._normalize("strides", strides)
        self.padding = check_choice("padding", padding, hops.TRANSPOSE_PADDINGS)
        if output_padding is not None:
            output_padding = self._normalize("output_padding", output_padding, minimum=0)
            if any(p >= s for p, s in zip(self._per_axis(output_padding), self._per_axis(self.strides))):
                raise ValueError(
                    f"`output_padding` must be smaller than `strides`{' on each axis' if self.spatial_rank > 1 else ''}"
                    f". Received: output_padding={output_padding}, strides={self.strides}"
                )
        self.output_padding = output_padding
        self.dilation_rate = self._normalize("dilation_rate", dilation_rate)

    def _op_args(self):
        return {"strides": self.strides, "padding": self.padding, "output_padding": self.output_padding,
                "dilation_rate": self.dilation_rate}

    def _output_sizes(self, inputs_shape, kernel_shape):
        paddings = (None,) * self.spatial_rank if self.output_padding is None else self._per_axis(self.output_padding)
        return [hops.conv_transpose_output_length(size, k, s, self.padding, p, d) for size, k, s, p, d in
                zip(inputs_shape[1:-1], kernel_shape[2:-1], self._per_axis(self.strides), paddings,
                    self._per_axis(self.dilation_rate))]

    def _check_sizes(self, inputs_shape, kernel_shape):
        sizes = self._output_sizes(inputs_shape, kernel_shape)
        if any(size is not None and size < 1 for size in sizes):
            described = ", ".join(f"{axis} {size}" for axis, size in zip(INPUT_AXES[self.spatial_rank], sizes))
            raise ValueError(
                f"The output would be empty ({described}) for this kernel size and padding. "
                f"Received: inputs.shape={shape_str(inputs_shape)}, kernel.shape={shape_str(kernel_shape)}"
            )
