"""The numbers users pass (rates, factors, alpha, frequencies), read alike whatever their
type: a Python int or float, a numpy scalar of any integer or floating dtype, or a 0-d
array of one. Booleans, strings and arrays of several values are not numbers here.
"""

import numpy as np


def _scalar(value):
    """`value` as a 0-d numpy array of an integer or floating dtype, or None (strings,
    booleans and objects have other dtype kinds)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if array.ndim != 0 or array.dtype.kind not in "iuf":
        return None
    return array


def real_number(value):
    """`value` as a Python float where it is a real number (see the module), else None."""
    array = _scalar(value)
    return None if array is None else float(array)


def whole_number(value):
    """`value` as a Python int where it is a number of an integer type, else None (2.0 is
    not: a count given as a float is more likely a mistake than a count)."""
    array = _scalar(value)
    return None if array is None or array.dtype.kind not in "iu" else int(array)
