"""Downloads that resume, verify, write atomically, and unzip without escaping their folder.

:func:`download` fetches one :class:`RemoteFile` into a folder: bytes go to ``<name>.part``
(resumed with an HTTP ``Range`` request when a previous attempt left one), are checked
against the expected size and the md5/sha256 digests when known (else against the size the
server announced), and only then renamed to ``<name>`` (``os.replace``, atomic). A file
already in place (for instance fetched by hand) is verified and reused. When the server cannot
be reached, :class:`DownloadError` says which URL to fetch by hand and where to put it.

:func:`safe_extract` unzips an archive after checking that no member is absolute, climbs out
with ``..``, or is a symbolic link; each member is written atomically too.

:func:`zenodo_files` reads a Zenodo record's file list (names, sizes, md5 checksums).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import stat
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from imitenvs.core.files import atomic_writer

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "imitenvs-downloader"
ZENODO = "https://zenodo.org"


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


def verify(path: Path, remote: RemoteFile, announced_size: int | None = None) -> None:
    """Check ``path`` against the remote's size and digests (and the server's announced size).

    Raises:
        ValueError: a mismatch, naming the file, the check and both values.
    """
    size = path.stat().st_size
    for expected in (remote.size, announced_size):
        if expected is not None and size != expected:
            raise ValueError(f"{path}: size {size} bytes, expected {expected}")
    if remote.md5 is None and remote.sha256 is None:
        if remote.size is None and announced_size is None:
            logger.warning("%s: no size or checksum known; not verified", path)
        return
    digests = _digests(path)
    for algo in ("md5", "sha256"):
        expected = getattr(remote, algo)
        if expected is not None and digests[algo] != expected.lower():
            raise ValueError(f"{path}: {algo} {digests[algo]}, expected {expected.lower()}")


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
) -> Path:
    """Fetch ``remote`` into ``directory`` (resuming, verified, atomic); return its path.

    Raises:
        DownloadError: unreachable server, HTTP error or broken transfer (run again to resume).
        ValueError: the bytes fail verification (the partial file is deleted), or a file
            already at the target fails it (delete it and run again).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / remote.filename
    if target.is_file():
        try:
            verify(target, remote)
        except ValueError as exc:
            raise ValueError(f"{exc}; delete {target} and run again to re-download") from exc
        logger.info("%s already present and verified", target)
        return target
    part = target.with_name(target.name + ".part")
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
        verify(part, remote, announced)
    except ValueError:
        part.unlink(missing_ok=True)
        raise
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


def _member_target(root: Path, info: zipfile.ZipInfo) -> Path:
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    mode = info.external_attr >> 16
    if pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        raise ValueError(f"refusing zip member {name!r}: it points outside the target folder")
    if stat.S_ISLNK(mode):
        raise ValueError(f"refusing zip member {name!r}: symbolic links are not extracted")
    target = (root / Path(*pure.parts)).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"refusing zip member {name!r}: it resolves outside {root}")
    return target


def safe_extract(archive: str | Path, directory: str | Path) -> list[Path]:
    """Extract a zip into ``directory``; every member is checked before anything is written.

    Returns:
        The extracted files.

    Raises:
        ValueError: a member is absolute, contains ``..``, is a symlink or resolves outside
            ``directory``; or the archive is not a zip.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{archive} is not a zip archive: {exc}") from exc
    written: list[Path] = []
    with zf:
        members = [(info, _member_target(root, info)) for info in zf.infolist()]
        for info, target in members:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with atomic_writer(target) as out, zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            written.append(target)
    return written


def zenodo_files(
    record: str, base_url: str = ZENODO, timeout: float = 30.0
) -> dict[str, RemoteFile]:
    """The files of a Zenodo record, by name, with sizes and md5 checksums.

    Reads ``<base_url>/api/records/<record>``; the download URLs are
    ``<base_url>/records/<record>/files/<name>?download=1``.

    Raises:
        DownloadError: the API cannot be reached.
        ValueError: the answer is not a record with a file list.
    """
    url = f"{base_url.rstrip('/')}/api/records/{record}"
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DownloadError(f"cannot read the Zenodo record at {url}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{url} did not answer JSON: {exc}") from exc
    entries = payload.get("files") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{url}: no file list in the record")
    files = {}
    for entry in entries:
        name = entry.get("key") or entry.get("filename")
        checksum = str(entry.get("checksum", ""))
        md5 = checksum.split(":", 1)[1] if checksum.startswith("md5:") else None
        size = entry.get("size", entry.get("filesize"))
        files[name] = RemoteFile(
            url=f"{base_url.rstrip('/')}/records/{record}/files/{name}?download=1",
            filename=name,
            size=int(size) if size is not None else None,
            md5=md5,
        )
    return files
