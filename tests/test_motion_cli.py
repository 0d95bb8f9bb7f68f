"""``python -m imitenvs motions`` commands and the offscreen viewer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imitenvs.assets import asset_path
from imitenvs.cli import main
from imitenvs.motion.clip import load_clip
from imitenvs.motion.formats import read_motion


def test_convert_and_info(shared_data: Path, tmp_path: Path, capsys) -> None:
    source = shared_data / "motions" / "deepmimic" / "humanoid3d_walk.txt"
    target = tmp_path / "walk.npz"
    assert main(["motions", "convert", str(source), str(target)]) == 0
    np.testing.assert_allclose(load_clip(target).dof_pos, read_motion(source).dof_pos, atol=1e-6)
    amp = shared_data / "motions" / "amp" / "amp_humanoid_walk.npy"
    assert main(["motions", "convert", "--ground", str(amp), str(tmp_path / "amp.npz")]) == 0
    assert main(["motions", "info", str(tmp_path / "amp.npz")]) == 0
    out = capsys.readouterr().out
    assert "154 at 60 fps" in out and "min_sole_height      0.0000" in out
    assert main(["motions", "info", str(asset_path("motions", "default.yaml"))]) == 0
    assert "5 clips" in capsys.readouterr().out


def test_bad_input_exits_with_a_message(tmp_path: Path, capsys) -> None:
    assert main(["motions", "convert", str(tmp_path / "x.bvh"), str(tmp_path / "y.npz")]) == 2
    assert "unknown motion format '.bvh'" in capsys.readouterr().err
    assert main(["motions", "info", str(tmp_path / "missing.npz")]) == 2


def _view(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the viewer headless; without MUJOCO_GL set, the command itself picks EGL."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    command = [sys.executable, "-m", "imitenvs", "motions", "view", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # fmt: skip


def test_viewer_writes_a_gif_offscreen(tmp_path: Path) -> None:
    out = tmp_path / "walk.gif"
    result = _view([str(asset_path("motions", "walk.npz")), "--out", str(out),
                    "--width", "96", "--height", "72"], tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(out) as gif:
        assert gif.size == (96, 72) and gif.n_frames == 31
        frame = np.asarray(gif.convert("RGB"))
    assert frame.std() > 5  # something was drawn


def test_viewer_writes_mp4_when_imageio_ffmpeg_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "jump.mp4"
    result = _view([str(asset_path("motions", "jump.npz")), "--out", str(out), "--camera",
                    "front", "--width", "64", "--height", "64"], tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY decides on Linux")
def test_window_without_display_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["motions", "view", str(asset_path("motions", "walk.npz"))]) == 2
    assert "--out clip.gif" in capsys.readouterr().err
