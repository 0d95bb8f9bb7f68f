"""Writes that cannot be torn, runs that cannot collide, checkpoints that cannot lie."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from imitenvs.agents.adversarial.amp import AMPConfig
from imitenvs.agents.evaluation import load_policy
from imitenvs.agents.onpolicy.ppo import PPOConfig
from imitenvs.agents.onpolicy.runner import RunConfig, Runner, read_checkpoint
from imitenvs.core.files import (
    CHECKSUM_KEY,
    CorruptFileError,
    RunLock,
    atomic_writer,
    content_digest,
    exclusive_lock,
    load_torch,
    save_torch,
)

REPO = Path(__file__).resolve().parents[1]


def _runner(log_dir: Path | None, iterations: int = 1, force: bool = False) -> Runner:
    run = RunConfig(
        env_id="imitenvs/Maze-v0",
        num_envs=2,
        iterations=iterations,
        seed=0,
        log_dir=log_dir,
        save_every=1,
        progress=False,
        force=force,
    )
    ppo = PPOConfig(num_steps=4, num_minibatches=1, epochs=1)
    return Runner(run, ppo, AMPConfig(batch_size=8, epochs=1, replay_size=32))


# ------------------------------------------------------------------------- atomic writes
def test_atomic_writer_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as out:
        out.write(b"new but torn")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]  # no temp file left


def test_a_process_killed_during_a_checkpoint_save_leaves_the_previous_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "checkpoint.pt"
    save_torch(target, {"w": torch.ones(3)})
    code = (
        "import os, signal, torch\n"
        "from imitenvs.core import files\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"  # dies mid-save
        f"files.save_torch({str(target)!r}, {{'w': torch.zeros(1000)}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert proc.returncode == -9
    assert torch.equal(load_torch(target)["w"], torch.ones(3))


# ------------------------------------------------------------------------------ checksums
def test_flipped_bytes_in_a_checkpoint_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_torch(path, {"weights": torch.arange(4096, dtype=torch.float32)})
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data/0"))
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    raw[offset] ^= 0xFF  # one flipped byte inside the tensor's data
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"c\.pt: checksum mismatch") as err:
        load_torch(path)
    assert "\n" not in str(err.value)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CorruptFileError, match=r"c\.pt: (not a readable torch file|refused)"):
        load_torch(path)


def test_digest_covers_values_types_and_keys() -> None:
    base = {"a": torch.zeros(2), "b": [1, 2.0, "x", None, (True,)]}
    assert content_digest(base) == content_digest(dict(reversed(list(base.items()))))
    for other in (
        {**base, "a": torch.zeros(2, dtype=torch.float64)},
        {**base, "a": torch.zeros(1, 2)},
        {**base, "b": [1, 2.0, "x", None, [True]]},
        {**base, "c": 0},
    ):
        assert content_digest(other) != content_digest(base)
    with pytest.raises(TypeError, match="plain data"):
        content_digest({"path": Path("x")})
    with pytest.raises(ValueError, match="reserved"):
        save_torch(Path("unused.pt"), {CHECKSUM_KEY: 1})


def test_runner_checkpoint_is_plain_data_with_a_digest(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    runner.train()
    runner.close()
    path = tmp_path / "checkpoint_last.pt"
    raw = torch.load(path, weights_only=True)  # any torch can read it without running code
    assert raw["format"] == "imitenvs.runner.checkpoint" and CHECKSUM_KEY in raw
    state = read_checkpoint(path)
    assert state["run"]["env_id"] == "imitenvs/Maze-v0"
    _, run = load_policy(path)
    assert run.env_id == "imitenvs/Maze-v0" and run.log_dir == tmp_path
    torch.save({"format": "something else"}, tmp_path / "old.pt")
    with pytest.raises(CorruptFileError, match="no checksum"):
        load_policy(tmp_path / "old.pt")
    save_torch(tmp_path / "other.pt", {"x": 1})
    with pytest.raises(ValueError, match="not an imitenvs runner checkpoint"):
        read_checkpoint(tmp_path / "other.pt")


# --------------------------------------------------------------------------- run folders
def test_two_runs_cannot_share_an_output_folder(tmp_path: Path) -> None:
    first = _runner(tmp_path)
    with pytest.raises(RuntimeError, match=rf"in use by pid {os.getpid()}.*--force"):
        _runner(tmp_path)
    second = _runner(tmp_path, force=True)  # taking over is explicit
    second.close()
    first.close()
    assert not (tmp_path / ".lock").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    import socket

    lock = {"pid": int(proc.stdout), "host": socket.gethostname()}
    (tmp_path / ".lock").write_text(json.dumps(lock))
    with RunLock(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


def test_a_new_run_does_not_overwrite_an_earlier_runs_checkpoints(tmp_path: Path) -> None:
    first = _runner(tmp_path)
    first.train()
    first.close()
    before = (tmp_path / "checkpoint_last.pt").read_bytes()
    again = _runner(tmp_path)
    with pytest.raises(FileExistsError, match=r"already holds checkpoints.*--force"):
        again.train()
    again.close()
    assert (tmp_path / "checkpoint_last.pt").read_bytes() == before
    resumed = _runner(tmp_path, iterations=2)  # resuming into the same folder is fine
    resumed.load(tmp_path / "checkpoint_000001.pt")
    resumed.train()
    resumed.close()
    forced = _runner(tmp_path, force=True)
    forced.train()
    forced.close()


def test_train_amp_cli_refuses_a_busy_folder_and_takes_force(tmp_path: Path) -> None:
    args = [sys.executable, str(REPO / "examples/train_amp.py"), "--env", "imitenvs/Maze-v0",
            "--iterations", "1", "--num-envs", "2", "--num-steps", "4", "--no-video",
            "--eval-episodes", "1", "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    with RunLock(tmp_path):
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("error: run folder")
        assert "--force" in proc.stderr
        assert not (tmp_path / "checkpoint_last.pt").exists()


def test_exclusive_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    target = tmp_path / "file.part"
    with exclusive_lock(target, "download"):
        code = (
            "from imitenvs.core.files import exclusive_lock\n"
            f"with exclusive_lock({str(target)!r}, 'download'): pass\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0 and "another process is writing download" in proc.stderr
    with exclusive_lock(target, "download"):  # free again
        pass


def _writers(tmp_path: Path) -> dict:
    """Each project writer as ``name -> (path, write())``."""
    from imitenvs.assets import asset_path
    from imitenvs.data.demos import load_default_demos
    from imitenvs.motion.clip import load_clip, save_clip
    from imitenvs.motion.dataset import write_dataset
    from imitenvs.motion.viewer import write_video
    from imitenvs.viz import plot_maze, save_gif

    demos = load_default_demos("maze")
    clip = load_clip(asset_path("motions") / "walk.npz")
    frames = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    return {
        "demos": (tmp_path / "d.npz", lambda p: demos.save(p)),
        "clip": (tmp_path / "c.npz", lambda p: save_clip(clip, p)),
        "dataset": (tmp_path / "m.yaml", lambda p: write_dataset(p, [("walk.npz", 1.0)])),
        "gif": (tmp_path / "g.gif", lambda p: save_gif(frames, p)),
        "video": (tmp_path / "v.gif", lambda p: write_video(frames, p, 10)),
        "picture": (tmp_path / "p.png", lambda p: plot_maze(p, [np.zeros((2, 2))])),
        "torch": (tmp_path / "t.pt", lambda p: save_torch(p, {"x": torch.ones(2)})),
    }


@pytest.mark.parametrize("name", ["demos", "clip", "dataset", "gif", "video", "picture", "torch"])
def test_every_writer_is_atomic(tmp_path: Path, name: str, monkeypatch) -> None:
    path, write = _writers(tmp_path)[name]
    path.write_bytes(b"previous")

    def killed(_fd: int) -> None:
        raise OSError("disk pulled out during the save")

    monkeypatch.setattr("imitenvs.core.files.os.fsync", killed)
    with pytest.raises(OSError, match="disk pulled out"):
        write(path)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left
    monkeypatch.undo()
    write(path)
    assert path.read_bytes() != b"previous"
