"""Clip readers and the canonical format, on the real AMP and DeepMimic clips."""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from imitenvs.motion import quat as Q
from imitenvs.motion.clip import load_clip, save_clip
from imitenvs.motion.dataset import read_dataset
from imitenvs.motion.formats import READERS, UnsafePickleError, read_motion
from imitenvs.motion.formats.amp_npy import read_amp_dict
from imitenvs.motion.formats.deepmimic_txt import Y_UP_TO_Z_UP
from imitenvs.motion.formats.mimickit_pkl import MIMICKIT_JOINTS, arm_rest_quat
from imitenvs.motion.formats.safe_unpickle import safe_load
from imitenvs.motion.humanoid import load_humanoid
from imitenvs.motion.quality import clip_quality, ground_clip, sole_points
from imitenvs.motion.skeleton import Skeleton, forward_kinematics

AMP_CLIPS = ("amp_humanoid_walk.npy", "amp_humanoid_run.npy")
DEEPMIMIC_CLIPS = ("humanoid3d_walk.txt", "humanoid3d_run.txt", "humanoid3d_jump.txt")


def amp_path(shared_data: Path, name: str) -> Path:
    return shared_data / "motions" / "amp" / name


def dm_path(shared_data: Path, name: str) -> Path:
    return shared_data / "motions" / "deepmimic" / name


@pytest.mark.parametrize("name", AMP_CLIPS)
def test_amp_fk_reproduces_stored_global_velocities(shared_data: Path, name: str) -> None:
    """poselib stores gaussian-smoothed (sigma 2) central differences of FK positions."""
    raw = read_amp_dict(amp_path(shared_data, name))
    clip = read_motion(amp_path(shared_data, name))
    assert clip.fps == 60 and clip.skeleton.num_bodies == 15 and len(clip.dof_names) == 28
    pos, rot = clip.global_pose()
    vel = gaussian_filter1d(np.gradient(pos, axis=0), 2, axis=0, mode="nearest") * clip.fps
    stored = raw["global_velocity"]["arr"]
    assert np.abs(vel - stored).max() < 1e-4  # m/s; stored values reach 4-7 m/s
    drot = np.tile([0.0, 0.0, 0.0, 1.0], (*rot.shape[:-1], 1))
    drot[:-1] = Q.quat_mul(rot[1:], Q.quat_conjugate(rot[:-1]))
    ang = gaussian_filter1d(Q.quat_to_exp_map(drot) * clip.fps, 2, axis=0, mode="nearest")
    assert np.abs(ang - raw["global_angular_velocity"]["arr"]).max() < 2e-3  # rad/s, up to 11


@pytest.mark.parametrize("name", AMP_CLIPS)
def test_amp_clips_play_on_our_mjcf(shared_data: Path, name: str) -> None:
    clip = read_motion(amp_path(shared_data, name))
    spec = load_humanoid()
    model = mujoco.MjModel.from_xml_path(str(spec.xml_path))
    data = mujoco.MjData(model)
    pos, rot = clip.global_pose()
    qpos = spec.qpos(clip.root_pos, clip.root_rot, clip.dof_pos)
    worst_pos = worst_rot = 0.0
    for frame in range(clip.num_frames):
        data.qpos[:] = qpos[frame]
        mujoco.mj_kinematics(model, data)
        worst_pos = max(worst_pos, np.abs(data.xpos[1:] - pos[frame]).max())
        xquat = Q.wxyz_to_xyzw(data.xquat[1:])
        worst_rot = max(worst_rot, np.abs(np.abs(np.sum(xquat * rot[frame], -1)) - 1).max())
    assert worst_pos < 0.01  # the bar; exact hinge decomposition gives ~1e-7 m
    assert worst_pos < 1e-5 and worst_rot < 1e-6
    spec_limits = np.maximum(clip.dof_pos - spec.dof_upper, spec.dof_lower - clip.dof_pos)
    assert spec_limits.max() < math.radians(1.0)


def test_amp_clips_are_grounded_on_the_ankles_and_ground_clip_fixes_it(shared_data) -> None:
    spec = load_humanoid()
    clip = read_motion(amp_path(shared_data, "amp_humanoid_walk.npy"))
    pos, _ = clip.global_pose()
    assert abs(pos[:, list(spec.foot_body_ids), 2].min()) < 1e-4  # lowest ankle at z = 0
    grounded = ground_clip(clip, spec, clearance=0.002)
    assert sole_points(grounded, spec)[..., 2].min() == pytest.approx(0.002)
    np.testing.assert_allclose(grounded.root_pos[:, :2], clip.root_pos[:, :2])


def test_deepmimic_skeleton_maps_onto_ours(shared_data: Path) -> None:
    """DeepMimic's humanoid3d offsets, rotated y-up -> z-up, are our body offsets."""
    character = json.loads(dm_path(shared_data, "humanoid3d_character.txt").read_text())
    ours = load_humanoid().skeleton
    joint_to_body = {"chest": "torso", "neck": "head", "hip": "thigh", "knee": "shin",
                     "ankle": "foot", "shoulder": "upper_arm", "elbow": "lower_arm",
                     "wrist": "hand"}  # fmt: skip
    for joint in character["Skeleton"]["Joints"][1:]:
        side, _, part = joint["Name"].rpartition("_")
        body = f"{side}_{joint_to_body[part]}" if side else joint_to_body[part]
        attach = np.array([joint["AttachX"], joint["AttachY"], joint["AttachZ"]])
        np.testing.assert_allclose(
            Q.quat_rotate(Y_UP_TO_Z_UP, attach), ours.offsets[ours.index(body)], atol=1e-5
        )


@pytest.mark.parametrize("name", DEEPMIMIC_CLIPS)
def test_deepmimic_clips_are_plausible_on_our_character(shared_data: Path, name: str) -> None:
    spec = load_humanoid()
    clip = read_motion(dm_path(shared_data, name))
    assert clip.loop_mode == "wrap"
    assert clip.fps == pytest.approx(60.0 if "jump" in name else 30.0, rel=1e-3)
    pos, _ = clip.global_pose()
    root_z = clip.root_pos[:, 2]
    assert root_z.min() > 0.5 and root_z.max() < 1.3 and np.median(root_z) > 0.75
    head = pos[:, spec.skeleton.index("head"), 2]
    assert np.all(head > root_z)  # upright, z up
    soles = sole_points(clip, spec)[..., 2]  # (F, 2, 4)
    ankles = pos[:, list(spec.foot_body_ids), 2]
    assert ankles.min() > -0.02  # no foot deep under the floor
    assert soles.min() > -0.08  # (toe/heel corners of the rigid foot box)
    lowest = soles.min(axis=(1, 2))
    if "jump" not in name:
        assert np.abs(np.median(lowest)) < 0.02  # a foot is on the ground most of the time
    excess = np.maximum(clip.dof_pos - spec.dof_upper, spec.dof_lower - clip.dof_pos)
    assert excess.max() < math.radians(20)  # no joint far outside its range
    assert np.mean(excess.max(axis=1) < math.radians(5)) > 0.9


def test_deepmimic_non_uniform_durations_are_resampled(shared_data, tmp_path) -> None:
    data = json.loads(dm_path(shared_data, "humanoid3d_walk.txt").read_text())
    frames = np.array(data["Frames"])
    frames[:-1, 0] = np.where(np.arange(len(frames) - 1) % 2 == 0, 0.02, 0.04)
    data["Frames"] = frames.tolist()
    path = tmp_path / "uneven.txt"
    path.write_text(json.dumps(data))
    clip = read_motion(path)
    assert clip.fps == 33
    assert clip.duration == pytest.approx(np.sum(frames[:-1, 0]), abs=1 / 33)


def _mimickit_frames(clip, spec) -> np.ndarray:
    """Our clip as MimicKit frames (T-pose arms), via MimicKit's own conventions."""
    local = clip.local_rot.copy()
    for side in ("right", "left"):
        c = arm_rest_quat(side)
        upper = spec.skeleton.index(f"{side}_upper_arm")
        lower = spec.skeleton.index(f"{side}_lower_arm")
        local[:, upper] = Q.quat_mul(local[:, upper], Q.quat_conjugate(c))
        local[:, lower] = Q.quat_mul(Q.quat_mul(c, local[:, lower]), Q.quat_conjugate(c))
    columns = [clip.root_pos, Q.quat_to_exp_map(clip.root_rot)]
    for body, ndof, axis in MIMICKIT_JOINTS:
        q = local[:, spec.skeleton.index(body)]
        angles = (
            Q.quat_to_exp_map(q) if ndof == 3 else Q.quat_twist_angle(q, np.array(axis))[:, None]
        )
        columns.append(angles)
    return np.concatenate(columns, axis=1), local


def test_mimickit_pkl_arms_rest_horizontally(shared_data: Path, tmp_path: Path) -> None:
    spec = load_humanoid()
    clip = read_motion(amp_path(shared_data, "amp_humanoid_run.npy"))
    frames, mk_local = _mimickit_frames(clip, spec)
    assert frames.shape == (clip.num_frames, 34)
    path = tmp_path / "run.pkl"
    path.write_bytes(pickle.dumps({"loop_mode": 0, "fps": 60, "frames": frames.tolist()}))
    converted = read_motion(path)
    assert converted.loop_mode == "clamp" and converted.fps == 60
    # MimicKit's own skeleton: our offsets except horizontal arms (T-pose).
    offsets = spec.skeleton.offsets.copy()
    for side, sign in (("right", -1.0), ("left", 1.0)):
        for body, length in (("lower_arm", 0.274788), ("hand", 0.258947)):
            offsets[spec.skeleton.index(f"{side}_{body}")] = [0.0, sign * length, 0.0]
    mimickit = Skeleton(spec.skeleton.names, spec.skeleton.parents, offsets)
    mk_pos, _ = forward_kinematics(mimickit, clip.root_pos, mk_local)
    ours_pos, _ = converted.global_pose()
    np.testing.assert_allclose(ours_pos, mk_pos, atol=1e-6)
    np.testing.assert_allclose(ours_pos, clip.global_pose()[0], atol=1e-6)


def test_canonical_npz_round_trip_without_pickle(shared_data, tmp_path) -> None:
    clip = read_motion(dm_path(shared_data, "humanoid3d_jump.txt"))
    path = save_clip(clip, tmp_path / "jump.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["root_rot"].shape == (clip.num_frames, 4)
        assert all(data[k].dtype != object for k in data.files)
    back = load_clip(path)
    assert back.name == clip.name and back.loop_mode == clip.loop_mode and back.fps == clip.fps
    np.testing.assert_allclose(back.root_pos, clip.root_pos, atol=1e-6)
    np.testing.assert_allclose(back.local_rot, clip.local_rot, atol=1e-6)
    np.testing.assert_allclose(back.dof_pos, clip.dof_pos, atol=1e-6)
    assert back.skeleton.matches(clip.skeleton, atol=0.0)
    assert save_clip(clip, tmp_path / "again.npz").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match="unknown motion format"):
        read_motion(tmp_path / "clip.bvh")
    with pytest.raises(ValueError, match="loop_mode='bounce' is not allowed"):
        clip.replace(loop_mode="bounce")


class _Exploit:
    """Unpickling this would run ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_files(tmp_path: Path, marker: Path) -> dict[str, Path]:
    payload = _Exploit(marker)
    files = {}
    files["npy"] = tmp_path / "evil.npy"
    np.save(files["npy"], np.array({"rotation": payload}, dtype=object), allow_pickle=True)
    files["pkl"] = tmp_path / "evil.pkl"
    files["pkl"].write_bytes(pickle.dumps({"loop_mode": 1, "fps": 30, "frames": payload}))
    files["npz"] = tmp_path / "evil.npz"
    np.savez(files["npz"], root_pos=np.array([payload], dtype=object), format_version=1)
    files["txt"] = tmp_path / "evil.txt"
    files["txt"].write_bytes(pickle.dumps(payload))
    files["yaml"] = tmp_path / "evil.yaml"
    files["yaml"].write_text(f'motions: !!python/object/apply:os.system ["touch {marker}"]\n')
    return files


def test_malicious_pickles_are_refused_by_every_reader(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    files = _malicious_files(tmp_path, marker)
    assert set(READERS) == {f".{k}" for k in files if k != "yaml"}
    for kind in ("npy", "pkl"):
        with pytest.raises(UnsafePickleError, match=r"refusing to unpickle posix\.system"):
            read_motion(files[kind])
    with pytest.raises(ValueError, match=r"evil\.npz: (missing array|.root_pos. has dtype object)"):
        read_motion(files["npz"])
    with pytest.raises(ValueError, match="not a DeepMimic JSON motion"):
        read_motion(files["txt"])
    with pytest.raises(ValueError, match="not valid YAML"):
        read_dataset(files["yaml"])
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_unpickler_reads_plain_numpy_payloads(protocol: int) -> None:
    import collections
    import io

    payload = collections.OrderedDict(
        arr=np.arange(6, dtype=np.float32).reshape(2, 3), n=np.int64(3), items=[1.5, "a", (None,)]
    )
    back = safe_load(io.BytesIO(pickle.dumps(payload, protocol=protocol)))
    np.testing.assert_array_equal(back["arr"], payload["arr"])
    assert back["n"] == 3 and back["items"] == [1.5, "a", (None,)]


def test_quality_reports_real_clip_problems(shared_data: Path) -> None:
    """AMP's walk is not cyclic and sinks 5 cm (ankle-grounded): quality numbers show it."""
    quality = clip_quality(
        read_motion(amp_path(shared_data, "amp_humanoid_walk.npy")), load_humanoid()
    )
    assert quality.min_sole_height < -0.04
    assert quality.loop_dof_gap == 0.0  # clamp clip: no loop to close


def test_corrupt_pickles_give_one_value_error_and_no_huge_allocation(tmp_path: Path) -> None:
    """Random byte flips in a numpy pickle: every load returns or raises one ValueError naming
    the file (corrupt lengths are bounded by the file, no traceback of another type)."""
    from imitenvs.motion.formats.safe_unpickle import safe_load_file

    payload = {"fps": 30, "rot": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "name": "walk"}
    whole = pickle.dumps(payload, protocol=4)
    rng = np.random.default_rng(0)
    path = tmp_path / "clip.pkl"
    for _ in range(300):
        data = bytearray(whole)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        path.write_bytes(bytes(data))
        try:
            safe_load_file(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    # A length field of 2**40 bytes must not be honoured (the file holds ~100 bytes).
    huge = bytearray(pickle.dumps(b"x" * 8, protocol=4))
    at = huge.index(b"C")  # SHORT_BINBYTES -> BINBYTES8 with a huge length
    path.write_bytes(bytes(huge[:at]) + b"\x8e" + (2**40).to_bytes(8, "little") + b"x" * 8 + b".")
    with pytest.raises(ValueError, match="not a valid pickle"):
        safe_load_file(path)


def test_out_of_band_pickle_buffers_are_refused() -> None:
    import io

    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(np.arange(4.0), protocol=5, buffer_callback=buffers.append)
    with pytest.raises(UnsafePickleError, match="out-of-band"):
        safe_load(io.BytesIO(data))
