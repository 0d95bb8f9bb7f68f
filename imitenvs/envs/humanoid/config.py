"""Typed, validated configuration of the humanoid tasks (one dataclass per task).

Every field is a constructor kwarg of the task (``gymnasium.make(id, termination_height=0.4)``);
:meth:`HumanoidConfig.from_kwargs` builds the config and rejects unknown names with the list of
known ones. Values are checked in ``__post_init__`` (``ValueError`` naming the bad value).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from imitenvs.core.checks import check_choice, check_positive_int
from imitenvs.envs.humanoid.control import ACTION_OFFSETS

STATE_INITS: tuple[str, ...] = ("Default", "Start", "Random", "Hybrid", "WeightedRandom")
TASK_REWARDS: tuple[str, ...] = ("time", "dist", "height")


def _check_finite(
    name: str, value: Any, *, positive: bool = False, low: float | None = None
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and low is not None:
        ok = value >= low
    if not ok:
        bound = " > 0" if positive else (f" >= {low}" if low is not None else "")
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")


@dataclass(frozen=True)
class HumanoidConfig:
    """Options shared by every humanoid task."""

    motion_file: str | Path = "default.yaml"
    """A motion clip (``.npz``, AMP ``.npy``, MimicKit ``.pkl``, DeepMimic ``.txt``) or a YAML
    dataset; a bare name is looked up in the working directory, then in the shipped
    ``assets/motions`` (``walk.yaml``, ``run.yaml``, ``default.yaml``, ...)."""
    state_init: str = "Random"
    """How worlds start: ``Default`` (the MJCF ``stand`` keyframe), ``Start`` (clip time 0),
    ``Random`` (uniform clip time), ``Hybrid`` (``Random`` with probability
    ``hybrid_init_prob``, else ``Default``) or ``WeightedRandom`` (clip phase ~ Beta(1, 3))."""
    hybrid_init_prob: float = 0.5
    """Probability of a reference start under ``state_init="Hybrid"`` (in [0, 1])."""
    enable_early_termination: bool = True
    """End an episode (``terminated``) when the character falls."""
    termination_height: float = 0.5
    """Fall test: a non-foot body touches the ground and a non-foot body origin is below this
    height (metres), from the second control step on (IsaacGymEnvs ``compute_humanoid_reset``)."""
    ground_contact_margin: float = 0.01
    """A geom whose lowest point is closer to the floor than this (metres) touches the ground."""
    max_episode_steps: int = 300
    """Time limit per world, in 30 Hz control steps (``truncated``)."""
    action_offset: str = "default_pose"
    """The PD target of action 0: ``default_pose`` (the ``stand`` keyframe: a zero action holds
    the character upright) or ``joint_range`` (IsaacGymEnvs: the centre of each joint's target
    range; a zero action bends elbows and knees 80 degrees). The action scales are IsaacGymEnvs'
    either way (:mod:`imitenvs.envs.humanoid.control`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "motion_file", str(self.motion_file))
        check_choice("action_offset", self.action_offset, ACTION_OFFSETS)
        check_choice("state_init", self.state_init, STATE_INITS)
        _check_finite("hybrid_init_prob", self.hybrid_init_prob, low=0.0)
        if self.hybrid_init_prob > 1.0:
            raise ValueError(f"hybrid_init_prob must be in [0, 1], got {self.hybrid_init_prob}")
        if not isinstance(self.enable_early_termination, bool):
            raise ValueError(
                f"enable_early_termination must be a bool, got {self.enable_early_termination!r}"
            )
        _check_finite("termination_height", self.termination_height, low=0.0)
        _check_finite("ground_contact_margin", self.ground_contact_margin, low=0.0)
        check_positive_int("max_episode_steps", self.max_episode_steps)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> Self:
        """The config from constructor kwargs.

        Raises:
            TypeError: a name that is not a field (the message lists the fields).
            ValueError: a bad value.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(
                f"unknown option(s) {unknown} for {cls.__name__}; options: {', '.join(names)}"
            )
        return cls(**kwargs)


@dataclass(frozen=True)
class AmpConfig(HumanoidConfig):
    """HumanoidAMP (IsaacGymEnvs ``HumanoidAMP.yaml``) with NEAR's task-reward terms."""

    motion_file: str | Path = "run.yaml"
    """As :class:`HumanoidConfig`; IsaacGymEnvs trains on its run clip by default."""
    task_reward: tuple[str, ...] = ("time",)
    """Task reward terms, averaged with equal weight (NEAR ``_compute_reward``): ``time``
    (1 per step), ``dist`` (``clip(dx_pelvis, 0, 0.5) / 0.5``, forward progress along +x per
    control step), ``height`` (``clip(z_pelvis, 0, 2.5) / 2.5``)."""
    task_reward_weight: float = 1.0
    """Scale of the whole task reward (the style reward is the agent's business)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        terms = (self.task_reward,) if isinstance(self.task_reward, str) else self.task_reward
        terms = tuple(terms)
        if not terms or len(set(terms)) != len(terms):
            raise ValueError(f"task_reward must name distinct terms, got {self.task_reward!r}")
        for term in terms:
            check_choice("task_reward term", term, TASK_REWARDS)
        object.__setattr__(self, "task_reward", terms)
        _check_finite("task_reward_weight", self.task_reward_weight, low=0.0)


@dataclass(frozen=True)
class NearConfig(AmpConfig):
    """HumanoidNEAR (NEAR ``cfg/task/HumanoidNEAR.yaml``): walk data, lower fall height."""

    motion_file: str | Path = "walk.yaml"
    """NEAR trains on its walk dataset by default."""
    termination_height: float = 0.3
    """NEAR lowers the fall height to 0.3 m."""
    task_reward: tuple[str, ...] = ("time", "dist")
    """NEAR's choice for walking clips (``_infer_task_reward_type``)."""


@dataclass(frozen=True)
class ImitateConfig(HumanoidConfig):
    """DeepMimic tracking reward (``SceneImitate::CalcRewardImitate``): weights and scales."""

    motion_file: str | Path = "walk.yaml"
    """The clip(s) to track; each episode tracks one clip drawn by weight."""
    termination_height: float = 0.3
    """Fall height (MimicKit's ground-contact height for the Isaac Gym engine)."""
    pose_weight: float = 0.5
    """Weight of ``exp(-pose_scale * pose_err)``."""
    velocity_weight: float = 0.05
    """Weight of ``exp(-velocity_scale * vel_err)``."""
    end_effector_weight: float = 0.15
    """Weight of ``exp(-end_effector_scale * end_eff_err)``."""
    root_weight: float = 0.2
    """Weight of ``exp(-root_scale * root_err)``."""
    com_weight: float = 0.1
    """Weight of ``exp(-com_scale * com_err)``."""
    pose_scale: float = 2.0
    """DeepMimic ``2 / 15 * num_joints`` (15 bodies)."""
    velocity_scale: float = 0.1
    """DeepMimic ``0.1 / 15 * num_joints``."""
    end_effector_scale: float = 10.0
    """DeepMimic end-effector scale."""
    root_scale: float = 5.0
    """DeepMimic root scale."""
    com_scale: float = 10.0
    """DeepMimic centre-of-mass scale."""
    reference_obs_steps: tuple[int, ...] = ()
    """Also observe the reference ``k`` control steps ahead for each ``k`` here (MimicKit's
    ``tar_obs_steps``: 1, 2, 3): per step the reference's 105-d character observation, its root
    position relative to the character's in the character's heading frame (3) and the cosine
    and sine of its heading relative to the character's (2). ``()``: the phase only."""
    pose_termination_distance: float = 0.0
    """End the episode (terminated) when the root or a hand or foot is farther than this from
    the reference, in metres (MimicKit's ``pose_termination_dist``: 1.0); 0 turns it off."""
    add_obs: bool = False
    """Also return ``info["add_obs"]`` ``(N, 214)`` for ADD (adversarial differential
    discriminator): ``[x_sim, x_ref]``, each the 105-d character observation followed by the
    root's world x and y (107), of the simulated character after the step and of the
    reference at the same time (MimicKit ``add_env`` ``disc_obs`` / ``disc_obs_demo``).
    ``False``: no extra info."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_finite("pose_termination_distance", self.pose_termination_distance, low=0.0)
        if not isinstance(self.add_obs, bool):
            raise ValueError(f"add_obs must be a bool, got {self.add_obs!r}")
        steps = self.reference_obs_steps
        if isinstance(steps, int) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in steps
        ):
            raise ValueError(f"reference_obs_steps must be a tuple of positive ints, got {steps!r}")
        object.__setattr__(self, "reference_obs_steps", tuple(steps))
        for name in self.weight_names():
            _check_finite(name, getattr(self, name), low=0.0)
        if sum(getattr(self, n) for n in self.weight_names()) <= 0:
            raise ValueError("at least one of the imitation reward weights must be > 0")
        for name in self.weight_names():
            scale = name.replace("_weight", "_scale")
            _check_finite(scale, getattr(self, scale), low=0.0)

    @staticmethod
    def weight_names() -> tuple[str, ...]:
        return (
            "pose_weight",
            "velocity_weight",
            "end_effector_weight",
            "root_weight",
            "com_weight",
        )

    def normalised_weights(self) -> dict[str, float]:
        """``{term: weight / sum of weights}`` (DeepMimic normalises them)."""
        total = sum(getattr(self, n) for n in self.weight_names())
        return {n.removesuffix("_weight"): getattr(self, n) / total for n in self.weight_names()}
