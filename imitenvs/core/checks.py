"""Argument validation with error messages that name the bad value and what is allowed.

It also holds the action contract every env follows (:func:`box_action`,
:func:`check_box_action`, :func:`check_discrete_action`) and :class:`CallOrder`, the
``reset``/``step``/``close`` order every env enforces itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium.error import ClosedEnvironmentError, ResetNeeded


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

    Accepts Python ints, numpy integer scalars, 0-d/size-1 integer arrays, integer torch tensors
    (any device) and one-element lists.

    Raises:
        ValueError: the action is not an integer in ``[0, n)``.
    """
    arr = as_numpy(action)
    if arr.size == 1 and np.issubdtype(arr.dtype, np.integer):
        a = int(arr.reshape(()))
        if 0 <= a < n:
            return a
    raise ValueError(
        f"action {action!r} is outside the action space Discrete({n}); "
        f"expected an integer in [0, {n - 1}]"
    )


def check_seed(seed: Any) -> int | None:
    """Return ``seed`` as ``int`` if it is an integer >= 0 (Python or numpy), or ``None``.

    Raises:
        ValueError: anything else (floats such as ``1.5`` are refused, never truncated).
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
    return int(seed)


# ---- the action contract ------------------------------------------------------------------------
def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch when nothing else did)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_numpy(x: Any) -> np.ndarray:
    """``x`` (numpy array, torch tensor on any device, list, tuple or scalar) as a numpy array."""
    if is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def box_action(action: Any, low: Any, high: Any, *, clip: bool = True) -> np.ndarray:
    """One single env's continuous action as a checked numpy array (see :func:`check_box_action`).

    ``action`` may be a numpy array, a torch tensor (any device), a list, a tuple or a scalar;
    float arrays keep their dtype, anything else becomes float64.

    Raises:
        ValueError: not numeric, wrong shape, or NaN/inf (the message names the value).
    """
    arr = as_numpy(action)
    if not np.issubdtype(arr.dtype, np.floating):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"action {action!r} is not an array of numbers") from e
    low = np.asarray(low)
    return check_box_action(arr, low, high, low.shape, clip=clip)


def check_box_action(
    action: Any, low: Any, high: Any, shape: Sequence[int], *, clip: bool = True
) -> Any:
    """Check a float action (numpy array or torch tensor) and clip it to ``[low, high]``.

    The one action check of every continuous env: single envs through :func:`box_action`,
    batched envs with ``shape = (N, *action_shape)`` on their own device (then the message
    names the worlds whose actions are bad).

    Args:
        action: float numpy array or torch tensor.
        low, high: the action space's bounds (broadcast against ``action``; same kind).
        shape: the expected shape.
        clip: clip to ``[low, high]`` (``False``: return the checked action unchanged).

    Raises:
        ValueError: wrong shape, or NaN/inf in the action.
    """
    shape = tuple(shape)
    batched = len(shape) > len(low.shape)
    if tuple(action.shape) != shape:
        what = "actions have" if batched else "action has"
        raise ValueError(f"{what} shape {tuple(action.shape)}, expected {shape}")
    finite = action.isfinite() if is_tensor(action) else np.isfinite(action)
    if not bool(finite.all()):
        raise ValueError(_non_finite_message(as_numpy(action), as_numpy(finite), batched))
    if not clip:
        return action
    return action.clamp(low, high) if is_tensor(action) else np.clip(action, low, high)


def _non_finite_message(action: np.ndarray, finite: np.ndarray, batched: bool) -> str:
    if not batched:
        return f"action {action.tolist()} contains NaN or inf; actions must be finite"
    bad = np.flatnonzero(~finite.reshape(len(finite), -1).all(1))
    shown = action[bad[:3]].tolist()
    return f"actions contain NaN or inf for worlds {bad[:10].tolist()}: {shown}"


# ---- the call order -------------------------------------------------------------------------
class CallOrder:
    """Mixin: the env itself refuses ``step()`` before ``reset()`` and anything after ``close()``.

    gymnasium's ``OrderEnforcing`` wrapper only guards envs made by ``gymnasium.make`` (and is
    left off batched ids), and nothing in gymnasium refuses a closed env; this mixin makes every
    env follow the same order however it was built. Put it first among the bases (its
    :meth:`close` chains on); call :meth:`_check_reset` first and :meth:`_mark_ready` last in
    ``reset`` (and in ``set_state``, which also defines the whole state), and
    :meth:`_check_step` first in ``step``.

    Raises (from the checks):
        gymnasium.error.ResetNeeded: ``step()`` before the first ``reset()``.
        gymnasium.error.ClosedEnvironmentError: ``step()`` or ``reset()`` after ``close()``.
    """

    _call_order: str = "new"  # "new" -> "ready" (after reset) -> "closed"

    def _check_reset(self) -> None:
        if self._call_order == "closed":
            raise ClosedEnvironmentError(
                f"{type(self).__name__}.reset() called after close(); make a new env"
            )

    def _mark_ready(self) -> None:
        self._call_order = "ready"

    def _check_step(self) -> None:
        if self._call_order == "ready":
            return
        name = type(self).__name__
        if self._call_order == "closed":
            raise ClosedEnvironmentError(f"{name}.step() called after close(); make a new env")
        raise ResetNeeded(f"{name}.step() called before reset(); call env.reset() first")

    def close(self, **kwargs: Any) -> None:
        """Release resources (idempotent); the env then refuses ``step()`` and ``reset()``."""
        super().close(**kwargs)  # type: ignore[misc]
        self._call_order = "closed"
