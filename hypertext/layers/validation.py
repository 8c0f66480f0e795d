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


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
