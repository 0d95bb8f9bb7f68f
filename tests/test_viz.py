"""Pictures: maze trajectories, transition heat maps, PushT frames and GIFs (valid image files)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from PIL import Image

from imitenvs import viz
from imitenvs.data.demos import load_default_demos
from imitenvs.data.zarr_demos import read_near_maze


def assert_image(path, frames: int = 1) -> Image.Image:
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as img:
        img.verify()
    img = Image.open(path)
    assert img.size[0] > 32 and img.size[1] > 32
    assert getattr(img, "n_frames", 1) == frames
    return img


def test_plot_maze(tmp_path, shared_data) -> None:
    ours = [s for s, _ in load_default_demos("maze").episodes()][:5]
    near = [s for s, _ in read_near_maze(shared_data / "near" / "maze_motions.zarr").episodes()]
    path = viz.plot_maze(tmp_path / "maze.png", demos=near[:20], policy=ours, title="maze")
    img = np.asarray(assert_image(path).convert("RGB"))
    assert img.std() > 10  # not blank


def test_transition_grid_and_heatmap(tmp_path) -> None:
    def progress(s: np.ndarray, s_next: np.ndarray) -> np.ndarray:
        return s_next[:, 0] - s[:, 0]

    centres, values = viz.transition_grid(progress, resolution=32, step=4.0, direction=(1, 0))
    assert values.shape == (32, 32) and len(centres) == 32
    finite = values[np.isfinite(values)]
    np.testing.assert_allclose(finite, 4.0)
    # NaN inside the maze box x in [20, 40], y in [140, 460] and near the arena walls.
    col, row = np.searchsorted(centres, 30.0), np.searchsorted(centres, 300.0)
    assert np.isnan(values[row, col]) and np.isnan(values[0, 0])
    _, mean = viz.transition_grid(progress, resolution=16, step=4.0, directions=8)
    np.testing.assert_allclose(mean[np.isfinite(mean)], 0.0, atol=1e-9)  # symmetric directions
    path = viz.maze_heatmap(
        lambda s, sn: -np.linalg.norm(sn - 435.2, axis=1),
        tmp_path / "h.png",
        resolution=24,
        label="energy",
    )
    assert_image(path)
    with pytest.raises(ValueError, match="direction"):
        viz.transition_grid(progress, direction=(0, 0))


def test_pusht_frames_gif_and_strip(tmp_path) -> None:
    states, _ = load_default_demos("pusht").episode(0)
    frames = viz.pusht_frames(states[::10], size=64)
    assert frames.shape == (len(states[::10]), 64, 64, 3) and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1])
    assert_image(viz.save_gif(frames, tmp_path / "ep.gif"), frames=len(frames))
    assert_image(viz.save_frame_strip(frames, tmp_path / "strip.png", count=4))


def test_human_render_mode_shows_frames_in_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from imitenvs.core import render

    shown: list[np.ndarray] = []
    monkeypatch.setattr(render, "has_display", lambda: True)
    monkeypatch.setattr(plt, "pause", lambda _: shown.append(plt.gcf()))
    for env_id in ("imitenvs/Maze-v0", "imitenvs/PushT-v0"):
        env = gymnasium.make(env_id, render_mode="human")
        env.reset(seed=0)
        assert env.render() is None
        env.step(env.action_space.sample())
        env.close()
        env.close()
    assert len(shown) == 6  # reset, render() and step of each env drew a frame
    assert not plt.get_fignums()  # close() closed the windows


def test_human_render_mode_without_display_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from imitenvs.core import render

    monkeypatch.setattr(render, "has_display", lambda: False)
    env = gymnasium.make("imitenvs/Maze-v0", render_mode="human")
    with pytest.raises(RuntimeError, match="rgb_array"):
        env.reset(seed=0)
