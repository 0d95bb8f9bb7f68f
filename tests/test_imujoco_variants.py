"""iMuJoCo variants: names, the registered grid, the generated models, the envs and the cache."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import gymnasium
import mujoco
import numpy as np
import pytest

import imitenvs
from imitenvs.cli import main as cli_main
from imitenvs.core.render import default_headless_gl
from imitenvs.envs.imujoco import docs, grid, mjcf
from imitenvs.envs.imujoco.env import (
    V3_SETTINGS,
    IMuJoCoHalfCheetahEnv,
    IMuJoCoHopperEnv,
)
from imitenvs.registry import get_entry

ALL = grid.REGISTERED_VARIANTS

# MjModel fields compared between a variant and its base model.
FIELDS = (
    "body_pos",
    "body_quat",
    "body_mass",
    "body_inertia",
    "body_ipos",
    "body_iquat",
    "geom_size",
    "geom_pos",
    "geom_quat",
    "geom_friction",
    "geom_condim",
    "geom_priority",
    "geom_solref",
    "geom_solimp",
    "geom_margin",
    "geom_gap",
    "geom_contype",
    "geom_conaffinity",
    "jnt_range",
    "jnt_pos",
    "jnt_axis",
    "jnt_stiffness",
    "qpos0",
    "dof_damping",
    "dof_armature",
    "actuator_gear",
    "actuator_ctrlrange",
)


@pytest.fixture(autouse=True)
def tmp_cache(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("IMITENVS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "imujoco"


# ---------------------------------------------------------------------------------- names


def test_grid_counts_categories_and_published_names() -> None:
    assert len(ALL) == len(set(ALL)) == 154
    for robot, count in {"hopper": 37, "halfcheetah": 53, "walker2d": 64}.items():
        names = grid.variants_of(robot)
        assert len(names) == count
        assert {grid.parse_variant(n).category for n in names} == set(grid.CATEGORIES)
    assert set(grid.PUBLISHED_VARIANTS) <= set(ALL)
    assert imitenvs.list_envs("imujoco") == [f"imitenvs/iMuJoCo-{n}-v0" for n in ALL]


@pytest.mark.parametrize(
    ("name", "robot", "category", "direction", "percent", "element"),
    [
        ("hopper-massdec_25_leggeom", "hopper", "mass", "dec", 25, "leg_geom"),
        ("hopper-massdec_50_leggeom", "hopper", "mass", "dec", 50, "leg_geom"),
        ("hopper-massdec_25_footgeom", "hopper", "mass", "dec", 25, "foot_geom"),
        ("hopper-massdec_50_footgeom", "hopper", "mass", "dec", 50, "foot_geom"),
        ("halfcheetah-jointdec_25_bfoot", "halfcheetah", "joint", "dec", 25, "bfoot"),
        ("halfcheetah-jointdec_25_bshin", "halfcheetah", "joint", "dec", 25, "bshin"),
        ("walker2d-frictioninc_150_footleftgeom", "walker2d", "friction", "inc", 150,
         "foot_left_geom"),
        ("walker2d-jointinc_10_thighleftjoint", "walker2d", "joint", "inc", 10,
         "thigh_left_joint"),
    ],
)  # fmt: skip
def test_names_parse_to_their_variant(name, robot, category, direction, percent, element):
    v = grid.parse_variant(name)
    assert (v.robot.key, v.category, v.direction, v.percent, v.element) == (
        robot,
        category,
        direction,
        percent,
        element,
    )
    assert v.factor == pytest.approx(1 + (percent if direction == "inc" else -percent) / 100)
    assert v.env_id == f"imitenvs/iMuJoCo-{name}-v0"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("hopper_massdec_25_leggeom", "malformed"),
        ("hopper-massdec_025_leggeom", "malformed"),
        ("hopper-weightdec_25_leggeom", "malformed"),
        ("hopper-massdec_25_", "malformed"),
        ("", "malformed"),
        ("ant-massdec_25_torso", "unknown robot 'ant'.*hopper, halfcheetah, walker2d"),
        ("hopper-massdec_100_leggeom", "percent 100 out of range"),
        ("hopper-massdec_25_bfoot", "valid parts .geoms.: torsogeom, thighgeom, leggeom, footgeom"),
        ("hopper-jointdec_25_leggeom", "valid parts .joints.: thighjoint, legjoint, footjoint"),
    ],
)
def test_bad_names_raise_with_the_valid_choices(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grid.parse_variant(name)


def test_robot_parts_match_gymnasium_models() -> None:
    for robot in grid.ROBOTS.values():
        root = ET.parse(mjcf.gymnasium_asset(robot.xml)).getroot()
        world = root.find("worldbody")
        geoms = [g.get("name") for g in world.iter("geom") if g.get("name") != mjcf.FLOOR]
        actuated = [m.get("joint") for m in root.find("actuator").iter("motor")]
        assert tuple(geoms) == robot.geoms
        assert tuple(actuated) == robot.joints


def test_grid_and_registry_do_not_import_mujoco() -> None:
    code = (
        "import sys, imitenvs.registry, imitenvs.envs.imujoco.grid; "
        "assert 'mujoco' not in sys.modules, 'mujoco was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docs_table_is_fresh(repo_root) -> None:
    text = (repo_root / "docs" / "imujoco.md").read_text(encoding="utf-8")
    assert docs.replace_block(text) == text, "run python -m imitenvs.envs.imujoco.docs"
    assert text.count("| `iMuJoCo-") == 154


def test_cli_lists_the_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["list", "--family", "imujoco"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 154
    assert lines[0].startswith("imitenvs/iMuJoCo-hopper-")


# ------------------------------------------------------------------------------ models


def _differences(base: mujoco.MjModel, model: mujoco.MjModel) -> set[tuple[str, int]]:
    """(field, row) pairs that differ between two models with the same structure."""
    out = set()
    for field in FIELDS:
        a, b = getattr(base, field), getattr(model, field)
        assert a.shape == b.shape, field
        rows = ~np.isclose(a, b, rtol=1e-12, atol=1e-15)
        for row in np.flatnonzero(rows.reshape(len(a), -1).any(axis=1) if a.ndim else rows):
            out.add((field, int(row)))
    return out


def _capsule_volume(size: np.ndarray) -> float:
    r, h = size[0], size[1]
    return math.pi * r * r * 2 * h + 4 / 3 * math.pi * r**3


def _segment(model: mujoco.MjModel, g: int) -> tuple[np.ndarray, np.ndarray]:
    axis = np.zeros(3)
    mujoco.mju_rotVecQuat(axis, np.array([0.0, 0.0, 1.0]), model.geom_quat[g])
    h = model.geom_size[g][1]
    return model.geom_pos[g] - h * axis, model.geom_pos[g] + h * axis


def _hinge_point(model: mujoco.MjModel, child: int) -> np.ndarray:
    """A child's first joint anchor in its parent's frame."""
    offset = np.zeros(3)
    mujoco.mju_rotVecQuat(offset, model.jnt_pos[model.body_jntadr[child]], model.body_quat[child])
    return model.body_pos[child] + offset


def _axial(point: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> tuple[float, float, float]:
    """(distance along p0->p1 from p0, segment length, distance from the axis)."""
    length = float(np.linalg.norm(p1 - p0))
    u = (p1 - p0) / length
    s = float(np.dot(point - p0, u))
    return s, length, float(np.linalg.norm(point - p0 - s * u))


def _check_mass(v, base, model, diff) -> None:
    g = base.geom(v.element).id
    b = base.geom_bodyid[g]
    assert ("body_mass", b) in diff
    assert diff <= {("body_mass", b), ("body_inertia", b), ("body_ipos", b), ("body_iquat", b)}
    # Every geom of a robot has the same density: infer it from a single-geom body.
    single = next(
        x for x in range(1, base.ngeom) if np.sum(base.geom_bodyid == base.geom_bodyid[x]) == 1
    )
    density = base.body_mass[base.geom_bodyid[single]] / _capsule_volume(base.geom_size[single])
    geom_mass = density * _capsule_volume(base.geom_size[g])
    delta = model.body_mass[b] - base.body_mass[b]
    assert delta == pytest.approx((v.factor - 1.0) * geom_mass, rel=1e-9)
    if np.sum(base.geom_bodyid == b) == 1:
        assert model.body_mass[b] / base.body_mass[b] == pytest.approx(v.factor, rel=1e-12)
        np.testing.assert_allclose(
            model.body_inertia[b], v.factor * base.body_inertia[b], rtol=1e-9
        )


def _check_joint(v, base, model, diff) -> None:
    j = base.joint(v.element).id
    assert diff == {("jnt_range", j)}
    (lo, hi), (nlo, nhi) = base.jnt_range[j], model.jnt_range[j]
    assert (nhi - nlo) / (hi - lo) == pytest.approx(v.factor, rel=1e-12)
    ref = base.qpos0[base.jnt_qposadr[j]]
    assert nlo - 1e-12 <= ref <= nhi + 1e-12, "the reference pose must stay reachable"
    if v.direction == "dec":
        assert lo - 1e-12 <= nlo and nhi <= hi + 1e-12
    centred = np.isclose(nlo + nhi, lo + hi, atol=1e-12)
    assert centred or np.isclose(ref, nlo) or np.isclose(ref, nhi)


def _check_friction(v, base, model, diff) -> None:
    assert diff == set(), "only an explicit contact pair may be added"
    g, floor = base.geom(v.element).id, base.geom(mjcf.FLOOR).id
    assert base.npair == 0 and model.npair == 1
    assert {model.pair_geom1[0], model.pair_geom2[0]} == {g, floor}
    slide, spin, roll = np.maximum(base.geom_friction[g], base.geom_friction[floor])
    np.testing.assert_allclose(
        model.pair_friction[0], v.factor * np.array([slide, slide, spin, roll, roll]), rtol=1e-12
    )
    assert model.pair_dim[0] == max(base.geom_condim[g], base.geom_condim[floor])
    assert model.pair_margin[0] == pytest.approx(max(base.geom_margin[[g, floor]]))
    np.testing.assert_allclose(model.pair_solref[0], base.geom_solref[g])
    np.testing.assert_allclose(model.pair_solimp[0], base.geom_solimp[g])


def _check_length(v, base, model, diff) -> None:
    g = base.geom(v.element).id
    b = base.geom_bodyid[g]
    assert model.geom_size[g][1] / base.geom_size[g][1] == pytest.approx(v.factor, rel=1e-12)
    assert model.geom_size[g][0] == base.geom_size[g][0]
    children = [c for c in range(base.nbody) if c != b and base.body_parentid[c] == b]
    siblings = [x for x in range(base.ngeom) if base.geom_bodyid[x] == b]
    rootz = base.joint("rootz").id
    allowed = {("geom_pos", x) for x in siblings} | {("body_pos", c) for c in children}
    allowed |= {(f, b) for f in ("body_mass", "body_inertia", "body_ipos", "body_iquat")}
    allowed |= {("body_pos", 1), ("qpos0", int(base.jnt_qposadr[rootz]))}
    assert ("geom_size", g) in diff and diff - {("geom_size", g)} <= allowed
    # the limb's mass follows its volume
    if len(siblings) == 1:
        ratio = _capsule_volume(model.geom_size[g]) / _capsule_volume(base.geom_size[g])
        assert model.body_mass[b] / base.body_mass[b] == pytest.approx(ratio, rel=1e-9)
    # the chain stays connected: each child's hinge keeps its place relative to the limb
    (p0, p1), (q0, q1) = _segment(base, g), _segment(model, g)
    for c in children:
        s, length, off = _axial(_hinge_point(base, c), p0, p1)
        s2, length2, off2 = _axial(_hinge_point(model, c), q0, q1)
        assert length2 == pytest.approx(v.factor * length, rel=1e-9)
        assert off2 == pytest.approx(off, abs=1e-12)
        if 0 <= s <= length:
            assert s2 / length2 == pytest.approx(s / length, abs=1e-9)
        else:  # beyond an end: rides with that end
            end, end2 = (0.0, 0.0) if s < 0 else (length, length2)
            assert s2 - end2 == pytest.approx(s - end, abs=1e-9)
    # the limb stays attached to its own hinge (non-root limbs)
    if base.body_parentid[b] != 0:
        hinge = base.jnt_pos[base.body_jntadr[b]]
        points = []
        for start, end in ((p0, p1), (q0, q1)):
            s, length, _ = _axial(hinge, start, end)
            points.append(start + np.clip(s, 0, length) * (end - start) / length)
        np.testing.assert_allclose(points[1], points[0], atol=1e-12)
    # same clearance above the floor; qpos still reads the torso height
    assert mjcf.lowest_point(model) == pytest.approx(mjcf.lowest_point(base), abs=1e-9)
    shift = model.body_pos[1][2] - base.body_pos[1][2]
    if v.robot.key != "halfcheetah":
        qz = base.jnt_qposadr[rootz]
        assert model.qpos0[qz] - base.qpos0[qz] == pytest.approx(shift, abs=1e-12)


CHECKS = {
    "mass": _check_mass,
    "joint": _check_joint,
    "friction": _check_friction,
    "length": _check_length,
}


@pytest.mark.parametrize("name", ALL)
def test_variant_changes_exactly_its_element(name: str) -> None:
    v = grid.parse_variant(name)
    base, model = mjcf.base_model(v.robot.key), mjcf.compile_variant(name)
    for count in ("nbody", "ngeom", "njnt", "nu", "nq"):
        assert getattr(model, count) == getattr(base, count)
    CHECKS[v.category](v, base, model, _differences(base, model))


@pytest.mark.parametrize("robot", list(grid.ROBOTS))
def test_base_model_equals_gymnasium_model(robot: str) -> None:
    original = mujoco.MjModel.from_xml_path(str(mjcf.gymnasium_asset(grid.ROBOTS[robot].xml)))
    base = mjcf.base_model(robot)
    for field in FIELDS:
        np.testing.assert_allclose(getattr(base, field), getattr(original, field), rtol=1e-12)


def test_walker_keeps_v3_feet_friction() -> None:
    base = mjcf.base_model("walker2d")
    assert base.geom_friction[base.geom("foot_geom").id][0] == 0.9
    assert base.geom_friction[base.geom("foot_left_geom").id][0] == 1.9


def test_friction_pair_governs_the_floor_contact() -> None:
    """Simulated: the foot's floor contacts carry the scaled friction, others keep theirs."""
    for name, factor in (
        ("hopper-frictiondec_50_footgeom", 0.5),
        ("hopper-frictioninc_50_footgeom", 1.5),
    ):
        model = mjcf.compile_variant(name)
        data = mujoco.MjData(model)
        for _ in range(300):
            mujoco.mj_step(model, data)
        foot = model.geom("foot_geom").id
        touching = [data.contact[i] for i in range(data.ncon) if foot in data.contact[i].geom]
        assert touching, "the hopper should stand on its foot after 0.6 s"
        for contact in touching:
            assert contact.friction[0] == pytest.approx(2.0 * factor)
            assert contact.dim == 3


# -------------------------------------------------------------------------------- envs


def test_every_id_constructs_and_steps() -> None:
    for env_id in imitenvs.list_envs("imujoco"):
        env = gymnasium.make(env_id)
        robot = grid.robot_for_env(env_id)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (robot.obs_dim,) and env.action_space.shape == (robot.act_dim,)
        for _ in range(3):
            obs, reward, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward)
        assert env.spec.max_episode_steps == 1000
        assert get_entry(env_id).kwargs["variant"] == env.unwrapped.variant.name
        env.close()


def test_envs_pin_the_v3_settings_and_refuse_bad_arguments() -> None:
    env = gymnasium.make("imitenvs/iMuJoCo-halfcheetah-jointdec_25_bfoot-v0").unwrapped
    assert env.frame_skip == V3_SETTINGS["halfcheetah"]["frame_skip"] == 5
    assert env._ctrl_cost_weight == 0.1 and env._reset_noise_scale == 0.1
    walker = gymnasium.make("imitenvs/iMuJoCo-walker2d-massinc_50_torsogeom-v0").unwrapped
    assert walker._healthy_z_range == (0.8, 2.0)
    custom = IMuJoCoHopperEnv(variant="hopper-lengthinc_10_footgeom", ctrl_cost_weight=0.5)
    assert custom._ctrl_cost_weight == 0.5 and custom._healthy_z_range == (0.7, math.inf)
    with pytest.raises(ValueError, match="builds halfcheetah variants"):
        IMuJoCoHalfCheetahEnv(variant="hopper-massdec_25_leggeom")
    with pytest.raises(ValueError, match="xml_file is set by the variant"):
        IMuJoCoHopperEnv(variant="hopper-massdec_25_leggeom", xml_file="hopper.xml")


def test_env_model_is_the_generated_variant() -> None:
    env = gymnasium.make("imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0").unwrapped
    base = mjcf.base_model("hopper")
    leg = base.body("leg").id
    assert env.model.body_mass[leg] == pytest.approx(0.75 * base.body_mass[leg])


def test_cache_is_written_once_atomically_under_the_env_var(tmp_cache) -> None:
    name = "walker2d-lengthdec_25_legleftgeom"
    path = mjcf.variant_xml_path(name)
    assert path.parent == tmp_cache and path.name.startswith(name)
    assert path.read_text(encoding="utf-8") == mjcf.variant_xml(name)
    stamp = path.stat().st_mtime_ns
    assert mjcf.variant_xml_path(name) == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_cache.iterdir()] == [path.name], "no temporary files left"
    gymnasium.make(grid.parse_variant(name).env_id).close()
    assert len(list(tmp_cache.iterdir())) == 1


def test_cache_defaults_to_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("IMITENVS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mjcf.cache_dir() == tmp_path / "xdg" / "imitenvs" / "imujoco"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mjcf.cache_dir() == tmp_path / "home" / ".cache" / "imitenvs" / "imujoco"


def test_headless_gl_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)
    monkeypatch.setattr(sys, "platform", "linux")
    default_headless_gl(None)
    assert "MUJOCO_GL" not in os.environ
    default_headless_gl("rgb_array")
    assert os.environ["MUJOCO_GL"] == "egl"
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    default_headless_gl("rgb_array")
    assert os.environ["MUJOCO_GL"] == "osmesa"
    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.setenv("DISPLAY", ":0")
    default_headless_gl("rgb_array")
    assert "MUJOCO_GL" not in os.environ
