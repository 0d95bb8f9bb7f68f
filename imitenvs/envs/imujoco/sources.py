"""Where the original iMuJoCo artefacts live: Zenodo record 7971395.

``xml.zip``, ``policies.zip`` and ``dataset.zip`` (about 2.7 GB together) unzip into
``xml/``, ``policies/`` and ``dataset/`` (files ``<variant>.xml``, ``sac-<variant>.zip``,
``sac-<variant>.npz``). Our notes on the record carry no checksums, so the md5 and size of
each zip are read from Zenodo's record API at download time.

When the API cannot be reached (API down, offline with the zips fetched by hand), :func:`fetch`
by default falls back to a logged, explicit ``allow_unverified`` download: a file is verified
against the size the server announces, or, for a file already on disk, only by opening it as
a zip; pass ``allow_unverified=False`` to refuse instead. An API that answers with a record
whose checksums cannot be verified (missing, not md5) is an error, never a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from imitenvs.core.checks import check_choice
from imitenvs.data.download import (
    ZENODO,
    DownloadError,
    RemoteFile,
    download,
    safe_extract,
    zenodo_files,
)

logger = logging.getLogger(__name__)

ZENODO_RECORD = "7971395"
PARTS: tuple[str, ...] = ("xml", "policies", "dataset")


def file_url(name: str, base_url: str = ZENODO) -> str:
    """Download URL of one file of the record."""
    return f"{base_url.rstrip('/')}/records/{ZENODO_RECORD}/files/{name}?download=1"


def remote_files(
    parts: Sequence[str],
    base_url: str = ZENODO,
    timeout: float = 30.0,
    *,
    allow_unverified: bool = True,
) -> list[RemoteFile]:
    """The zips for ``parts`` with md5 and size from the record API.

    Args:
        parts: Names from :data:`PARTS`.
        base_url: The Zenodo server.
        timeout: Seconds per network operation.
        allow_unverified: When the API cannot be reached, return the zips without checksums
            (logged as a warning; download them with ``allow_unverified=True``) instead of
            raising.

    Raises:
        ValueError: an unknown part (the message lists them), or the record's answer is not
            usable (not a file list, or a checksum that cannot be verified).
        DownloadError: the API cannot be reached and ``allow_unverified`` is off.
    """
    for part in parts:
        check_choice("part", part, PARTS)
    try:
        manifest = zenodo_files(ZENODO_RECORD, base_url, timeout)
    except DownloadError as exc:
        if not allow_unverified:
            raise
        logger.warning(
            "no checksums from the Zenodo API (%s); checking sizes only, NOT md5 "
            "(allow_unverified=True)",
            exc,
        )
        manifest = {}
    files = []
    for part in parts:
        name = f"{part}.zip"
        known = manifest.get(name)
        files.append(
            RemoteFile(url=file_url(name, base_url), filename=name) if known is None else known
        )
    return files


def fetch(
    parts: Sequence[str],
    directory: str | Path,
    base_url: str = ZENODO,
    timeout: float = 30.0,
    extract: bool = True,
    progress: bool = True,
    *,
    allow_unverified: bool = True,
) -> list[Path]:
    """Download (resuming, verified) and unzip the chosen parts into ``directory``.

    Args:
        parts: Names from :data:`PARTS`.
        directory: Where to save and unzip them.
        base_url: The Zenodo server.
        timeout: Seconds per network operation.
        extract: Unzip the zips (:func:`~imitenvs.data.download.safe_extract`).
        progress: Show progress bars.
        allow_unverified: When Zenodo's record API cannot be reached, download and use the
            zips checked by size only (a warning says so); ``False`` refuses instead.

    Returns:
        The zips' paths.

    Raises:
        DownloadError: Zenodo cannot be reached (the message says which URL to fetch by hand
            and where to save it), or its API cannot and ``allow_unverified`` is off.
        ValueError: a file fails verification, the record's checksums cannot be verified, or
            a zip member would escape ``directory`` or the zip is too large.
        RuntimeError: another process is downloading the same zip into ``directory``.
    """
    directory = Path(directory)
    zips = []
    for remote in remote_files(parts, base_url, timeout, allow_unverified=allow_unverified):
        path = download(
            remote,
            directory,
            timeout=timeout,
            progress=progress,
            allow_unverified=allow_unverified,
        )
        if extract:
            extracted = safe_extract(path, directory)
            logger.info("%s: %d files extracted into %s", path.name, len(extracted), directory)
        zips.append(path)
    return zips
