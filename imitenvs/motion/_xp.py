"""A tiny array-namespace shim so the motion maths is written once for numpy and torch.

numpy >= 2 and torch both accept the array-API spellings used here (``atan2``, ``asin``,
``concat``, ``stack(..., axis=)``, ``sum(..., axis=, keepdims=)``, ``where``, ``clip``), so the
namespace of an array is simply the ``numpy`` or ``torch`` module. torch is never imported by
this module: an array is a tensor only if torch was already imported by whoever made it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a ``torch.Tensor`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def namespace(*arrays: Any) -> ModuleType:
    """``torch`` if any argument is a tensor, else ``numpy``."""
    for x in arrays:
        if is_torch(x):
            return sys.modules["torch"]
    return np


def asarray(value: Any, like: Any) -> Any:
    """``value`` as an array of the same kind, dtype and device as ``like``."""
    if is_torch(like):
        torch = sys.modules["torch"]
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            value = value.copy()  # torch refuses to wrap read-only numpy memory
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return np.asarray(value, dtype=np.asarray(like).dtype)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy/view of a numpy array or (CPU or GPU) tensor."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_index(x: Any) -> Any:
    """Integer (int64) version of an array, for indexing."""
    if is_torch(x):
        return x.long()
    return np.asarray(x).astype(np.int64)
