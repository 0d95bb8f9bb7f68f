"""Generate each iMuJoCo variant's MJCF from gymnasium's bundled v5 models.

No model is copied: :func:`variant_xml` reads ``hopper.xml``, ``half_cheetah.xml`` or
``walker2d.xml`` from ``gymnasium/envs/mujoco/assets``, edits the one element the variant
names and returns the new XML. Those files use local coordinates (gymnasium rewrote the
``coordinate="global"`` originals), so every position below is in the frame of its body.

What each category changes (``f`` is the variant's factor, ``1 +- percent/100``):

* **mass** -- the geom's ``density`` is multiplied by ``f``. Masses come from the geoms
  (``inertiafromgeom``), so the geom's mass and its inertia scale by exactly ``f``; its body's
  mass changes by ``(f - 1)`` times the geom's mass (the whole body's mass when it has one
  geom; HalfCheetah's torso body also carries the head).
* **joint** -- the hinge's range ``[lo, hi]`` keeps its centre and gets width ``f (hi - lo)``.
  A restricted range (``dec``) lies inside the original one. Where it would exclude the joint's
  reference angle (the pose every episode starts near; Hopper's and Walker2d's hips and knees
  have it at the end of their range, 0 in ``[-150, 0]`` deg), the range slides, keeping its
  width and staying inside the original range, until the reference angle is at its end.
* **length** -- the capsule's length is multiplied by ``f`` about its *anchor*, the point
  where the limb hangs from the rest of the robot (its hinge, projected onto the capsule's axis
  and clamped to the capsule; for the torso, the mean of the points where its children hang
  from it: Hopper's and Walker2d's hips, so their torso grows upward; HalfCheetah's centre, so
  its spine grows at both ends). Everything fixed to the limb is moved along the axis by
  ``(f - 1)`` times its axial distance from the anchor (clamped to the capsule): child bodies
  (with their whole subtrees) and other geoms of the body, so the chain stays connected. The
  radius and density are kept, so the limb's mass grows with its volume. When the robot's
  lowest point moves, the root body (and the ``ref`` of its vertical slide joint, so ``qpos``
  still reads the torso's height) is shifted so the robot starts at the original height above
  the floor. Cameras are not moved.
* **friction** -- the friction of the contact between the geom and the floor is multiplied by
  ``f``. MuJoCo combines two geoms' friction by an element-wise maximum, so scaling the geom's
  own coefficient could do nothing (HalfCheetah's feet have the floor's 0.4); instead an
  explicit ``<contact><pair>`` for (geom, floor) carries ``f`` times the combined friction and
  the combined condim, margin, gap, solref and solimp. MuJoCo then skips the geom's automatic
  contact with the floor; all other contacts are unchanged.

HalfCheetah's ``settotalmass="14"`` (deprecated in MuJoCo 3) would rescale every mass after a
mass change; every generated HalfCheetah model instead sets the equivalent default geom density
(same masses to rounding), so a variant changes only its element.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np

from imitenvs.core.files import atomic_writer
from imitenvs.envs.imujoco.grid import ROBOTS, Variant, parse_variant

logger = logging.getLogger(__name__)

FLOOR = "floor"
DEFAULT_DENSITY = 1000.0
PAIR_NAME = "imujoco_floor_friction"


def gymnasium_asset(filename: str) -> Path:
    """Path of a model bundled with gymnasium (``gymnasium/envs/mujoco/assets/<filename>``)."""
    import gymnasium.envs.mujoco as gym_mujoco

    path = Path(gym_mujoco.__file__).resolve().parent / "assets" / filename
    if not path.is_file():
        raise FileNotFoundError(f"gymnasium does not ship {filename} (looked for {path})")
    return path


def _fmt(values: np.ndarray | list[float] | float) -> str:
    """Space-separated shortest round-trip decimal text of floats."""
    return " ".join(repr(float(v)) for v in np.atleast_1d(np.asarray(values, dtype=float)))


def _find(root: ET.Element, tag: str, name: str) -> ET.Element:
    element = root.find(f".//{tag}[@name='{name}']")
    if element is None:
        raise KeyError(f"no <{tag} name={name!r}> in the model")
    return element


@functools.cache
def base_xml(robot: str) -> str:
    """gymnasium's model for ``robot``, normalised (``settotalmass`` baked into densities)."""
    root = ET.parse(gymnasium_asset(ROBOTS[robot].xml)).getroot()
    compiler = root.find("compiler")
    if compiler is not None and "settotalmass" in compiler.attrib:
        total = float(compiler.attrib.pop("settotalmass"))
        unscaled = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
        scale = total / float(unscaled.body_mass.sum())
        _default_geom(root).set("density", _fmt(DEFAULT_DENSITY * scale))
    return ET.tostring(root, encoding="unicode")


@functools.cache
def base_model(robot: str) -> mujoco.MjModel:
    """The compiled :func:`base_xml` (shared; do not modify it)."""
    return mujoco.MjModel.from_xml_string(base_xml(robot))


def _default_geom(root: ET.Element) -> ET.Element:
    default = root.find("default")
    if default is None:
        default = ET.SubElement(root, "default")
    geom = default.find("geom")
    return geom if geom is not None else ET.SubElement(default, "geom")


def _apply_mass(root: ET.Element, v: Variant) -> None:
    geom = _find(root, "geom", v.element)
    if "mass" in geom.attrib:
        geom.set("mass", _fmt(float(geom.get("mass")) * v.factor))
        return
    density = geom.get("density") or _default_geom(root).get("density") or DEFAULT_DENSITY
    geom.set("density", _fmt(float(density) * v.factor))


def scaled_range(lo: float, hi: float, factor: float, ref: float) -> tuple[float, float]:
    """``[lo, hi]`` scaled about its centre to width ``factor (hi - lo)``, slid to contain ``ref``.

    ``ref`` must lie in ``[lo, hi]``; for ``factor <= 1`` the result lies inside ``[lo, hi]``.
    """
    width = (hi - lo) * factor
    new_lo = (lo + hi) / 2.0 - width / 2.0
    if ref < new_lo:
        new_lo = ref
    elif ref > new_lo + width:
        new_lo = ref - width
    return new_lo, new_lo + width


def _apply_joint(root: ET.Element, v: Variant) -> None:
    joint = _find(root, "joint", v.element)
    lo, hi = (float(x) for x in joint.get("range").split())
    joint.set("range", _fmt(scaled_range(lo, hi, v.factor, float(joint.get("ref", 0.0)))))


def _apply_friction(root: ET.Element, v: Variant) -> None:
    model = base_model(v.robot.key)
    g, floor = model.geom(v.element).id, model.geom(FLOOR).id
    for field in ("geom_solref", "geom_solimp", "geom_priority"):
        values = getattr(model, field)
        if not np.array_equal(values[g], values[floor]):
            raise RuntimeError(f"{v.element} and the floor differ in {field}; cannot pair them")
    slide, spin, roll = np.maximum(model.geom_friction[g], model.geom_friction[floor])
    contact = root.find("contact")
    if contact is None:
        contact = ET.SubElement(root, "contact")
    ET.SubElement(
        contact,
        "pair",
        name=PAIR_NAME,
        geom1=v.element,
        geom2=FLOOR,
        condim=str(int(max(model.geom_condim[g], model.geom_condim[floor]))),
        friction=_fmt(v.factor * np.array([slide, slide, spin, roll, roll])),
        solref=_fmt(model.geom_solref[g]),
        solimp=_fmt(model.geom_solimp[g]),
        margin=_fmt(max(model.geom_margin[g], model.geom_margin[floor])),
        gap=_fmt(max(model.geom_gap[g], model.geom_gap[floor])),
    )


def _rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``vec`` rotated by a MuJoCo quaternion (wxyz)."""
    out = np.zeros(3)
    mujoco.mju_rotVecQuat(out, np.asarray(vec, dtype=float), np.asarray(quat, dtype=float))
    return out


def _attachment(model: mujoco.MjModel, body: int) -> np.ndarray:
    """Where ``body`` hangs from its parent, in the parent's frame: its first joint's anchor."""
    offset = model.jnt_pos[model.body_jntadr[body]] if model.body_jntnum[body] else np.zeros(3)
    return model.body_pos[body] + _rotate(model.body_quat[body], offset)


def limb_axis(model: mujoco.MjModel, geom: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Anchor and axis of a capsule limb, in its body's frame.

    Returns:
        ``(anchor (3,), unit axis (3,), s_lo, s_hi)``: the capsule's segment is
        ``anchor + s u`` for ``s`` in ``[s_lo, s_hi]`` (``s_lo <= 0 <= s_hi``).
    """
    if model.geom_type[geom] != mujoco.mjtGeom.mjGEOM_CAPSULE:
        raise ValueError(f"length variants need a capsule; geom {model.geom(geom).name} is not")
    body = model.geom_bodyid[geom]
    centre, half = model.geom_pos[geom], float(model.geom_size[geom][1])
    axis = _rotate(model.geom_quat[geom], np.array([0.0, 0.0, 1.0]))
    axis[np.abs(axis) < 1e-12] = 0.0  # rotation round-off: keep planar limbs exactly planar
    if model.body_parentid[body] != 0 and model.body_jntnum[body]:
        point = model.jnt_pos[model.body_jntadr[body]]
    else:  # the root: the mean of the points its children hang from
        children = [b for b in range(model.nbody) if b != body and model.body_parentid[b] == body]
        point = np.mean([_attachment(model, c) for c in children], axis=0) if children else centre
    s = float(np.clip(np.dot(point - centre, axis), -half, half))
    anchor = centre + s * axis
    return anchor, axis, -half - s, half - s


def _apply_length(root: ET.Element, v: Variant) -> None:
    model = base_model(v.robot.key)
    g = model.geom(v.element).id
    body = model.geom_bodyid[g]
    anchor, axis, s_lo, s_hi = limb_axis(model, g)

    def moved(point: np.ndarray) -> np.ndarray:
        s = float(np.clip(np.dot(point - anchor, axis), s_lo, s_hi))
        return point + (v.factor - 1.0) * s * axis

    for other in range(model.ngeom):
        if model.geom_bodyid[other] != body:
            continue
        element = _find(root, "geom", model.geom(other).name)
        if "fromto" in element.attrib:
            ends = np.array([float(x) for x in element.get("fromto").split()]).reshape(2, 3)
            scale = v.factor if other == g else 1.0
            shift = 0.0 if other == g else moved(model.geom_pos[other]) - model.geom_pos[other]
            new = [anchor + scale * (e - anchor) + shift for e in ends]
            element.set("fromto", _fmt(np.concatenate(new)))
        elif other == g:
            element.set("pos", _fmt(anchor + v.factor * (model.geom_pos[g] - anchor)))
            size = model.geom_size[g]
            element.set("size", _fmt([size[0], size[1] * v.factor]))
        else:
            element.set("pos", _fmt(moved(model.geom_pos[other])))
    for child in range(model.nbody):
        if child != body and model.body_parentid[child] == body:
            attach = _attachment(model, child)
            shift = moved(attach) - attach
            _find(root, "body", model.body(child).name).set(
                "pos", _fmt(model.body_pos[child] + shift)
            )
    _keep_ground_clearance(root, v.robot.key)


def lowest_point(model: mujoco.MjModel) -> float:
    """Height of the robot's lowest surface point at ``qpos0`` (geoms of the world excluded)."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    low = np.inf
    for g in range(model.ngeom):
        if model.geom_bodyid[g] == 0:
            continue
        z_axis = data.geom_xmat[g].reshape(3, 3)[2, 2]
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
            extent = abs(z_axis) * model.geom_size[g][1] + model.geom_size[g][0]
        else:
            extent = model.geom_rbound[g]
        low = min(low, float(data.geom_xpos[g][2] - extent))
    return low


def _keep_ground_clearance(root: ET.Element, robot: str) -> None:
    model = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
    shift = lowest_point(base_model(robot)) - lowest_point(model)
    if abs(shift) < 1e-12:
        return
    torso = root.find("worldbody/body")
    pos = np.array([float(x) for x in torso.get("pos", "0 0 0").split()])
    torso.set("pos", _fmt(pos + np.array([0.0, 0.0, shift])))
    for joint in torso.findall("joint"):
        axis = np.array([float(x) for x in joint.get("axis", "0 0 1").split()])
        if joint.get("type") == "slide" and np.allclose(axis, [0, 0, 1]) and "ref" in joint.attrib:
            joint.set("ref", _fmt(float(joint.get("ref")) + shift))


_APPLY = {
    "mass": _apply_mass,
    "joint": _apply_joint,
    "length": _apply_length,
    "friction": _apply_friction,
}


@functools.cache
def variant_xml(name: str) -> str:
    """The MJCF text of a variant (generated once per process).

    Raises:
        ValueError: malformed name or unknown part (see :func:`~.grid.parse_variant`).
    """
    v = parse_variant(name)
    root = ET.fromstring(base_xml(v.robot.key))
    _APPLY[v.category](root, v)
    source = f"gymnasium/envs/mujoco/assets/{v.robot.xml}"
    root.insert(0, ET.Comment(f" iMuJoCo variant {name}: {v.describe()}; from {source} "))
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def compile_variant(name: str) -> mujoco.MjModel:
    """A fresh compiled model of a variant."""
    return mujoco.MjModel.from_xml_string(variant_xml(name))


def cache_dir() -> Path:
    """Where generated XMLs are written: ``$IMITENVS_CACHE/imujoco``.

    ``IMITENVS_CACHE`` defaults to ``$XDG_CACHE_HOME/imitenvs`` or ``~/.cache/imitenvs``.
    """
    root = os.environ.get("IMITENVS_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "imitenvs") if xdg else str(Path.home() / ".cache" / "imitenvs")
    return Path(root).expanduser() / "imujoco"


def variant_xml_path(name: str, directory: Path | None = None) -> Path:
    """Path of the variant's XML in the cache, written (atomically) if it is not there yet.

    The file name carries a hash of the content, ``<variant>-<sha256[:12]>.xml``, so a file
    written by another version of the generator is never reused.
    """
    text = variant_xml(name)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = (directory or cache_dir()) / f"{name}-{digest}.xml"
    if not path.is_file():
        with atomic_writer(path, text=True) as out:
            out.write(text)
        logger.info("wrote %s", path)
    return path
