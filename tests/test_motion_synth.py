"""Generated default clips: quality bars, determinism against the shipped files, IK."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from imitenvs.assets import asset_path
from imitenvs.motion import quat as Q
from imitenvs.motion.clip import load_clip
from imitenvs.motion.humanoid import load_humanoid
from imitenvs.motion.ik import solve_leg
from imitenvs.motion.quality import clip_quality, sole_points
from imitenvs.motion.skeleton import forward_kinematics
from imitenvs.motion.synth import default_clips, write_default_set

NAMES = ("walk", "run", "turn_walk", "jump", "wave")


@pytest.fixture(scope="module")
def shipped():
    return {name: load_clip(asset_path("motions", f"{name}.npz")) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_shipped_clips_meet_the_quality_bars(shipped, name: str) -> None:
    clip = shipped[name]
    q = clip_quality(clip, load_humanoid())
    assert q.max_stance_slide < 0.02  # stance feet slide < 2 cm per step
    assert q.min_sole_height > -0.01  # no ground penetration > 1 cm
    assert q.max_limit_violation < 1e-5  # joint limits respected (float32 storage)
    assert clip.loop_mode == "wrap"
    assert q.loop_dof_gap < 1e-3 and q.loop_height_gap < 1e-3 and q.loop_rot_gap < 1e-3
    assert q.loop_seam_ratio < 1.5  # no jump or kink across the loop seam
    assert clip.fps == 30 and clip.num_frames >= 21


def test_clips_do_what_their_names_say(shipped) -> None:
    spec = load_humanoid()
    walk, run = shipped["walk"], shipped["run"]
    assert 0.9 < (walk.root_pos[-1, 0] - walk.root_pos[0, 0]) / walk.duration < 1.1
    assert (run.root_pos[-1, 0] - run.root_pos[0, 0]) / run.duration > 2.5
    lowest = sole_points(run, spec)[..., 2].min(axis=-1)  # (F, 2 feet)
    assert np.any(np.all(lowest > 0.01, axis=1))  # a flight phase
    turn = shipped["turn_walk"]
    heading = np.unwrap(2 * np.arctan2(turn.root_rot[:, 2], turn.root_rot[:, 3]))
    assert heading[-1] - heading[0] == pytest.approx(2 * math.pi, abs=0.05)  # a full circle
    jump = shipped["jump"]
    assert jump.root_pos[:, 2].max() - jump.root_pos[0, 2] > 0.15
    assert np.any(np.all(sole_points(jump, spec)[..., 2].min(axis=-1) > 0.05, axis=1))
    pos, _ = shipped["wave"].global_pose()
    hand, head = spec.skeleton.index("right_hand"), spec.skeleton.index("head")
    assert np.any(pos[:, hand, 2] > pos[:, head, 2])


def test_generator_is_deterministic_and_matches_the_shipped_files(shipped, tmp_path) -> None:
    regenerated = {clip.name: clip for clip in default_clips()}
    assert set(regenerated) == set(NAMES)
    for name, clip in regenerated.items():
        stored = shipped[name]
        assert clip.num_frames == stored.num_frames and clip.fps == stored.fps
        np.testing.assert_allclose(stored.root_pos, clip.root_pos, atol=1e-6)
        np.testing.assert_allclose(stored.dof_pos, clip.dof_pos, atol=1e-5)
        np.testing.assert_allclose(stored.local_rot, clip.local_rot, atol=1e-6)
    written = write_default_set(tmp_path)
    for path in written:
        if path.suffix == ".yaml":
            assert path.read_text() == asset_path("motions", path.name).read_text()
    total = sum(asset_path("motions", f"{n}.npz").stat().st_size for n in NAMES)
    assert total < 200_000  # keep the shipped files small


def test_datasets_list_the_clips() -> None:
    default = yaml.safe_load(asset_path("motions", "default.yaml").read_text())
    assert [m["file"] for m in default["motions"]] == [f"{n}.npz" for n in NAMES]
    walk = yaml.safe_load(asset_path("motions", "walk.yaml").read_text())
    assert walk == {"motions": [{"file": "walk.npz", "weight": 1.0}]}


def test_leg_ik_reaches_its_targets() -> None:
    spec = load_humanoid()
    rng = np.random.default_rng(0)
    n = 200
    root_pos = np.column_stack([rng.uniform(-1, 1, (n, 2)), rng.uniform(0.7, 0.85, n)])
    root_rot = Q.quat_from_hinge3(rng.uniform(-0.2, 0.2, (n, 3)))
    ankle = np.column_stack([root_pos[:, 0] + rng.uniform(-0.25, 0.25, n),
                             root_pos[:, 1] + rng.uniform(-0.2, -0.05, n),
                             rng.uniform(0.05, 0.2, n)])  # fmt: skip
    foot_rot = Q.quat_from_hinge3(np.column_stack([np.zeros(n), rng.uniform(-0.3, 0.3, (n, 2))]))
    leg = solve_leg(spec, "right", root_pos, root_rot, ankle, foot_rot)
    assert np.all(leg.reach_error == 0)
    dof = np.zeros((n, spec.num_dofs))
    dof[:, 14:21] = np.column_stack([leg.hip, leg.knee, leg.ankle])
    pos, rot = forward_kinematics(spec.skeleton, root_pos, spec.dof_to_local_rot(dof, root_rot))
    foot = spec.skeleton.index("right_foot")
    np.testing.assert_allclose(pos[:, foot], ankle, atol=1e-9)
    assert np.all(np.abs(np.abs(np.sum(rot[:, foot] * foot_rot, -1)) - 1) < 1e-9)
    knee_forward = Q.quat_rotate(rot[:, spec.skeleton.index("right_shin")], np.array([1.0, 0, 0]))
    heading = Q.quat_rotate(foot_rot, np.array([1.0, 0, 0]))
    assert np.all(np.sum(knee_forward * heading, -1) > 0)  # knees point where the foot points


def test_generator_cli_writes_into_a_folder(tmp_path: Path) -> None:
    from imitenvs.cli import main

    assert main(["motions", "synth", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.npz")) == sorted(
        f"{n}.npz" for n in NAMES
    )
