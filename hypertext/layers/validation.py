"""Argument checks shared by hypertext's layers. Each raises one `ValueError` in Keras' message style."""


def check_choice(name, value, choices):
    """Lower-cases a string argument and checks it is one of `choices`."""
    normalized = value.lower() if isinstance(value, str) else value
    if normalized not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}. Received: {name}={value!r}")
    return normalized


def check_positive_int(name, value, minimum=1):
    """Accepts an int, or a 1-tuple/list of one int as Keras' conv layers do, that is at least `minimum`."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return value


def check_positive_int_tuple(name, value, size, minimum=1):
    """Accepts an int (repeated `size` times) or a tuple/list of `size` ints, each at least `minimum`, as Keras' conv
    layers normalise `kernel_size`, `strides` and `dilation_rate`; returns a tuple."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * size
    if len(values) != size or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values):
        raise ValueError(
            f"`{name}` must be an integer >= {minimum} or a tuple of {size} such integers. Received: {name}={value!r}"
        )
    return values


def cast_to(dtype, *tensors):
    """Casts each tensor to `dtype` (a layer's compute dtype), passing None through."""
    from keras import ops

    return tuple(None if t is None else ops.cast(t, dtype) for t in tensors)


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# The axis names of the inputs and kernels, by number of spatial axes, for the error messages.
INPUT_AXES = {1: ("length",), 2: ("height", "width")}
KERNEL_AXES = {1: ("kernel_size",), 2: ("kernel_height", "kernel_width")}


def check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape=None, spatial_rank=1):
    """Checks `(inputs, kernel, bias)` shapes for a per-sample conv with `spatial_rank` spatial axes; `None`
    dimensions are not checked."""
    input_axes, kernel_axes = INPUT_AXES[spatial_rank], KERNEL_AXES[spatial_rank]
    if len(inputs_shape) != spatial_rank + 2:
        raise ValueError(
            f"`inputs` must have rank {spatial_rank + 2}, (batch, {', '.join(input_axes)}, in_channels). "
            f"Received: inputs.shape={shape_str(inputs_shape)}"
        )
    if len(kernel_shape) != spatial_rank + 3:
        raise ValueError(
            f"`kernel` must have rank {spatial_rank + 3}, "
            f"(batch, out_channels, {', '.join(kernel_axes)}, in_channels). "
            f"Received: kernel.shape={shape_str(kernel_shape)}"
        )
    if None in kernel_shape[1:]:
        raise ValueError(
            f"`kernel` must have known out_channels, {', '.join(kernel_axes)} and in_channels. "
            f"Received: kernel.shape={shape_str(kernel_shape)}"
        )
    if inputs_shape[-1] is not None and inputs_shape[-1] != kernel_shape[-1]:
        raise ValueError(
            "`kernel` in_channels (last axis) must equal the channels of `inputs`. "
            f"Received: kernel.shape={shape_str(kernel_shape)}, inputs.shape={shape_str(inputs_shape)}"
        )
    if None not in (inputs_shape[0], kernel_shape[0]) and inputs_shape[0] != kernel_shape[0]:
        raise ValueError(
            "`kernel` must have one kernel per sample: its batch size must equal that of `inputs`. "
            f"Received: kernel.shape={shape_str(kernel_shape)}, inputs.shape={shape_str(inputs_shape)}"
        )
    if bias_shape is not None:
        expected = (inputs_shape[0], kernel_shape[1])
        if len(bias_shape) != 2 or any(b is not None and e is not None and b != e
                                       for b, e in zip(bias_shape, expected)):
            raise ValueError(
                f"`bias` must have shape (batch, out_channels) = {shape_str(expected)}. "
                f"Received: bias.shape={shape_str(bias_shape)}"
            )
