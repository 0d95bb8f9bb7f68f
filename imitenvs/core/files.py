"""Files we write and read: atomic writes, locks, and checksummed torch files.

Every writer in imitenvs goes through :func:`atomic_writer` (or the helpers built on it): the
bytes go to a temporary sibling file, are flushed and ``fsync``-ed, and only then replace the
target with ``os.replace``. A crash or a kill during a save therefore leaves the previous
file intact, never a torn one.

:class:`RunLock` keeps two training runs from writing into one folder at once, and
:func:`exclusive_lock` lets one process at a time append to a file (a download's ``.part``).

:func:`save_torch` / :func:`load_torch` write and read the checkpoints of our agents: plain
data only (tensors, numbers, strings, lists, dicts), read back with
``torch.load(weights_only=True)`` so a file can never run code, and with a SHA-256 digest of
the content stored inside, so flipped bytes are an error at load time rather than NaN weights
discovered later.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

CHECKSUM_KEY = "__sha256__"
"""key of the content digest inside a :func:`save_torch` file"""


class CorruptFileError(ValueError):
    """A file we wrote fails its checksum or cannot be parsed; the message names the file."""


class InUseError(RuntimeError):
    """Another process holds the run folder or file; the message names it and the owner."""


# ----------------------------------------------------------------------------------- writes
def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary sibling of ``path`` (hidden, same suffix) to write to by name: :meth:`commit`
    ``fsync``-s it and renames it over ``path`` (``os.replace``, atomic) and syncs the folder;
    :meth:`discard` deletes it and leaves ``path`` untouched. For writers that need a file
    *name* and outlive one block (a video stream); :func:`atomic_path` is the block form."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.tmp = self.path.with_name(f".{self.path.stem}.{token}.tmp{self.path.suffix}")

    def commit(self) -> Path:
        try:
            with self.tmp.open("rb") as written:
                os.fsync(written.fileno())
            self.tmp.replace(self.path)
        except BaseException:
            self.discard()
            raise
        _fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary sibling path of ``path`` (:class:`AtomicFile`) to write; when the
    block ends without an exception it replaces ``path`` atomically, on an exception (or a
    kill) it is deleted (or left as a hidden ``.<name>.*.tmp<suffix>``) and ``path`` is
    untouched. For writers that need a file *name* (ffmpeg, matplotlib, PIL);
    :func:`atomic_writer` gives a file object."""
    target = AtomicFile(path)
    try:
        yield target.tmp
    except BaseException:
        target.discard()
        raise
    target.commit()


@contextmanager
def atomic_writer(path: str | Path, text: bool = False) -> Iterator[IO]:
    """Write ``path`` all at once: yields a new temporary file in the same folder (binary, or
    UTF-8 text with ``text``) that replaces ``path`` as :func:`atomic_path` describes."""
    with atomic_path(path) as tmp:
        mode = {"encoding": "utf-8"} if text else {}
        with tmp.open("x" if text else "xb", **mode) as out:
            yield out


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_writer(path) as out:
        out.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, text=True) as out:
        out.write(text)
    return Path(path)


def atomic_write_json(path: str | Path, value: Any, indent: int | None = 1) -> Path:
    """Write ``value`` as JSON to ``path`` atomically; returns ``path``."""
    return atomic_write_text(path, json.dumps(value, indent=indent) + "\n")


# ------------------------------------------------------------------------------------ locks
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class RunLock:
    """An exclusive claim on a run folder: ``<folder>/.lock`` holds the owner's pid and host.

    A second run that takes the lock on the same folder gets an :class:`InUseError` naming the
    owner, unless it passes ``force=True`` (take over: the other run may still be writing). A
    lock left by a process that no longer exists on this host is taken over with a warning.
    Use it as a context manager, or call :meth:`acquire` / :meth:`release`.

    Args:
        folder: The run folder (created if missing).
        force: Take the lock even when a live process holds it.
    """

    def __init__(self, folder: str | Path, force: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self.force = force
        self._held = False

    def _owner(self) -> dict[str, Any] | None:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    def acquire(self) -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self._owner()
                pid, host = (owner or {}).get("pid"), (owner or {}).get("host")
                stale = isinstance(pid, int) and host == me["host"] and not _pid_alive(pid)
                if not (stale or self.force):
                    who = f"pid {pid} on {host}" if owner else "an unknown process"
                    raise InUseError(
                        f"run folder {self.folder} is in use by {who} (lock file {self.path}); "
                        "choose another output folder, or pass --force to take it over"
                    ) from None
                log.warning(
                    "taking over %s from %s",
                    self.path,
                    "a finished process" if stale else f"pid {pid} (forced)",
                )
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(me, out)
            self._held = True
            return self
        raise RuntimeError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self._held:
            owner = self._owner()
            if owner is not None and owner.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_outputs(folder: str | Path, patterns: Iterable[str], force: bool) -> None:
    """Refuse a run folder that holds another run's outputs, unless ``force`` (then remove them).

    Args:
        folder: The run folder.
        patterns: Globs relative to it naming a run's outputs (``"policy.pt"``,
            ``"checkpoints/*.zip"``).
        force: Delete what matches instead of refusing.

    Raises:
        FileExistsError: something matches and ``force`` is false.
    """
    folder = Path(folder)
    old = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    if old and not force:
        more = f" and {len(old) - 1} more" if len(old) > 1 else ""
        raise FileExistsError(
            f"{folder} already holds a run ({old[0].relative_to(folder)}{more}); choose another "
            "--out, or pass --force to overwrite it"
        )
    for path in old:
        path.unlink()


@contextmanager
def exclusive_lock(path: str | Path, what: str = "file") -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``<path>.lock`` for the block; the lock
    file is removed when the block ends (before the lock is released, so a process that opened
    it in between finds its file gone and stops rather than locking a file nobody else sees).

    Raises:
        InUseError: another process holds it, or just released it (naming ``path``); nothing
            is waited for.
    """
    lock_path = Path(str(path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise InUseError(
                    f"another process is writing {what} {path} (lock {lock_path}); wait for it "
                    "to finish, or stop it and run again"
                ) from None
            raise
        try:
            if not _same_file(lock_path, handle.fileno()):
                raise InUseError(
                    f"another process has just finished or abandoned {what} {path}; run again"
                )
            yield
        finally:
            if _same_file(lock_path, handle.fileno()):
                lock_path.unlink(missing_ok=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _same_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return path.stat().st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------- checksummed torch
def content_digest(value: Any) -> str:
    """SHA-256 over a canonical walk of plain data and tensors (dict keys sorted).

    Accepts what ``torch.load(weights_only=True)`` returns: dicts, lists, tuples, strings,
    numbers, booleans, ``None``, ``torch.Size`` and tensors (dtype, shape and raw bytes).
    """
    import torch

    digest = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            digest.update(f"D{len(x)}:".encode())
            for key in sorted(x, key=repr):
                walk(key)
                walk(x[key])
        elif isinstance(x, list | tuple):
            digest.update(f"{type(x).__name__}{len(x)}:".encode())
            for item in x:
                walk(item)
        elif x is None or isinstance(x, bool | int | float | str | bytes):
            digest.update(f"{type(x).__name__}:{x!r};".encode())
        else:
            raise TypeError(f"cannot checksum a {type(x).__name__}: store plain data only")

    walk(value)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    """The informative line of a ``torch.load`` error (its unpickler's verdict if present)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    verdict = [line for line in lines if "Unpickler error" in line or "Unsupported" in line]
    text = (verdict or lines or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."


def save_torch(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plain data + tensors) with ``torch.save``, atomically, with a digest.

    Raises:
        TypeError: ``state`` holds something other than plain data and tensors (it could not
            be read back with ``weights_only=True``).
    """
    import torch

    if CHECKSUM_KEY in state:
        raise ValueError(f"state may not use the reserved key {CHECKSUM_KEY!r}")
    body = {**state, CHECKSUM_KEY: content_digest(state)}
    buffer = io.BytesIO()
    torch.save(body, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_torch(
    path: str | Path, map_location: Any = "cpu", *, require_checksum: bool = True
) -> dict[str, Any]:
    """Read a :func:`save_torch` file: ``weights_only=True``, then verify its digest.

    Args:
        path: The file.
        map_location: Passed to ``torch.load``.
        require_checksum: Refuse files without a digest (files written before digests were
            added pass with ``False``).

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: unreadable, refused (not plain data) or the digest does not match;
            one line naming the file.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CorruptFileError(
            f"{path}: refused, it holds objects other than tensors and plain data "
            f"({_reason(exc)}); nothing in it was run"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path}: not a readable torch file ({_reason(exc)})") from None
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path}: expected a dict, found a {type(state).__name__}")
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is None:
        if require_checksum:
            raise CorruptFileError(f"{path}: no checksum (not written by imitenvs.save_torch)")
        return state
    try:
        actual = content_digest(state)
    except TypeError as exc:
        raise CorruptFileError(f"{path}: {exc}") from None
    if actual != stored:
        raise CorruptFileError(
            f"{path}: checksum mismatch (stored {str(stored)[:12]}…, content {actual[:12]}…); "
            "the file is corrupt — use an earlier checkpoint"
        )
    return state
