"""The machinery the hyper convs (`HyperConv1D`, `HyperConv2D` and their transposes) share: a KernelGenerator
feeding a per-sample conv."""

import keras

from hypertext.layers.kernel_generator import (
    GENERATOR_ARGS,
    KernelGenerator,
    check_broadcastable,
    generator_config,
    kernel_shape_of,
    normalize_generator_args,
)
from hypertext.layers.validation import INPUT_AXES, shape_str


class HyperConvBase(keras.layers.Layer):
    """Owns a `KernelGenerator` (its `in_channels` learnt in `build`) and a per-sample conv layer of class
    `CONV_CLASS`, built from `conv_args`; each conv argument is also kept as an attribute and in the config. The
    number of spatial axes is `CONV_CLASS.spatial_rank` (an int `kernel_size` for 1D, a tuple of 2 for 2D)."""

    CONV_CLASS = None  # set by each subclass

    def __init__(self, filters, kernel_size, conv_args, activation=None, use_bias=True, mode="basis", rank=4, num_bases=8,
                 tap_pattern=None, tap_tiling=None, kernel_mask=None, init_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        args = normalize_generator_args(filters, kernel_size, None, mode, rank, num_bases, use_bias, tap_pattern,
                                        tap_tiling, kernel_mask, init_scale)
        self.filters = args["filters"]
        self.kernel_size = args["kernel_size"]
        self.activation = keras.activations.get(activation)
        self.use_bias = args["use_bias"]
        for name in GENERATOR_ARGS:
            setattr(self, name, args[name])
        self.conv = self.CONV_CLASS(**conv_args, name="conv", dtype=self.dtype_policy)
        self._conv_arg_names = tuple(conv_args)
        for name in self._conv_arg_names:  # normalised and validated by the conv layer
            setattr(self, name, getattr(self.conv, name))

    def _check_context(self, inputs_shape, context_shape):
        if len(context_shape) != 2:
            raise ValueError(
                "`context` must have rank 2, (batch, context_dim). "
                f"Received: context.shape={shape_str(context_shape)}"
            )
        rank = self.CONV_CLASS.spatial_rank
        if len(inputs_shape) != rank + 2 or inputs_shape[-1] is None:
            raise ValueError(
                f"`inputs` must have rank {rank + 2}, (batch, {', '.join(INPUT_AXES[rank])}, channels), with known "
                f"channels. Received: inputs.shape={shape_str(inputs_shape)}"
            )

    def build(self, inputs_shape, context_shape, sample_mask_shape=None):
        self._check_context(inputs_shape, context_shape)
        if self.kernel_mask is not None:
            check_broadcastable("kernel_mask", self.kernel_mask.shape,
                                (self.filters, *kernel_shape_of(self.kernel_size), inputs_shape[-1]))
        self.generator = KernelGenerator(
            self.filters, self.kernel_size, inputs_shape[-1], use_bias=self.use_bias, name="generator",
            dtype=self.dtype_policy, **{name: getattr(self, name) for name in GENERATOR_ARGS}
        )
        self.generator.build(context_shape)
        self.built = True

    def call(self, inputs, context, sample_mask=None):
        self._check_context(inputs.shape, context.shape)
        generated = self.generator(context, sample_mask=sample_mask)
        kernel, bias = generated if self.use_bias else (generated, None)
        return self.activation(self.conv(inputs, kernel, bias))

    def compute_output_shape(self, inputs_shape, context_shape, sample_mask_shape=None):
        self._check_context(inputs_shape, context_shape)
        kernel_shape = (context_shape[0], self.filters, *kernel_shape_of(self.kernel_size), inputs_shape[-1])
        return self.conv.compute_output_shape(inputs_shape, kernel_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **generator_config(self),
                **{name: getattr(self, name) for name in self._conv_arg_names},
            }
        )
        return config
