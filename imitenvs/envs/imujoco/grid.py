"""iMuJoCo variant names: the grammar, the robots' parts and the registered grid of 154.

This module is deliberately light (standard library only): the registry imports it to list the
ids without importing MuJoCo.

A variant name is its own specification, in the original iMuJoCo grammar::

    <robot>-<category><direction>_<percent>_<part>
    hopper-massdec_25_leggeom          leg_geom's mass x 0.75
    halfcheetah-jointdec_25_bfoot      bfoot joint's range of motion x 0.75

``robot`` is ``hopper``, ``halfcheetah`` or ``walker2d``; ``category`` is ``mass``, ``joint``,
``length`` or ``friction``; ``direction`` is ``inc`` or ``dec``; ``percent`` is a positive
integer without leading zeros (below 100 for ``dec``); ``part`` is the name of a MuJoCo
element of the robot's model with the underscores removed: a geom for ``mass``, ``length`` and
``friction``, a joint for ``joint``. The factor applied is ``1 + percent/100`` (``inc``) or
``1 - percent/100`` (``dec``). What each category changes is in :mod:`imitenvs.envs.imujoco.mjcf`
and ``docs/imujoco.md``.

The original release (Zenodo record 7971395) publishes the counts (37 Hopper, 53 HalfCheetah,
64 Walker2d variants) and six names, but not its full list; :data:`REGISTERED_VARIANTS` is our
grid with those counts, built from :data:`GRID` and containing every published name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CATEGORIES: tuple[str, ...] = ("mass", "joint", "length", "friction")
DIRECTIONS: tuple[str, ...] = ("inc", "dec")
MAX_PERCENT = 1000
TRAJECTORY_STEPS = 1000  # rows per trajectory in the original data; also the episode length


@dataclass(frozen=True)
class Robot:
    """One base robot of iMuJoCo.

    Attributes:
        key: Name used in variant names (``"hopper"``).
        gym_id: The gymnasium env the variants are built on (``"Hopper-v5"``).
        v3_id: The gym id the original data was made with (``"Hopper-v3"``).
        xml: gymnasium's bundled model file the variants are generated from.
        obs_dim: Observation size (equal in v3 and v5).
        act_dim: Action size.
        geoms: The robot's geoms (targets of mass, length and friction), in model order.
        joints: The robot's actuated hinge joints (targets of joint), in model order.
    """

    key: str
    gym_id: str
    v3_id: str
    xml: str
    obs_dim: int
    act_dim: int
    geoms: tuple[str, ...]
    joints: tuple[str, ...]

    def elements(self, category: str) -> tuple[str, ...]:
        """MuJoCo element names a category can target."""
        return self.joints if category == "joint" else self.geoms


ROBOTS: dict[str, Robot] = {
    "hopper": Robot(
        key="hopper",
        gym_id="Hopper-v5",
        v3_id="Hopper-v3",
        xml="hopper.xml",
        obs_dim=11,
        act_dim=3,
        geoms=("torso_geom", "thigh_geom", "leg_geom", "foot_geom"),
        joints=("thigh_joint", "leg_joint", "foot_joint"),
    ),
    "halfcheetah": Robot(
        key="halfcheetah",
        gym_id="HalfCheetah-v5",
        v3_id="HalfCheetah-v3",
        xml="half_cheetah.xml",
        obs_dim=17,
        act_dim=6,
        geoms=("torso", "head", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"),
        joints=("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"),
    ),
    "walker2d": Robot(
        key="walker2d",
        gym_id="Walker2d-v5",
        v3_id="Walker2d-v3",
        # walker2d.xml keeps v3's feet friction (right 0.9, left 1.9); walker2d_v5.xml does not.
        xml="walker2d.xml",
        obs_dim=17,
        act_dim=6,
        geoms=(
            "torso_geom",
            "thigh_geom",
            "leg_geom",
            "foot_geom",
            "thigh_left_geom",
            "leg_left_geom",
            "foot_left_geom",
        ),
        joints=(
            "thigh_joint",
            "leg_joint",
            "foot_joint",
            "thigh_left_joint",
            "leg_left_joint",
            "foot_left_joint",
        ),
    ),
}

_NAME_RE = re.compile(
    r"^(?P<robot>[a-z0-9]+)-(?P<category>mass|joint|length|friction)(?P<direction>inc|dec)"
    r"_(?P<percent>[1-9][0-9]*)_(?P<part>[a-z0-9]+)$"
)
GRAMMAR = "<robot>-<mass|joint|length|friction><inc|dec>_<percent>_<part>"


def part_name(element: str) -> str:
    """The ``<part>`` spelling of a MuJoCo element name (underscores removed)."""
    return element.replace("_", "")


@dataclass(frozen=True)
class Variant:
    """A parsed variant name.

    Attributes:
        name: The canonical name, e.g. ``"hopper-massdec_25_leggeom"``.
        robot: The base robot.
        category: ``"mass"``, ``"joint"``, ``"length"`` or ``"friction"``.
        direction: ``"inc"`` or ``"dec"``.
        percent: The percentage (> 0; < 100 for ``dec``).
        element: The MuJoCo element name the variant changes (``"leg_geom"``).
    """

    name: str
    robot: Robot
    category: str
    direction: str
    percent: int
    element: str

    @property
    def factor(self) -> float:
        """``1 + percent/100`` for ``inc``, ``1 - percent/100`` for ``dec``."""
        sign = 1 if self.direction == "inc" else -1
        return 1.0 + sign * self.percent / 100.0

    @property
    def env_id(self) -> str:
        """The registered gymnasium id, ``imitenvs/iMuJoCo-<name>-v0``."""
        return f"imitenvs/{env_name(self.name)}"

    def describe(self) -> str:
        """One line: robot, what changes and by which factor."""
        what = {
            "mass": "mass of",
            "joint": "range of motion of joint",
            "length": "length of",
            "friction": "floor friction of",
        }[self.category]
        sign = "+" if self.direction == "inc" else "-"
        return (
            f"{self.robot.gym_id.split('-')[0]}: {what} {self.element} "
            f"{sign}{self.percent}% (x{self.factor:g})"
        )


def env_name(variant: str) -> str:
    """Registry name (no namespace) of a variant: ``iMuJoCo-<variant>-v0``."""
    return f"iMuJoCo-{variant}-v0"


def parse_variant(name: str) -> Variant:
    """Parse and validate a variant name.

    Raises:
        ValueError: the name does not follow :data:`GRAMMAR`, names an unknown robot, a
            percentage out of range, or a part the robot does not have (the message lists the
            valid parts for that robot and category).
    """
    match = _NAME_RE.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"malformed iMuJoCo variant name {name!r}; expected {GRAMMAR}, "
            "e.g. 'hopper-massdec_25_leggeom'"
        )
    robot_key = match["robot"]
    if robot_key not in ROBOTS:
        raise ValueError(
            f"unknown robot {robot_key!r} in variant {name!r}; choose one of: {', '.join(ROBOTS)}"
        )
    robot = ROBOTS[robot_key]
    category, direction, percent = match["category"], match["direction"], int(match["percent"])
    limit = 99 if direction == "dec" else MAX_PERCENT
    if percent > limit:
        raise ValueError(
            f"percent {percent} out of range in variant {name!r}: '{direction}' takes 1..{limit}"
        )
    by_part = {part_name(e): e for e in robot.elements(category)}
    if match["part"] not in by_part:
        kind = "joints" if category == "joint" else "geoms"
        raise ValueError(
            f"unknown part {match['part']!r} for {robot_key} {category} variants in {name!r}; "
            f"valid parts ({kind}): {', '.join(by_part)}"
        )
    return Variant(name, robot, category, direction, percent, by_part[match["part"]])


def variant_name(robot: str, category: str, direction: str, percent: int, element: str) -> str:
    """Compose a variant name from its parts (validated by :func:`parse_variant`)."""
    name = f"{robot}-{category}{direction}_{percent}_{part_name(element)}"
    parse_variant(name)
    return name


# --------------------------------------------------------------------------------------------
# The registered grid.
# --------------------------------------------------------------------------------------------

#: Levels (direction, percent) per category. Mass and length: two decreases and one increase
#: (the published names use dec 25 and dec 50); friction: halved and 1.5x (the README's
#: example is -50 %); joint: restrictions only (the README describes the category as limiting
#: mobility), down to a quarter of the range.
LEVELS: dict[str, tuple[tuple[str, int], ...]] = {
    "mass": (("dec", 50), ("dec", 25), ("inc", 50)),
    "length": (("dec", 50), ("dec", 25), ("inc", 50)),
    "friction": (("dec", 50), ("inc", 50)),
    "joint": (("dec", 75), ("dec", 50), ("dec", 25)),
}

#: Targets per robot and category. Mass: every geom. Joint: every actuated joint. Friction:
#: the geoms that touch the floor in normal gaits. Length: every limb of Hopper and Walker2d;
#: for HalfCheetah the torso (the spine, which sets the distance between the hips) only -- see
#: docs/imujoco.md for why the published counts force one irregular choice.
GRID: dict[str, dict[str, tuple[str, ...]]] = {
    "hopper": {
        "mass": ROBOTS["hopper"].geoms,
        "joint": ROBOTS["hopper"].joints,
        "length": ROBOTS["hopper"].geoms,
        "friction": ("leg_geom", "foot_geom"),
    },
    "halfcheetah": {
        "mass": ROBOTS["halfcheetah"].geoms,
        "joint": ROBOTS["halfcheetah"].joints,
        "length": ("torso",),
        "friction": ("bshin", "bfoot", "fshin", "ffoot"),
    },
    "walker2d": {
        "mass": ROBOTS["walker2d"].geoms,
        "joint": ROBOTS["walker2d"].joints,
        "length": ROBOTS["walker2d"].geoms,
        "friction": ("foot_geom", "foot_left_geom"),
    },
}

EXPECTED_COUNTS: dict[str, int] = {"hopper": 37, "halfcheetah": 53, "walker2d": 64}

#: The six names the original README and sampler.py publish.
PUBLISHED_VARIANTS: tuple[str, ...] = (
    "hopper-massdec_25_leggeom",
    "hopper-massdec_50_leggeom",
    "hopper-massdec_25_footgeom",
    "hopper-massdec_50_footgeom",
    "halfcheetah-jointdec_25_bfoot",
    "halfcheetah-jointdec_25_bshin",
)


def _build_grid() -> tuple[str, ...]:
    names = [
        variant_name(robot, category, direction, percent, element)
        for robot, targets in GRID.items()
        for category in CATEGORIES
        for element in targets[category]
        for direction, percent in LEVELS[category]
    ]
    for robot, count in EXPECTED_COUNTS.items():
        have = sum(n.startswith(f"{robot}-") for n in names)
        if have != count:
            raise RuntimeError(f"iMuJoCo grid has {have} {robot} variants, expected {count}")
    return tuple(names)


#: Every registered variant name (154), grouped by robot, then category, part and level.
REGISTERED_VARIANTS: tuple[str, ...] = _build_grid()


def variants_of(robot: str) -> tuple[str, ...]:
    """Registered variant names of one robot.

    Raises:
        ValueError: unknown robot.
    """
    if robot not in ROBOTS:
        raise ValueError(f"unknown robot {robot!r}; choose one of: {', '.join(ROBOTS)}")
    return tuple(n for n in REGISTERED_VARIANTS if n.startswith(f"{robot}-"))


def robot_for_env(env_name_or_id: str) -> Robot:
    """The robot behind a name used by the original code or by us.

    Accepts a robot key (``"hopper"``), a gym id of any version (``"Hopper-v3"``,
    ``"Hopper-v5"``), a variant name or an ``imitenvs/iMuJoCo-...`` id.

    Raises:
        ValueError: none of those; the message lists the accepted base names.
    """
    text = env_name_or_id.removeprefix("imitenvs/").removeprefix("iMuJoCo-")
    if text in ROBOTS:
        return ROBOTS[text]
    base, _, version = text.rpartition("-v")
    for robot in ROBOTS.values():
        if version.isdigit() and base == robot.gym_id.split("-")[0]:
            return robot
    head = text.split("-", 1)[0]
    if head in ROBOTS and "-" in text:
        return parse_variant(text.removesuffix("-v0")).robot
    accepted = [r.v3_id for r in ROBOTS.values()] + list(ROBOTS)
    raise ValueError(
        f"unknown iMuJoCo environment {env_name_or_id!r}; use one of {', '.join(accepted)}, "
        "a variant name or an imitenvs/iMuJoCo-... id"
    )
