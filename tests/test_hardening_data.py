"""Hardening of the downloader, the iMuJoCo npz loader and the zarr readers.

Each test builds a tiny hostile or broken input in ``tmp_path``; the pickle payloads would
create a marker folder if anything unpickled them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imitenvs.data.download as dl
from imitenvs.core.files import CorruptFileError, exclusive_lock
from imitenvs.data.download import RemoteFile, download, safe_extract, zenodo_files
from imitenvs.envs.imujoco.dataset import load_npz
from imitenvs.envs.imujoco.sources import remote_files

ROWS = 10
HOPPER_WIDTH = 14  # 11 observation + 3 action columns


class Marker:
    """Unpickling this creates the folder ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.mkdir, (str(self.path),)


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, body in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            with zf.open(info, "w") as out:  # writestr refuses an empty name
                out.write(body)
    return path


# ----------------------------------------------------------------------------- safe_extract


def test_safe_extract_refuses_a_zip_bomb_by_its_declared_size(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(100_000)}, zipfile.ZIP_DEFLATED)
    assert archive.stat().st_size < 1000
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"declare 100000 bytes.*max_bytes=10000"):
        safe_extract(archive, out, max_bytes=10_000)
    assert list(out.iterdir()) == []


def test_safe_extract_counts_bytes_while_decompressing(tmp_path, monkeypatch) -> None:
    members = {"a.bin": bytes(6000), "b.bin": bytes(6000)}
    archive = _zip(tmp_path / "bomb.zip", members, zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(dl, "_check_declared", lambda *args: None)  # as if the sizes lied
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"'b.bin' takes the extracted size past max_bytes"):
        safe_extract(archive, out, max_bytes=10_000)
    assert list(out.iterdir()) == [], "a.bin was extracted first and must be gone"


def test_safe_extract_skips_the_dot_slash_folder_entry(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "dot.zip", {"./": b"", "./xml/a.xml": b"<mujoco/>"})
    out = tmp_path / "out"
    assert safe_extract(archive, out) == [out.resolve() / "xml" / "a.xml"]
    assert (out / "xml" / "a.xml").read_text() == "<mujoco/>"


@pytest.mark.parametrize("member", [".", "", "./."])
def test_safe_extract_refuses_members_without_a_name(tmp_path: Path, member: str) -> None:
    archive = _zip(tmp_path / "noname.zip", {"fine.txt": b"ok", member: b"x"})
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=rf"refusing zip member {member!r}: it has no file name"):
        safe_extract(archive, out)
    assert list(out.iterdir()) == []


def test_a_failed_extraction_leaves_nothing_behind(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "broken.zip", {"first.txt": b"new", "sub/second.txt": b"S" * 64})
    raw = bytearray(archive.read_bytes())
    raw[raw.index(b"S" * 64)] ^= 0xFF  # the second member fails its CRC
    archive.write_bytes(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("old")
    with pytest.raises(ValueError, match=r"'sub/second.txt' cannot be extracted"):
        safe_extract(archive, out)
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt"], "no first.txt, no temp files"
    assert (out / "kept.txt").read_text() == "old"


# -------------------------------------------------------------------------------- downloads


class FakeResponse(io.BytesIO):
    """What ``urllib.request.urlopen`` returns, enough for the downloader."""

    def __init__(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None):
        super().__init__(body)
        self.status = status
        self.headers = headers or {"Content-Length": str(len(body))}


def _serve(monkeypatch: pytest.MonkeyPatch, answer: Callable[[Any], FakeResponse]) -> None:
    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: answer(request))


def _no_network(request: Any) -> FakeResponse:
    raise AssertionError(f"no request expected, got {request.full_url}")


def _record(checksum: str | None) -> Callable[[Any], FakeResponse]:
    entry = {"key": "xml.zip", "size": 3} | ({} if checksum is None else {"checksum": checksum})
    return lambda request: FakeResponse(json.dumps({"files": [entry]}).encode())


@pytest.mark.parametrize("checksum", [None, "sha1:" + "a" * 40, "md5:not-hex", "a" * 32])
def test_a_record_without_a_verifiable_checksum_is_refused(monkeypatch, checksum) -> None:
    _serve(monkeypatch, _record(checksum))
    with pytest.raises(ValueError, match=r"'xml.zip' has checksum .* cannot be verified"):
        zenodo_files("7971395")
    with pytest.raises(ValueError, match="cannot be verified"):  # no silent size-only fallback
        remote_files(["xml"])


def test_record_checksums_are_kept(monkeypatch) -> None:
    _serve(monkeypatch, _record("MD5:" + "A" * 32))
    assert zenodo_files("7971395")["xml.zip"].md5 == "a" * 32
    _serve(monkeypatch, _record("sha256:" + "b" * 64))
    assert zenodo_files("7971395")["xml.zip"].sha256 == "b" * 64


def test_a_file_without_digests_needs_an_explicit_opt_out(tmp_path, monkeypatch) -> None:
    remote = RemoteFile(url="https://example.org/f.bin", filename="f.bin", size=5)
    _serve(monkeypatch, _no_network)
    with pytest.raises(ValueError, match=r"no md5 or sha256 .* allow_unverified=True"):
        download(remote, tmp_path, progress=False)
    _serve(monkeypatch, lambda request: FakeResponse(b"123456"))
    with pytest.raises(ValueError, match="size 6 bytes, expected 5"):
        download(remote, tmp_path, progress=False, allow_unverified=True)
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_download_that_fails_its_check_says_so(tmp_path, monkeypatch) -> None:
    body = bytes(range(256)) * 4
    (tmp_path / "f.bin.part").write_bytes(body[:400])
    remote = RemoteFile(url="https://example.org/f.bin", filename="f.bin", md5="0" * 32)

    def answer(request: Any) -> FakeResponse:
        assert request.get_header("Range") == "bytes=400-"
        headers = {"Content-Range": f"bytes 400-{len(body) - 1}/{len(body)}"}
        return FakeResponse(body[400:], status=206, headers=headers)

    _serve(monkeypatch, answer)
    with pytest.raises(ValueError) as info:
        download(remote, tmp_path, progress=False)
    message = str(info.value)
    assert "the resumed download of f.bin failed its check" in message
    assert f"md5 {hashlib.md5(body).hexdigest()}" in message
    assert f"partial file {tmp_path / 'f.bin.part'} was deleted" in message
    assert "run the command again to download it from scratch" in message
    assert list(tmp_path.iterdir()) == [], "neither the .part nor its lock remains"


def test_a_second_download_of_the_same_file_is_refused(tmp_path, monkeypatch) -> None:
    remote = RemoteFile(url="https://example.org/f.bin", filename="f.bin", md5="0" * 32)
    _serve(monkeypatch, _no_network)
    part = tmp_path / "f.bin.part"
    with (
        exclusive_lock(part, "download"),
        pytest.raises(RuntimeError, match=r"another process is writing download .*f\.bin\.part"),
    ):
        download(remote, tmp_path, progress=False)


# ---------------------------------------------------------------------------------- npz


def _data() -> np.ndarray:
    return np.zeros((ROWS, HOPPER_WIDTH), np.float32)


def test_npz_object_member_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.npz"
    np.savez(path, data=_data(), rewards=np.array([Marker(marker)] * ROWS, dtype=object))
    with pytest.raises(ValueError, match=r"'rewards' has dtype object; expected a plain array"):
        load_npz(path, "hopper")
    np.savez(path, data=np.array([[Marker(marker)] * HOPPER_WIDTH], dtype=object))
    with pytest.raises(ValueError, match=r"'data' has dtype object"):
        load_npz(path, "hopper")
    assert not marker.exists()


def test_npz_unexpected_member_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "extra.npz"
    np.savez(path, data=_data(), payload=np.array([Marker(marker)], dtype=object))
    with pytest.raises(ValueError, match=r"unexpected member\(s\) \['payload.npy'\]"):
        load_npz(path, "hopper")
    assert not marker.exists()


def test_npz_inconsistent_lengths_are_refused_before_reading(tmp_path, monkeypatch) -> None:
    path = tmp_path / "lengths.npz"
    np.savez(path, data=_data(), rewards=np.zeros(ROWS - 3))

    def no_read(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an array was read before the shapes were checked")

    monkeypatch.setattr(np.lib.format, "read_array", no_read)
    with pytest.raises(ValueError, match=r"'rewards' has shape \(7,\), expected \(10,\)"):
        load_npz(path, "hopper")


def _npy(header_shape: tuple[int, ...], body: bytes) -> bytes:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {header_shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def test_npz_header_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    data = io.BytesIO()
    np.save(data, _data())
    path = _zip(
        tmp_path / "huge.npz",
        {"data.npy": data.getvalue(), "rewards.npy": _npy((10**12,), bytes(80))},
    )
    with pytest.raises(ValueError, match=r"'rewards' declares shape \(1000000000000,\)"):
        load_npz(path, "hopper")


def test_npz_corrupt_zip_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.npz"
    np.savez(path, data=_data())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r"cut\.npz is not a readable \.npz") as info:
        load_npz(path, "hopper")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------- zarr


def _store(path: Path, state: np.ndarray | None = None) -> Path:
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(path), mode="w")
    state = np.arange(8, dtype=np.float64).reshape(4, 2) if state is None else state
    root.create_dataset("data/state", data=state, chunks=(2, 2))
    root.create_dataset("meta/episode_ends", data=np.array([4], dtype=np.int64))
    return path


def test_zarr_object_array_with_a_pickle_filter_is_refused(tmp_path, monkeypatch) -> None:
    zarr = pytest.importorskip("zarr")
    numcodecs = pytest.importorskip("numcodecs")
    from imitenvs.data.zarr_demos import read_zarr_demos

    marker = tmp_path / "unpickled"
    path = _store(tmp_path / "evil.zarr")
    root = zarr.open_group(str(path), mode="a")
    evil = root.create_dataset(
        "data/state", shape=(2,), dtype=object, object_codec=numcodecs.Pickle(), overwrite=True
    )
    evil[:] = np.array([Marker(marker), Marker(marker)], dtype=object)
    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True, raising=False)
    with pytest.raises(ValueError, match=r"evil\.zarr: refusing array 'data/state': dtype '\|O'"):
        read_zarr_demos(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"filters": [{"id": "pickle"}]}, r"filter\(s\) \['pickle'\]"),
        ({"compressor": {"id": "zfpy"}}, "compressor 'zfpy' is not one of"),
        ({"dtype": [["a", "<f8"]]}, r"dtype .* is not a plain numeric type"),
    ],
)
def test_zarr_codecs_outside_the_allow_list_are_refused(tmp_path, change, reason) -> None:
    from imitenvs.data.zarr_demos import read_zarr_demos

    path = _store(tmp_path / "codec.zarr")
    meta_file = path / "data" / "state" / ".zarray"
    meta_file.write_text(json.dumps(json.loads(meta_file.read_text()) | change))
    with pytest.raises(ValueError, match=rf"refusing array 'data/state': {reason}"):
        read_zarr_demos(path)


def test_zarr_missing_chunk_is_an_error_not_zeros(tmp_path: Path) -> None:
    from imitenvs.data.zarr_demos import read_zarr_demos

    path = _store(tmp_path / "holes.zarr")
    assert read_zarr_demos(path).states.shape == (4, 2)
    (path / "data" / "state" / "1.0").unlink()
    with pytest.raises(ValueError, match=r"'data/state' lacks 1 of its 2 chunks.*'data/state/1.0'"):
        read_zarr_demos(path)
