"""One checked reader for ``.npz`` archives (``np.savez`` zips of ``.npy`` members).

:func:`read_npz` looks at everything before it reads any array into memory: the member names
(only the expected ones), each member's ``.npy`` header (a plain dtype of an allowed kind,
never an object array; a declared size that matches the member's bytes), the total size, and
an optional shape rule of the caller. Only then are the arrays read, with
``allow_pickle=False``. Every refusal is one line naming the file; a damaged archive is a
:class:`~imitenvs.core.files.CorruptFileError`.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from imitenvs.core.files import CorruptFileError

Headers = dict[str, tuple[tuple[int, ...], np.dtype]]
"""``key: (shape, dtype)`` of each member, from its ``.npy`` header"""

MAX_NPZ_BYTES = 4 << 30
"""default cap on the bytes an archive's arrays may hold together (4 GiB)"""

READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


def npy_header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header length)`` of an ``.npy`` stream (format 1.0 or 2.0)."""
    version = np.lib.format.read_magic(handle)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = readers[version](handle)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return tuple(shape), dtype, handle.tell()


def _kinds_of(key: str, kinds: Mapping[str, str]) -> str | None:
    """The allowed dtype kinds of ``key``: an exact entry, else a ``"prefix/*"`` entry."""
    if key in kinds:
        return kinds[key]
    for pattern, allowed in kinds.items():
        if pattern.endswith("/*") and key.startswith(pattern[:-1]) and len(key) > len(pattern) - 1:
            return allowed
    return None


def npz_headers(
    path: Path,
    zf: zipfile.ZipFile,
    kinds: Mapping[str, str],
    required: Collection[str] = (),
    max_bytes: int = MAX_NPZ_BYTES,
) -> Headers:
    """Check the members of an open archive and return their headers; no array is read.

    Args:
        path: The archive's path (for messages).
        zf: The open archive.
        kinds: Allowed numpy dtype kinds per member key (``"f"`` floats, ``"iu"`` integers,
            ``"b"`` bool, ``"U"`` strings); ``"name/*"`` covers every ``name/...`` key.
        required: Keys that must be present.
        max_bytes: Cap on the arrays' total size.

    Raises:
        ValueError: a missing, unexpected or duplicate member, a dtype outside its kinds (an
            object array above all), a header that disagrees with its member's size, or too
            many bytes.
        CorruptFileError: a member without a readable header.
    """
    names = zf.namelist()
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate members in {sorted(names)}")
    keys = [name.removesuffix(".npy") for name in names]
    missing = sorted(set(required) - set(keys))
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing} (it has {sorted(keys)})")
    unknown = sorted(n for n in names if not n.endswith(".npy") or _kinds_of(n[:-4], kinds) is None)
    if unknown:
        raise ValueError(f"{path}: unexpected member(s) {unknown}; expected {sorted(kinds)}")
    headers: Headers = {}
    total = 0
    for key in keys:
        info = zf.getinfo(f"{key}.npy")
        try:
            with zf.open(info) as handle:
                shape, dtype, offset = npy_header(handle)
        except READ_ERRORS as exc:
            raise CorruptFileError(
                f"{path}: member {key!r} has no valid .npy header ({exc})"
            ) from None
        allowed = _kinds_of(key, kinds) or ""
        if dtype.hasobject or dtype.kind not in allowed:
            raise ValueError(
                f"{path}: {key!r} has dtype {dtype}; expected a plain array of dtype kinds "
                f"{allowed!r} (never objects), refusing to read it"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise ValueError(
                f"{path}: {key!r} declares shape {shape} ({nbytes} bytes) but the member holds "
                f"{info.file_size - offset} bytes of data"
            )
        total += nbytes
        headers[key] = (shape, dtype)
    if total > max_bytes:
        raise ValueError(f"{path}: its arrays hold {total} bytes, more than the cap {max_bytes}")
    return headers


def read_npz(
    path: str | Path,
    kinds: Mapping[str, str],
    required: Collection[str] = (),
    check: Callable[[Headers], None] | None = None,
    max_bytes: int = MAX_NPZ_BYTES,
) -> dict[str, np.ndarray]:
    """The arrays of ``path`` by key, once names, headers and ``check(headers)`` passed.

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: not a zip, or a member that cannot be read.
        ValueError: see :func:`npz_headers`; and whatever ``check`` raises.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptFileError(f"{path} is not a readable .npz archive: {exc}") from None
    with zf:
        headers = npz_headers(path, zf, kinds, required, max_bytes)
        if check is not None:
            check(headers)
        arrays = {}
        for key in headers:
            try:
                with zf.open(f"{key}.npy") as handle:
                    arrays[key] = np.lib.format.read_array(handle, allow_pickle=False)
            except READ_ERRORS as exc:
                raise CorruptFileError(f"{path}: member {key!r} is unreadable ({exc})") from None
    return arrays
