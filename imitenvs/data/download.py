"""Downloads that resume, verify, write atomically, and unzip without escaping their folder.

:func:`download` fetches one :class:`RemoteFile` into a folder: bytes go to ``<name>.part``
(resumed with an HTTP ``Range`` request when a previous attempt left one), are checked
against the expected size and the md5/sha256 digests, and only then renamed to ``<name>``
(``os.replace``, atomic). A file already in place (for instance fetched by hand) is verified
and reused. When the server cannot be reached, :class:`DownloadError` says which URL to fetch
by hand and where to put it. One process at a time fetches a given file: the whole fetch holds
:func:`~imitenvs.core.files.exclusive_lock` on the ``.part`` (a second download of the same
file into the same folder gets a :class:`RuntimeError` at once instead of appending to it).

Checksums never switch off by themselves: a :class:`RemoteFile` without md5 or sha256 is
refused unless the caller passes ``allow_unverified=True`` (then only the sizes are checked,
with a warning), and :func:`zenodo_files` refuses a record entry whose checksum it cannot
verify (missing, or not ``md5:``/``sha256:`` followed by the hex digest).

:func:`safe_extract` unzips an archive after checking that no member is absolute, climbs out
with ``..``, is a symbolic link or has no name, and that the members declare at most
``max_bytes`` in total (:data:`MAX_EXTRACT_BYTES` by default; the byte count is enforced again
while decompressing, since declared sizes can lie). Members are decompressed into a hidden
staging folder inside the target and moved into place only when all of them succeeded, so a
failure leaves no partial extraction and no temporary files.

:func:`zenodo_files` reads a Zenodo record's file list (names, sizes, checksums).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import lzma
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from imitenvs.core.files import exclusive_lock

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "imitenvs-downloader"
ZENODO = "https://zenodo.org"
MAX_EXTRACT_BYTES = 8 << 30
"""default cap (8 GiB) on what :func:`safe_extract` writes: about three times the 2.7 GB that
the three iMuJoCo zips hold together, whose contents (SB3 zips, float arrays) barely compress"""
UNZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError)
"""what a corrupt or unsupported member raises while being decompressed"""
HEX_DIGEST = {"md5": re.compile(r"[0-9a-f]{32}"), "sha256": re.compile(r"[0-9a-f]{64}")}


class DownloadError(OSError):
    """The server could not be reached or the transfer broke off (a ``.part`` may remain)."""


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch.

    Attributes:
        url: Where it is.
        filename: Name to save it under.
        size: Expected size in bytes, if known.
        md5: Expected md5 hex digest, if known.
        sha256: Expected sha256 hex digest, if known.
    """

    url: str
    filename: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        name = PurePosixPath(self.filename)
        if name.name != self.filename or self.filename in ("", ".", ".."):
            raise ValueError(f"filename must be a plain file name, got {self.filename!r}")


def _digests(path: Path) -> dict[str, str]:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def verify(
    path: Path,
    remote: RemoteFile,
    announced_size: int | None = None,
    *,
    allow_unverified: bool = False,
) -> None:
    """Check ``path`` against the remote's size and digests (and the server's announced size).

    Args:
        path: The file.
        remote: What it should be.
        announced_size: The size the server announced, if any.
        allow_unverified: Accept a ``remote`` without md5 and sha256 (sizes only, with a
            warning); otherwise such a remote is an error.

    Raises:
        ValueError: a mismatch, naming the file, the check and both values; or no digest to
            check against without ``allow_unverified``.
    """
    size = path.stat().st_size
    for expected in (remote.size, announced_size):
        if expected is not None and size != expected:
            raise ValueError(f"{path}: size {size} bytes, expected {expected}")
    if remote.md5 is None and remote.sha256 is None:
        if not allow_unverified:
            raise ValueError(_unverified_refusal(remote))
        known = remote.size is not None or announced_size is not None
        logger.warning(
            "%s: no md5 or sha256 known; %s (allow_unverified=True)",
            path,
            "checked by size only" if known else "NOT verified at all",
        )
        return
    digests = _digests(path)
    for algo in ("md5", "sha256"):
        expected = getattr(remote, algo)
        if expected is not None and digests[algo] != expected.lower():
            raise ValueError(f"{path}: {algo} {digests[algo]}, expected {expected.lower()}")


def _unverified_refusal(remote: RemoteFile) -> str:
    return (
        f"no md5 or sha256 is known for {remote.filename} ({remote.url}): refusing to accept "
        "it with a size check only; pass allow_unverified=True to accept that explicitly"
    )


def _manual_hint(remote: RemoteFile, target: Path) -> str:
    return (
        f"Fetch it by hand, e.g. `curl -L -o {target} '{remote.url}'`, "
        "and run the command again: the file is then verified and used."
    )


def _open(
    remote: RemoteFile, offset: int, timeout: float, target: Path
) -> http.client.HTTPResponse | None:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(remote.url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part already holds every byte
            return None
        raise DownloadError(
            f"{remote.url} answered HTTP {exc.code} {exc.reason}. {_manual_hint(remote, target)}"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot reach {remote.url} ({reason}). {_manual_hint(remote, target)}"
        ) from exc


def _announced_size(response: http.client.HTTPResponse, offset: int) -> int | None:
    """Full size the server announces: ``Content-Range``'s total, else offset + length."""
    content_range = response.headers.get("Content-Range", "")
    total = content_range.rpartition("/")[2]
    if response.status == 206 and total.isdigit():
        return int(total)
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def download(
    remote: RemoteFile,
    directory: str | Path,
    *,
    timeout: float = 30.0,
    progress: bool = True,
    allow_unverified: bool = False,
) -> Path:
    """Fetch ``remote`` into ``directory`` (resuming, verified, atomic); return its path.

    Args:
        remote: The file; it needs an md5 or a sha256 unless ``allow_unverified``.
        directory: Folder to save it in (created).
        timeout: Seconds per network operation.
        progress: Show a progress bar.
        allow_unverified: Accept a ``remote`` without digests, checking sizes only (logged).

    Raises:
        DownloadError: unreachable server, HTTP error or broken transfer (run again to resume).
        ValueError: ``remote`` has no digest (without ``allow_unverified``); the bytes fail
            verification (the partial file is deleted; the message says whether it was a
            resumed download); or a file already at the target fails it (delete it and run
            again).
        RuntimeError: another process is downloading the same file into ``directory``.
    """
    if remote.md5 is None and remote.sha256 is None and not allow_unverified:
        raise ValueError(_unverified_refusal(remote))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / remote.filename
    if target.is_file():
        return _reuse(target, remote, allow_unverified)
    part = target.with_name(target.name + ".part")
    with exclusive_lock(part, "download"):
        if target.is_file():  # another process finished it just before we took the lock
            return _reuse(target, remote, allow_unverified)
        return _fetch(remote, target, part, timeout, progress, allow_unverified)


def _reuse(target: Path, remote: RemoteFile, allow_unverified: bool) -> Path:
    try:
        verify(target, remote, allow_unverified=allow_unverified)
    except ValueError as exc:
        raise ValueError(f"{exc}; delete {target} and run again to re-download") from exc
    logger.info("%s already present and verified", target)
    return target


def _fetch(
    remote: RemoteFile,
    target: Path,
    part: Path,
    timeout: float,
    progress: bool,
    allow_unverified: bool,
) -> Path:
    """Fill ``part`` (resuming what it holds), verify it and rename it to ``target``."""
    offset = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and offset > remote.size:
        part.unlink()
        offset = 0
    response = _open(remote, offset, timeout, target)
    announced = offset if response is None else None
    if response is not None:
        with response:
            if offset and response.status != 206:  # the server ignored the Range: restart
                offset = 0
            announced = _announced_size(response, offset)
            _stream(response, part, offset, announced, remote, target, progress)
    received = part.stat().st_size
    if announced is not None and received < announced:
        raise DownloadError(
            f"transfer of {remote.url} ended after {received} of {announced} bytes; run again "
            f"to resume from {part}, or: {_manual_hint(remote, target)}"
        )
    try:
        verify(part, remote, announced, allow_unverified=allow_unverified)
    except ValueError as exc:
        part.unlink(missing_ok=True)
        if offset:
            raise ValueError(
                f"the resumed download of {remote.filename} failed its check ({exc}); the "
                f"partial file {part} was deleted — run the command again to download it "
                "from scratch"
            ) from exc
        raise ValueError(
            f"{exc}; the download was deleted — run the command again to retry"
        ) from exc
    part.replace(target)
    return target


def _stream(
    response: http.client.HTTPResponse,
    part: Path,
    offset: int,
    total: int | None,
    remote: RemoteFile,
    target: Path,
    progress: bool,
) -> None:
    mode = "ab" if offset else "wb"
    bar = tqdm(
        total=total,
        initial=offset,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=remote.filename,
        disable=not progress,
    )
    try:
        with part.open(mode) as handle:
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                bar.update(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise DownloadError(
            f"transfer of {remote.url} broke off after {part.stat().st_size} bytes ({exc}); "
            f"run again to resume from {part}, or: {_manual_hint(remote, target)}"
        ) from exc
    finally:
        bar.close()


def _member_target(root: Path, info: zipfile.ZipInfo) -> Path | None:
    """Where ``info`` goes under ``root``; ``None`` for a directory entry naming ``root`` itself
    (``./``, which some zip tools write: nothing to do).

    Raises:
        ValueError: the member is absolute, climbs out with ``..``, has a drive, is a symbolic
            link, resolves outside ``root``, or is a file with no name (``""``, ``"."``).
    """
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    mode = info.external_attr >> 16
    if not pure.parts:
        if name.endswith("/"):  # not info.is_dir(): it fails on an empty name
            return None
        raise ValueError(f"refusing zip member {name!r}: it has no file name")
    if pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        raise ValueError(f"refusing zip member {name!r}: it points outside the target folder")
    if stat.S_ISLNK(mode):
        raise ValueError(f"refusing zip member {name!r}: symbolic links are not extracted")
    target = (root / Path(*pure.parts)).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"refusing zip member {name!r}: it resolves outside {root}")
    return target


def _plan(
    zf: zipfile.ZipFile, root: Path, archive: Path, max_bytes: int
) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Every member's target, after the name checks and the declared-size cap."""
    plan = []
    for info in zf.infolist():
        target = _member_target(root, info)
        if target is not None:
            plan.append((info, target))
    _check_declared(plan, archive, max_bytes)
    return plan


def _check_declared(
    plan: list[tuple[zipfile.ZipInfo, Path]], archive: Path, max_bytes: int
) -> None:
    """The members' declared sizes add up to at most ``max_bytes``."""
    declared = sum(info.file_size for info, _ in plan if not info.is_dir())
    if declared > max_bytes:
        raise ValueError(
            f"{archive}: its members declare {declared} bytes in total, more than "
            f"max_bytes={max_bytes}; refusing to extract it (pass a larger max_bytes if you "
            "trust the archive)"
        )


def _stage(
    zf: zipfile.ZipFile,
    plan: list[tuple[zipfile.ZipInfo, Path]],
    staging: Path,
    archive: Path,
    max_bytes: int,
) -> list[tuple[Path | None, Path]]:
    """Decompress the files of ``plan`` into ``staging``, counting every byte against
    ``max_bytes``; returns ``(staged file or None for a folder, target)`` pairs."""
    staged: list[tuple[Path | None, Path]] = []
    total = 0
    for k, (info, target) in enumerate(plan):
        if info.is_dir():
            staged.append((None, target))
            continue
        tmp = staging / str(k)
        try:
            with zf.open(info) as src, tmp.open("xb") as out:
                while chunk := src.read(CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise ValueError(
                            f"{archive}: member {info.filename!r} takes the extracted size past "
                            f"max_bytes={max_bytes} (the declared sizes were wrong); refusing "
                            "to extract it, nothing was written"
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except UNZIP_ERRORS as exc:
            raise ValueError(
                f"{archive}: member {info.filename!r} cannot be extracted ({exc}); nothing was "
                "written"
            ) from exc
        staged.append((tmp, target))
    return staged


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for path in missing:
        path.mkdir()
    return missing


def _move_into_place(staged: list[tuple[Path | None, Path]]) -> list[Path]:
    """Rename the staged files to their targets; on a failure, remove the files and folders
    this created (files it already replaced keep their new content) and re-raise."""
    created: list[Path] = []
    written: list[Path] = []
    try:
        for tmp, target in staged:
            created += _make_dirs(target if tmp is None else target.parent)
            if tmp is None:
                continue
            new = not target.exists()
            tmp.replace(target)
            written.append(target)
            if new:
                created.append(target)
    except BaseException:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        raise
    return written


def safe_extract(
    archive: str | Path, directory: str | Path, *, max_bytes: int = MAX_EXTRACT_BYTES
) -> list[Path]:
    """Extract a zip into ``directory``; every member is checked before anything is written.

    Members are decompressed into a hidden staging folder in ``directory`` and renamed into
    place once all of them are out, so an error (a corrupt member, the size cap) leaves
    ``directory`` as it was. A ``./`` entry (the folder itself) is skipped.

    Args:
        archive: The zip.
        directory: Where to extract it (created).
        max_bytes: Most bytes to write, all members together (:data:`MAX_EXTRACT_BYTES`);
            checked on the declared sizes first, then while decompressing.

    Returns:
        The extracted files.

    Raises:
        ValueError: a member is absolute, contains ``..``, is a symlink, has no name or
            resolves outside ``directory``; the members declare or decompress to more than
            ``max_bytes``; a member is corrupt; or the archive is not a zip.
    """
    archive = Path(archive)
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{archive} is not a zip archive: {exc}") from exc
    with zf:
        plan = _plan(zf, root, archive, max_bytes)
        staging = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", suffix=".extracting", dir=root))
        try:
            return _move_into_place(_stage(zf, plan, staging, archive, max_bytes))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _checksum(url: str, name: str, checksum: object) -> dict[str, str]:
    """``{"md5": hex}`` or ``{"sha256": hex}`` from a record's ``"<algo>:<hex>"``.

    Raises:
        ValueError: missing, another algorithm or a malformed digest: the file could not be
            verified, so it is not offered at all.
    """
    algo, _, digest = str(checksum or "").partition(":")
    algo, digest = algo.strip().lower(), digest.strip().lower()
    pattern = HEX_DIGEST.get(algo)
    if pattern is None or not pattern.fullmatch(digest):
        raise ValueError(
            f"{url}: file {name!r} has checksum {checksum!r}, which cannot be verified (expected "
            "md5:<32 hex digits> or sha256:<64 hex digits>); refusing to download it unverified"
        )
    return {algo: digest}


def zenodo_files(
    record: str, base_url: str = ZENODO, timeout: float = 30.0
) -> dict[str, RemoteFile]:
    """The files of a Zenodo record, by name, with sizes and md5 (or sha256) checksums.

    Reads ``<base_url>/api/records/<record>``; the download URLs are
    ``<base_url>/records/<record>/files/<name>?download=1``.

    Raises:
        DownloadError: the API cannot be reached.
        ValueError: the answer is not a record with a file list, or an entry has no name or no
            checksum we can verify (missing, not md5/sha256, malformed).
    """
    base = base_url.rstrip("/")
    url = f"{base}/api/records/{record}"
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DownloadError(f"cannot read the Zenodo record at {url}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{url} did not answer JSON: {exc}") from exc
    entries = payload.get("files") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{url}: no file list in the record")
    files = {}
    for entry in entries:
        name = entry.get("key") or entry.get("filename")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{url}: a file entry has no name: {entry!r}")
        size = entry.get("size", entry.get("filesize"))
        files[name] = RemoteFile(
            url=f"{base}/records/{record}/files/{name}?download=1",
            filename=name,
            size=int(size) if size is not None else None,
            **_checksum(url, name, entry.get("checksum")),
        )
    return files
