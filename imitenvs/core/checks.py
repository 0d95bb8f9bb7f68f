"""Argument validation with error messages that name the bad value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``.

    Raises:
        ValueError: naming ``name``, the bad value and the allowed values.
    """
    allowed = list(allowed)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}={value!r} is not allowed; choose one of: {shown}")
    return value


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as ``int`` if it is an integer > 0, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_discrete_action(action: Any, n: int) -> int:
    """Return a discrete action as ``int`` if it lies in ``range(n)``.

    Accepts Python ints, numpy integer scalars and 0-d/size-1 integer arrays.

    Raises:
        ValueError: the action is not an integer in ``[0, n)``.
    """
    arr = np.asarray(action)
    if arr.size == 1 and np.issubdtype(arr.dtype, np.integer):
        a = int(arr.reshape(()))
        if 0 <= a < n:
            return a
    raise ValueError(
        f"action {action!r} is outside the action space Discrete({n}); "
        f"expected an integer in [0, {n - 1}]"
    )
