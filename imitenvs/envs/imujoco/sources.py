"""Where the original iMuJoCo artefacts live: Zenodo record 7971395.

``xml.zip``, ``policies.zip`` and ``dataset.zip`` (about 2.7 GB together) unzip into
``xml/``, ``policies/`` and ``dataset/`` (files ``<variant>.xml``, ``sac-<variant>.zip``,
``sac-<variant>.npz``). Our notes on the record carry no checksums, so the md5 and size of
each zip are read from Zenodo's record API at download time; when that fails (API down,
offline with the zips fetched by hand), a file is verified against the size the server
announces, or, for a file already on disk, only by opening it as a zip.
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
    parts: Sequence[str], base_url: str = ZENODO, timeout: float = 30.0
) -> list[RemoteFile]:
    """The zips for ``parts`` with md5 and size from the record API when it answers.

    Raises:
        ValueError: an unknown part (the message lists them).
    """
    for part in parts:
        check_choice("part", part, PARTS)
    try:
        manifest = zenodo_files(ZENODO_RECORD, base_url, timeout)
    except (DownloadError, ValueError) as exc:
        logger.warning("no checksums from the Zenodo API (%s); checking sizes only", exc)
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
) -> list[Path]:
    """Download (resuming, verified) and unzip the chosen parts into ``directory``.

    Returns:
        The zips' paths.

    Raises:
        DownloadError: Zenodo cannot be reached (the message says which URL to fetch by hand
            and where to save it).
        ValueError: a file fails verification, or a zip member would escape ``directory``.
    """
    directory = Path(directory)
    zips = []
    for remote in remote_files(parts, base_url, timeout):
        path = download(remote, directory, timeout=timeout, progress=progress)
        if extract:
            extracted = safe_extract(path, directory)
            logger.info("%s: %d files extracted into %s", path.name, len(extracted), directory)
        zips.append(path)
    return zips
