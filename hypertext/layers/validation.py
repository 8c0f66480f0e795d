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


def cast_to(dtype, *tensors):
    """Casts each tensor to `dtype` (a layer's compute dtype), passing None through."""
    from keras import ops

    return tuple(None if t is None else ops.cast(t, dtype) for t in tensors)


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_per_sample_shapes(inputs_shape, kernel_shape, bias_shape=None):
    """Checks `(inputs, kernel, bias)` shapes for a per-sample conv; `None` dimensions are not checked."""
    if len(inputs_shape) != 3:
        raise ValueError(
            "`inputs` must have rank 3, (batch, length, in_channels). "
            f"Received: inputs.shape={shape_str(inputs_shape)}"
        )
    if len(kernel_shape) != 4:
        raise ValueError(
            "`kernel` must have rank 4, (batch, out_channels, kernel_size, in_channels). "
            f"Received: kernel.shape={shape_str(kernel_shape)}"
        )
    if None in kernel_shape[1:]:
        raise ValueError(
            "`kernel` must have known out_channels, kernel_size and in_channels. "
            f"Received: kernel.shape={shape_str(kernel_shape)}"
        )
    if inputs_shape[2] is not None and inputs_shape[2] != kernel_shape[3]:
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
