"""A restricted unpickler for the pickled motion files of other projects.

AMP poselib ``.npy`` files and MimicKit ``.pkl`` files are pickles. Unpickling runs whatever
callables the file names, so :class:`RestrictedUnpickler` resolves only an allow-list of names:
numpy's array/dtype/scalar reconstructors, ``numpy.ndarray``, ``numpy.dtype`` and
``collections.OrderedDict``. Plain containers and numbers (dict, list, tuple, str, int, float,
bool, None) need no lookup. Any other global (``os.system``, ``builtins.eval``, a class with
``__reduce__``...) raises :class:`UnsafePickleError` before anything is called.
"""

from __future__ import annotations

import collections
import io
import pickle
import pickletools
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class UnsafePickleError(ValueError):
    """The pickle names a callable outside the allow-list; nothing from it was executed."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles use to store bytes; any codec other than latin-1 is refused."""
    if encoding.lower().replace("-", "") != "latin1":
        raise UnsafePickleError(f"refusing _codecs.encode with codec {encoding!r}")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
    }
    for prefix in ("numpy.core", "numpy._core"):  # numpy 1.x files name numpy.core
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only numpy arrays, dtypes, scalars and OrderedDict."""

    _ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: only numpy arrays and plain containers "
                "(dict, OrderedDict, list, tuple, str, numbers) are allowed in motion files"
            ) from None


#: Opcodes that hand the unpickler buffers from outside the stream (protocol 5); refused.
_OUT_OF_BAND = frozenset({"NEXT_BUFFER", "READONLY_BUFFER"})
#: What a corrupt pickle can raise while it is parsed or while numpy rebuilds its arrays.
_CORRUPT = (
    pickle.UnpicklingError, EOFError, AttributeError, TypeError, IndexError, KeyError,
    OverflowError, MemoryError, RecursionError, struct.error, SystemError, ValueError,
)  # fmt: skip


def _check_opcodes(data: bytes) -> None:
    """Parse every opcode without running anything: a malformed stream or an out-of-band
    buffer is refused before the unpickler allocates from a corrupt length."""
    try:
        for opcode, _, _ in pickletools.genops(data):
            if opcode.name in _OUT_OF_BAND:
                raise UnsafePickleError(f"refusing out-of-band pickle buffers ({opcode.name})")
            if opcode.name == "STOP":
                return
    except UnsafePickleError:
        raise
    except _CORRUPT as exc:
        raise ValueError(f"not a valid pickle: {exc}") from None
    raise ValueError("not a valid pickle: no STOP opcode")


def safe_load(stream: BinaryIO) -> Any:
    """Unpickle one object from ``stream`` with :class:`RestrictedUnpickler`.

    The stream is read into memory and its opcodes are checked first (:func:`_check_opcodes`),
    so a corrupt length field cannot make the unpickler allocate more than the file holds; any
    error of a corrupt file becomes one ``ValueError``.
    """
    data = stream.read()
    _check_opcodes(data)
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError:
        raise
    except _CORRUPT as exc:
        raise ValueError(f"not a valid pickle: {type(exc).__name__}: {exc}") from None


def _named(path: str | Path, exc: ValueError) -> ValueError:
    """``exc`` (an :class:`UnsafePickleError` stays one), its message prefixed with the file's
    path, on one line."""
    cls = UnsafePickleError if isinstance(exc, UnsafePickleError) else ValueError
    return cls(f"{path}: {' '.join(str(exc).split())}")


def safe_load_file(path: str | Path) -> Any:
    """Unpickle a whole ``.pkl`` file safely (errors name ``path``)."""
    with Path(path).open("rb") as stream:
        try:
            return safe_load(stream)
        except ValueError as exc:
            raise _named(path, exc) from None


def safe_load_npy(path: str | Path) -> Any:
    """Read an ``.npy`` file; object arrays (pickled payloads) go through the safe unpickler.

    Returns the array, or for a 0-d object array (``np.save`` of a dict) the object itself.
    """
    with Path(path).open("rb") as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        except ValueError as exc:
            raise ValueError(f"{path}: not an .npy file ({exc})") from exc
        if not dtype.hasobject:
            stream.seek(0)
            return np.lib.format.read_array(stream, allow_pickle=False)
        try:
            payload = safe_load(stream)
        except ValueError as exc:
            raise _named(path, exc) from None
    if isinstance(payload, np.ndarray) and payload.shape == () and tuple(shape) == ():
        return payload.item()
    return payload
