"""Motion library: weighted sampling, batched queries, wrap/clamp, numpy and torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from imitenvs.assets import asset_path
from imitenvs.motion import quat as Q
from imitenvs.motion.formats import read_motion
from imitenvs.motion.humanoid import load_humanoid
from imitenvs.motion.library import MotionLibrary


@pytest.fixture(scope="module")
def clips(shared_data: Path):
    walk = read_motion(shared_data / "motions" / "amp" / "amp_humanoid_walk.npy")  # clamp
    run = read_motion(shared_data / "motions" / "deepmimic" / "humanoid3d_run.txt")  # wrap
    return [walk, run]


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_queries_at_frame_times_reproduce_the_frames(clips, device) -> None:
    lib = MotionLibrary(clips, device=device, dtype="float64")
    spec = load_humanoid()
    for cid, clip in enumerate(clips):
        # at t = duration a wrap clip is already at frame 0 of its next cycle
        frames = np.arange(clip.num_frames - (clip.loop_mode == "wrap"))
        state = lib.get_state(np.full(len(frames), cid), frames / clip.fps)
        assert isinstance(state.root_pos, torch.Tensor) == (device is not None)
        np.testing.assert_allclose(_numpy(state.root_pos), clip.root_pos[frames], atol=1e-9)
        dot = np.sum(_numpy(state.root_rot) * clip.root_rot[frames], -1)
        assert np.all(np.abs(np.abs(dot) - 1) < 1e-9)
        dof = Q.wrap_angle(clip.dof_pos[frames])
        np.testing.assert_allclose(_numpy(state.dof_pos), dof, atol=1e-9)
        key_pos = clip.global_pose()[0][frames][:, spec.key_body_ids]
        np.testing.assert_allclose(_numpy(state.key_pos), key_pos, atol=1e-9)


def test_velocities_are_derivatives_of_the_interpolated_motion(clips) -> None:
    lib = MotionLibrary(clips, dtype="float64")
    ids = np.array([0, 0, 1, 1])
    times = np.array([0.31, 1.0, 0.17, 0.9])
    eps = 1e-6
    a, b = lib.get_state(ids, times), lib.get_state(ids, times + eps)
    np.testing.assert_allclose((b.root_pos - a.root_pos) / eps, a.root_vel, atol=1e-4)
    np.testing.assert_allclose(Q.wrap_angle(b.dof_pos - a.dof_pos) / eps, a.dof_vel, atol=1e-3)
    drot = Q.quat_mul(b.root_rot, Q.quat_conjugate(a.root_rot))
    np.testing.assert_allclose(Q.quat_to_exp_map(drot) / eps, a.root_ang_vel, atol=1e-3)


def test_interpolation_between_frames(clips) -> None:
    lib = MotionLibrary(clips, dtype="float64")
    clip = clips[1]
    mid = lib.get_state(np.array([1]), np.array([2.5 / clip.fps]))
    np.testing.assert_allclose(mid.root_pos[0], 0.5 * (clip.root_pos[2] + clip.root_pos[3]))
    expected = Q.quat_slerp(clip.root_rot[2], clip.root_rot[3], np.array(0.5))
    assert abs(abs(np.dot(mid.root_rot[0], expected)) - 1) < 1e-12


def test_wrap_offsets_the_root_and_clamp_holds_the_ends(clips) -> None:
    lib = MotionLibrary(clips, dtype="float64")
    walk, run = clips
    t = np.array([0.2, 0.5])
    for cycles in (1, 2, -1):
        later = lib.get_state(np.array([1, 1]), t + cycles * run.duration)
        base = lib.get_state(np.array([1, 1]), t)
        shift = (run.root_pos[-1] - run.root_pos[0]) * [1, 1, 0] * cycles
        np.testing.assert_allclose(later.root_pos, base.root_pos + shift, atol=1e-9)
        np.testing.assert_allclose(later.key_pos, base.key_pos + shift, atol=1e-9)
        np.testing.assert_allclose(later.dof_pos, base.dof_pos, atol=1e-9)
    end = lib.get_state(np.array([0, 0]), np.array([walk.duration, walk.duration + 5.0]))
    np.testing.assert_allclose(end.root_pos, walk.root_pos[[-1, -1]], atol=1e-9)
    start = lib.get_state(np.array([0]), np.array([-3.0]))
    np.testing.assert_allclose(start.root_pos[0], walk.root_pos[0], atol=1e-9)


def test_numpy_and_torch_agree_on_a_4096_batch(clips) -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2, 4096)
    times = rng.uniform(-1.0, 4.0, 4096)
    a = MotionLibrary(clips, dtype="float64").get_state(ids, times)
    b = MotionLibrary(clips, device="cpu", dtype="float64").get_state(
        torch.as_tensor(ids), torch.as_tensor(times)
    )
    for name in ("root_pos", "root_vel", "root_ang_vel", "dof_pos", "dof_vel", "key_pos"):
        np.testing.assert_allclose(_numpy(getattr(b, name)), getattr(a, name), atol=1e-9)
    assert a.key_pos.shape == (4096, 4, 3) and a.dof_pos.shape == (4096, 28)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_seeded_weighted_sampling(clips, device) -> None:
    lib = MotionLibrary(clips, weights=[1.0, 3.0], device=device)

    def generator(seed: int):
        return (
            np.random.default_rng(seed) if device is None else torch.Generator().manual_seed(seed)
        )

    ids = _numpy(lib.sample_clips(20000, generator(1)))
    assert abs(np.mean(ids == 1) - 0.75) < 0.02
    np.testing.assert_array_equal(ids, _numpy(lib.sample_clips(20000, generator(1))))
    lengths = _numpy(lib.clip_lengths)[ids]
    uniform = _numpy(lib.sample_times(ids, generator(2)))
    assert np.all((uniform >= 0) & (uniform <= lengths))
    assert abs(np.mean(uniform / lengths) - 0.5) < 0.02
    beta = _numpy(lib.sample_times(ids, generator(3), mode="beta"))
    assert abs(np.mean(beta / lengths) - 0.25) < 0.02  # Beta(1, 3) mean
    assert np.all(_numpy(lib.sample_times(ids, generator(4), mode="start")) == 0)
    truncated = _numpy(lib.sample_times(ids, generator(5), truncate=0.5))
    assert np.all(truncated <= lengths - 0.5 + 1e-6)


def test_bad_arguments_are_named(clips) -> None:
    lib = MotionLibrary(clips)
    with pytest.raises(ValueError, match=r"numpy\.random\.Generator"):
        lib.sample_clips(4, torch.Generator())
    with pytest.raises(ValueError, match="mode='gaussian' is not allowed"):
        lib.sample_times(np.array([0]), np.random.default_rng(0), mode="gaussian")
    with pytest.raises(ValueError, match="positive numbers"):
        MotionLibrary(clips, weights=[1.0, 0.0])
    with pytest.raises(KeyError, match="unknown body 'tail'"):
        MotionLibrary(clips, key_bodies=["tail"])
    with pytest.raises(ValueError, match=r"torch\.Generator"):
        MotionLibrary(clips, device="cpu").sample_clips(4, np.random.default_rng(0))


def test_yaml_dataset_with_relative_paths(shared_data: Path, tmp_path: Path) -> None:
    amp = shared_data / "motions" / "amp"
    rel = [
        os.path.relpath(amp / n, tmp_path)
        for n in ("amp_humanoid_walk.npy", "amp_humanoid_run.npy")
    ]
    (tmp_path / "set.yaml").write_text(
        f"motions:\n  - file: {rel[0]}\n    weight: 1.0\n  - file: {rel[1]}\n    weight: 3\n"
    )
    lib = MotionLibrary.from_file(tmp_path / "set.yaml")
    assert lib.clip_names == ("amp_humanoid_walk", "amp_humanoid_run")
    np.testing.assert_allclose(lib.weights, [0.25, 0.75])
    shipped = MotionLibrary.from_file(asset_path("motions", "default.yaml"))
    assert {"walk", "run", "turn_walk", "jump", "wave"} <= set(shipped.clip_names)
    (tmp_path / "bad.yaml").write_text("motions:\n  - file: missing.npz\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        MotionLibrary.from_file(tmp_path / "bad.yaml")
