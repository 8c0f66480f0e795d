"""Central finite differences of a float64 loss, which the layers' analytic gradients are checked against."""

import numpy as np


def numeric_gradients(f64_loss, arrays, eps=1e-4):
    """The gradients of `f64_loss(*arrays)` with respect to each of `arrays`, by central differences in float64."""
    base = [np.asarray(a, np.float64) for a in arrays]
    gradients = []
    for arg_index, array in enumerate(base):
        numeric = np.zeros(array.shape)
        for idx in np.ndindex(array.shape):
            plus = [a.copy() for a in base]
            minus = [a.copy() for a in base]
            plus[arg_index][idx] += eps
            minus[arg_index][idx] -= eps
            numeric[idx] = (f64_loss(*plus) - f64_loss(*minus)) / (2 * eps)
        gradients.append(numeric)
    return gradients
