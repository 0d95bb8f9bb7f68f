"""iMuJoCo data: the npz format, the Sampler, episode splitting, collection and downloads."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import json
import logging
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.data.download import DownloadError, RemoteFile, download, safe_extract, zenodo_files
from imitenvs.envs.imujoco.cli import add_data_commands
from imitenvs.envs.imujoco.collect import collect
from imitenvs.envs.imujoco.dataset import (
    ImujocoData,
    Sampler,
    load_npz,
    reset_rows,
    save_npz,
    split_segments,
)
from imitenvs.envs.imujoco.grid import ROBOTS
from imitenvs.envs.imujoco.sources import ZENODO_RECORD

HOPPER = ROBOTS["hopper"]


@pytest.fixture(autouse=True)
def tmp_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMITENVS_CACHE", str(tmp_path / "cache"))


def _original_file(
    path: Path, blocks: int = 3, extra_columns: int = 2, seed: int = 0
) -> np.ndarray:
    """An original-format Hopper file: ``data`` only, 1000-row blocks, extra columns."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(blocks * 1000, 11 + 3 + extra_columns)).astype(np.float32)
    data[:, 11:14] = np.tanh(data[:, 11:14])
    np.savez_compressed(path, data=data)
    return data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


# ----------------------------------------------------------------------------- Sampler


def test_sampler_round_trip(tmp_path: Path) -> None:
    files = [tmp_path / f"sac-hopper-{k}.npz" for k in range(2)]
    raw = [_original_file(f, seed=k) for k, f in enumerate(files)]
    sampler = Sampler("Hopper-v3", files, portion=(0.0, 1.0), seed=0)
    assert len(sampler) == 2 and sampler.tot_data == 6000
    x, y = sampler.sample(tot_shots=3, idx=1, replace=False)
    assert x.shape == (3, 1000, 11) and y.shape == (3, 1000, 3)
    assert x.dtype == y.dtype == torch.float32
    blocks = {int(np.flatnonzero(raw[1][:, 0] == float(x[k, 0, 0]))[0]) for k in range(3)}
    assert blocks == {0, 1000, 2000}, "without replacement every block is drawn once"
    for k in range(3):
        start = int(np.flatnonzero(raw[1][:, 0] == float(x[k, 0, 0]))[0])
        np.testing.assert_array_equal(x[k].numpy(), raw[1][start : start + 1000, :11])
        np.testing.assert_array_equal(y[k].numpy(), raw[1][start : start + 1000, 11:14])
    again = Sampler("Hopper-v3", files, seed=0).sample(tot_shots=3, idx=1)
    np.testing.assert_array_equal(again[0].numpy(), x.numpy())
    x_any, _ = sampler.sample(tot_shots=5, replace=True)
    assert x_any.shape == (5, 1000, 11)


def test_sampler_portions_split_by_rows_like_the_original(tmp_path: Path) -> None:
    f = tmp_path / "sac.npz"
    raw = _original_file(f, blocks=4)
    train = Sampler("Hopper-v3", [f], portion=(0.0, 0.75), seed=1)
    test = Sampler("Hopper-v3", [f], portion=(0.75, 1.0), seed=1)
    assert train.tot_data == 3000 and test.tot_data == 1000
    x, _ = test.sample(1, idx=0)
    np.testing.assert_array_equal(x[0].numpy(), raw[3000:, :11])
    with pytest.raises(ValueError, match="cannot draw 4 trajectories without replacement"):
        train.sample(4, idx=0)


def test_sampler_drops_a_partial_block_with_a_warning(tmp_path, caplog) -> None:
    f = tmp_path / "sac.npz"
    np.savez(f, data=np.zeros((2500, 14), np.float32))
    with caplog.at_level(logging.WARNING):
        sampler = Sampler("hopper", [f])
    assert sampler.tot_data == 2000 and "500 rows after the last whole trajectory" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"data_list": []}, ValueError, "data_list is empty"),
        ({"portion": (0.5, 0.5)}, ValueError, "portion must satisfy"),
        ({"portion": (-0.1, 1.0)}, ValueError, "portion must satisfy"),
        ({"env_name": "Ant-v3"}, ValueError, "unknown iMuJoCo environment 'Ant-v3'"),
        ({"tot_steps": 0}, ValueError, "tot_steps must be a positive integer"),
        ({"env_name": "Walker2d-v3"}, ValueError, "at least 23 columns"),
        ({"portion": (0.0, 0.1)}, ValueError, "less than one trajectory"),
    ],
)
def test_sampler_errors(tmp_path, kwargs, error, message) -> None:
    f = tmp_path / "sac.npz"
    _original_file(f, blocks=2, extra_columns=0)
    arguments = {"env_name": "Hopper-v3", "data_list": [f], **kwargs}
    with pytest.raises(error, match=message):
        Sampler(**arguments)


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_npz(tmp_path / "missing.npz", "Hopper-v3")
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        load_npz(text, "Hopper-v3")
    no_data = tmp_path / "nodata.npz"
    np.savez(no_data, states=np.zeros((10, 14)))
    with pytest.raises(ValueError, match=r"missing array\(s\) \['data'\] \(it has \['states'\]\)"):
        load_npz(no_data, "Hopper-v3")
    flat = tmp_path / "flat.npz"
    np.savez(flat, data=np.zeros(14))
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        load_npz(flat, "Hopper-v3")
    nan = tmp_path / "nan.npz"
    np.savez(nan, data=np.full((10, 14), np.nan))
    with pytest.raises(ValueError, match="NaN or inf"):
        load_npz(nan, "Hopper-v3")
    sampler = Sampler("Hopper-v3", [_write_original(tmp_path)])
    with pytest.raises(ValueError, match="idx=3 out of range"):
        sampler.sample(1, idx=3)


def _write_original(tmp_path: Path) -> Path:
    f = tmp_path / "ok.npz"
    _original_file(f, blocks=1)
    return f


# ------------------------------------------------------------------ format and episodes


def test_save_and_load_keep_the_original_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 6
    data = ImujocoData(
        robot=HOPPER,
        observations=rng.normal(size=(n, 11)),
        actions=rng.uniform(-1, 1, size=(n, 3)),
        rewards=rng.normal(size=n),
        terminated=np.array([0, 1, 0, 0, 0, 0], bool),
        truncated=np.array([0, 0, 0, 0, 0, 1], bool),
        final_observations=rng.normal(size=(2, 11)),
    )
    path = save_npz(tmp_path / "ours.npz", data)
    with np.load(path) as archive:
        assert archive["data"].shape == (n, 14) and archive["data"].dtype == np.float32
    back = load_npz(path, "hopper")
    np.testing.assert_allclose(back.observations, data.observations, rtol=1e-6)
    np.testing.assert_array_equal(back.terminated, data.terminated)
    segments = split_segments(back)
    assert [len(s.acts) for s in segments] == [2, 4]
    assert [s.terminated for s in segments] == [True, False]
    assert all(s.complete for s in segments)
    np.testing.assert_allclose(segments[0].obs[-1], data.final_observations[0], rtol=1e-6)
    with pytest.raises(ValueError, match="final_observations must be"):
        ImujocoData(HOPPER, data.observations, data.actions, None, data.terminated,
                    data.truncated, data.final_observations[:1])  # fmt: skip
    with pytest.raises(ValueError, match="actions must be"):
        ImujocoData(HOPPER, data.observations, data.actions[:, :2])


def test_original_blocks_are_cut_at_resets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(2000, 11))
    obs[0, 1:] = obs[1000, 1:] = obs[400, 1:] = 0.004  # fresh resets: angles, velocities ~0
    f = tmp_path / "sac.npz"
    np.savez(f, data=np.concatenate([obs, np.zeros((2000, 3))], axis=1))
    data = load_npz(f, "Hopper-v3")
    assert np.flatnonzero(reset_rows(data)).tolist() == [0, 400, 1000]
    segments = split_segments(data)
    assert [len(s.obs) for s in segments] == [400, 600, 1000]
    assert [len(s.acts) for s in segments] == [399, 599, 999]
    assert not any(s.complete or s.terminated for s in segments)
    assert [len(s.obs) for s in split_segments(data, detect_resets=False)] == [1000, 1000]


# ---------------------------------------------------------------------------- collection


def test_collect_follows_the_original_protocol(tmp_path: Path) -> None:
    stepped: list[np.ndarray] = []

    def push_hard(obs: np.ndarray) -> np.ndarray:
        stepped.append(obs)
        return np.array([5.0, -5.0, 5.0])  # clipped to the action space before stepping

    data = collect("hopper-massdec_25_leggeom", push_hard, trajectories=2, steps=120, seed=3,
                   progress=False)  # fmt: skip
    assert data.observations.shape == (240, 11) and data.actions.shape == (240, 3)
    np.testing.assert_array_equal(data.actions, np.tile([1.0, -1.0, 1.0], (240, 1)))
    ends = data.terminated | data.truncated
    assert (
        data.truncated[119] != data.terminated[119] and data.truncated[239] != data.terminated[239]
    )
    assert data.terminated.any(), "full torque topples the hopper inside a block"
    assert len(data.final_observations) == ends.sum()
    env = gymnasium.make("imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0")
    first, _ = env.reset(seed=3)
    np.testing.assert_array_equal(data.observations[0], first)
    for row in np.flatnonzero(data.terminated):
        if row % 120 != 119:  # reset inside the block: the next row is a fresh start
            assert np.all(np.abs(data.observations[row + 1, 1:]) <= 5e-3 + 1e-9)
    # replaying the stored actions reproduces the stored rows and rewards
    obs = first
    for t in range(120):
        np.testing.assert_allclose(data.observations[t], obs)
        obs, reward, term, _, _ = env.step(data.actions[t])
        assert reward == pytest.approx(data.rewards[t])
        if term:
            break
    segments = split_segments(data)
    assert sum(len(s.acts) for s in segments) == 240
    again = collect("hopper-massdec_25_leggeom", push_hard, 2, steps=120, seed=3, progress=False)
    np.testing.assert_array_equal(again.observations, data.observations)


def test_collect_cli_writes_an_original_format_file(tmp_path: Path, monkeypatch, capsys) -> None:
    import imitenvs.envs.imujoco.policies as policies

    monkeypatch.setattr(policies, "load_policy", lambda *a, **k: None)
    monkeypatch.setattr(policies, "as_policy", lambda *a, **k: lambda obs: np.zeros(6))
    out = tmp_path / "demo.npz"
    argv = ["collect", "imujoco", "halfcheetah-jointdec_25_bfoot", "--policy", "p.zip",
            "--trajectories", "2", "--steps", "50", "--out", str(out), "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    assert "100 rows, 2 trajectories, 2 episodes" in capsys.readouterr().out
    sampler = Sampler("HalfCheetah-v3", [out], tot_steps=50)
    x, y = sampler.sample(2, idx=0)
    assert x.shape == (2, 50, 17) and float(y.abs().sum()) == 0.0


# ----------------------------------------------------------------------------- downloads


@dataclass
class FakeZenodo:
    """Files served over loopback like Zenodo: the record API plus ``/records/.../files/``."""

    files: dict[str, bytes]
    md5: dict[str, str] = field(default_factory=dict)
    api: bool = True
    ranges: bool = True
    cut_after: int | None = None  # close the first transfer after this many bytes
    seen_ranges: list[str] = field(default_factory=list)


def _handler(state: FakeZenodo) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == f"/api/records/{ZENODO_RECORD}":
                if not state.api:
                    self.send_error(404)
                    return
                entries = [
                    {
                        "key": k,
                        "size": len(v),
                        "checksum": f"md5:{state.md5.get(k) or hashlib.md5(v).hexdigest()}",
                    }
                    for k, v in state.files.items()
                ]
                self._send(200, json.dumps({"files": entries}).encode())
                return
            name = path.rsplit("/", 1)[-1]
            if not path.startswith(f"/records/{ZENODO_RECORD}/files/") or name not in state.files:
                self.send_error(404)
                return
            body, start = state.files[name], 0
            header = self.headers.get("Range")
            if header:
                state.seen_ranges.append(header)
            if header and state.ranges:
                start = int(header.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            payload = body[start:]
            if state.cut_after is not None:
                payload, state.cut_after = payload[: state.cut_after], None
            self.wfile.write(payload)

        def _send(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def zenodo() -> Iterator[tuple[str, FakeZenodo]]:
    xml = io.BytesIO()
    with zipfile.ZipFile(xml, "w") as zf:
        zf.writestr("xml/hopper-massdec_25_leggeom.xml", "<mujoco/>")
        zf.writestr("xml/halfcheetah-jointdec_25_bfoot.xml", "<mujoco/>")
    dataset = io.BytesIO()
    with zipfile.ZipFile(dataset, "w") as zf:
        zf.writestr("dataset/sac-hopper-massdec_25_leggeom.npz", b"x" * 300_000)
    state = FakeZenodo(files={"xml.zip": xml.getvalue(), "dataset.zip": dataset.getvalue()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def test_download_command_fetches_verifies_and_extracts(zenodo, tmp_path, capsys) -> None:
    base, state = zenodo
    out = tmp_path / "imujoco"
    argv = ["download", "imujoco", "--parts", "xml,dataset", "--to", str(out), "--base-url", base,
            "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    assert (out / "xml" / "hopper-massdec_25_leggeom.xml").read_text() == "<mujoco/>"
    assert (out / "dataset" / "sac-hopper-massdec_25_leggeom.npz").stat().st_size == 300_000
    assert (out / "xml.zip").read_bytes() == state.files["xml.zip"]
    assert not list(out.glob("*.part")) and "extracted" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _parser().parse_args(["download", "imujoco", "--parts", "xml,maps", "--to", "x"])


def test_download_resumes_a_broken_transfer(zenodo, tmp_path) -> None:
    base, state = zenodo
    state.cut_after = 100_000
    remote = zenodo_files(ZENODO_RECORD, base)["dataset.zip"]
    assert remote.md5 == hashlib.md5(state.files["dataset.zip"]).hexdigest()
    with pytest.raises(DownloadError, match="run again to resume"):
        download(remote, tmp_path, progress=False)
    part = tmp_path / "dataset.zip.part"
    assert 0 < part.stat().st_size < len(state.files["dataset.zip"])
    assert not (tmp_path / "dataset.zip").exists()
    path = download(remote, tmp_path, progress=False)
    assert state.seen_ranges[-1] == f"bytes={100_000}-"
    assert path.read_bytes() == state.files["dataset.zip"] and not part.exists()


def test_download_restarts_when_the_server_ignores_ranges(zenodo, tmp_path) -> None:
    base, state = zenodo
    state.ranges = False
    (tmp_path / "xml.zip.part").write_bytes(b"garbage")
    path = download(zenodo_files(ZENODO_RECORD, base)["xml.zip"], tmp_path, progress=False)
    assert path.read_bytes() == state.files["xml.zip"]


def test_download_rejects_a_bad_checksum(zenodo, tmp_path) -> None:
    base, state = zenodo
    state.md5["xml.zip"] = "0" * 32
    with pytest.raises(ValueError, match=r"md5 \w+, expected 0000"):
        download(zenodo_files(ZENODO_RECORD, base)["xml.zip"], tmp_path, progress=False)
    assert not list(tmp_path.iterdir()), "neither the file nor its .part may remain"


def test_download_without_the_api_checks_the_announced_size(zenodo, tmp_path, caplog) -> None:
    base, state = zenodo
    state.api = False
    with caplog.at_level(logging.WARNING):
        assert _run(["download", "imujoco", "--parts", "xml", "--to", str(tmp_path),
                     "--base-url", base, "--quiet"]) == 0  # fmt: skip
    assert "no checksums from the Zenodo API" in caplog.text
    assert (tmp_path / "xml" / "halfcheetah-jointdec_25_bfoot.xml").is_file()
    remote = RemoteFile(url=f"{base}/records/{ZENODO_RECORD}/files/xml.zip", filename="y.zip",
                        size=len(state.files["xml.zip"]) + 1)  # fmt: skip
    with pytest.raises(ValueError, match="size"):
        download(remote, tmp_path, progress=False)


def test_offline_fails_fast_with_manual_instructions(tmp_path, capsys) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    start = time.monotonic()
    argv = ["download", "imujoco", "--parts", "policies", "--to", str(tmp_path), "--base-url",
            dead, "--timeout", "5", "--quiet"]  # fmt: skip
    assert _run(argv) == 1
    assert time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert f"{dead}/records/{ZENODO_RECORD}/files/policies.zip?download=1" in err
    assert str(tmp_path / "policies.zip") in err


def test_a_file_fetched_by_hand_is_used_offline(zenodo, tmp_path) -> None:
    _, state = zenodo
    (tmp_path / "xml.zip").write_bytes(state.files["xml.zip"])
    argv = ["download", "imujoco", "--parts", "xml", "--to", str(tmp_path), "--base-url",
            "http://127.0.0.1:9", "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    assert (tmp_path / "xml" / "hopper-massdec_25_leggeom.xml").is_file()


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "link"])
def test_safe_extract_refuses_escaping_members(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fine.txt", "ok")
        info = zipfile.ZipInfo(member)
        if member == "link":
            info.external_attr = 0o120777 << 16  # a symlink entry
        zf.writestr(info, "/etc/passwd" if member == "link" else "bad")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="refusing zip member"):
        safe_extract(archive, out)
    assert not (out / "fine.txt").exists(), "nothing is extracted from a bad archive"
    assert not (tmp_path / "evil.txt").exists()
