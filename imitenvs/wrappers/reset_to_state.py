"""Reset a single gymnasium MuJoCo env to a given state, or sometimes to a state from a dataset.

Deep RLSP starts its rollouts from observed states (the original's ``initialize_mujoco_from_obs``
and the ``init_prob`` of its ``LatentSpaceRewardWrapper``); :class:`ResetToState` does both for
any single env whose ``env.unwrapped`` is a gymnasium ``MujocoEnv`` and whose observation is
``qpos[skipped:] ++ qvel``, optionally followed by a time feature (the Deep RLSP envs of
:mod:`imitenvs.envs.deep_rlsp.locomotion`).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np

from imitenvs.core.checks import as_numpy

if TYPE_CHECKING:
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

#: ``reset`` option keys this wrapper consumes (the others go on to the env).
OPTION_KEYS = ("qpos", "qvel", "observation")
#: Tolerance of the check that the env observes the requested observation again.
OBS_ATOL = 1e-6


@dataclass(frozen=True)
class ObservationLayout:
    """How a MuJoCo env's flat observation maps to its state.

    The observation is ``qpos[skipped_qpos:] ++ qvel ++ time feature (time_dims entries)``;
    the ``skipped_qpos`` leading qpos entries (root x for HalfCheetah and Hopper, none for
    InvertedPendulum) are not observed and are set to 0 when a state is built from an
    observation.
    """

    nq: int
    nv: int
    skipped_qpos: int
    time_dims: int

    @property
    def physics_dim(self) -> int:
        """Observation entries that come from qpos and qvel."""
        return self.nq - self.skipped_qpos + self.nv

    @property
    def obs_dim(self) -> int:
        """Length of the env's observation."""
        return self.physics_dim + self.time_dims


def observation_layout(env: gymnasium.Env) -> ObservationLayout:
    """The :class:`ObservationLayout` of a single gymnasium MuJoCo env (wrapped or not).

    The number of skipped qpos entries is ``nq + nv - (obs_dim - time_dims)``, where
    ``time_dims`` is ``observation_structure["time_feature"]`` (0 if absent). Where the env
    has gymnasium v5's ``observation_structure``, it must agree and name no other parts.

    Raises:
        ValueError: not a single env, not a MuJoCo env, an observation wrapper in between, or
            an observation that is not ``qpos[k:] ++ qvel (++ time feature)``.
    """
    if not isinstance(env, gymnasium.Env) or isinstance(env.unwrapped, gymnasium.vector.VectorEnv):
        raise ValueError(f"ResetToState needs a single (non-batched) gymnasium.Env, got {env!r}")
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv  # imports mujoco: only when used

    base = env.unwrapped
    if not isinstance(base, MujocoEnv):
        raise ValueError(
            f"ResetToState needs a gymnasium MuJoCo env (env.unwrapped a MujocoEnv), got "
            f"{type(base).__name__} ({env!r})"
        )
    _check_no_observation_wrapper(env)
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"ResetToState needs a flat Box observation space, got {space}")
    nq, nv = int(base.model.nq), int(base.model.nv)
    structure = dict(getattr(base, "observation_structure", {}) or {})
    time_dims = int(structure.get("time_feature", 0))
    skipped = nq + nv - (space.shape[0] - time_dims)
    if not 0 <= skipped <= nq:
        raise ValueError(
            f"{type(base).__name__}'s observation has {space.shape[0]} entries, which is not "
            f"qpos[k:] ++ qvel for nq={nq}, nv={nv} (plus {time_dims} time entries)"
        )
    expected = {"skipped_qpos": skipped, "qpos": nq - skipped, "qvel": nv, "time_feature": 1}
    extra = {k: v for k, v in structure.items() if v and expected.get(k, v + 1) != v}
    if extra:
        raise ValueError(
            f"{type(base).__name__}'s observation_structure {structure} has parts other than "
            f"qpos[{skipped}:], qvel and a time feature: {extra}"
        )
    return ObservationLayout(nq=nq, nv=nv, skipped_qpos=skipped, time_dims=time_dims)


def _check_no_observation_wrapper(env: gymnasium.Env) -> None:
    layer: Any = env
    while isinstance(layer, gymnasium.Wrapper):
        if isinstance(layer, gymnasium.ObservationWrapper) or (
            layer.observation_space != layer.env.observation_space
        ):
            raise ValueError(
                f"ResetToState cannot recompute the observation through {type(layer).__name__}, "
                "which changes it; put ResetToState below observation wrappers"
            )
        layer = layer.env


def finite_array(name: str, value: Any, shapes: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``value`` as a finite float64 array whose shape is one of ``shapes`` (-1: any length).

    Raises:
        ValueError: not numbers, another shape, or NaN/inf (the message names ``name``).
    """
    try:
        arr = as_numpy(value).astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}={value!r} is not an array of numbers") from e
    if not any(_shape_matches(arr.shape, s) for s in shapes):
        allowed = " or ".join(str(s).replace("-1", "n") for s in shapes)
        raise ValueError(f"{name} has shape {arr.shape}, expected {allowed}")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[:5].tolist()
        raise ValueError(f"{name} contains NaN or inf at indices {where}; states must be finite")
    return arr


def _shape_matches(shape: tuple[int, ...], pattern: tuple[int, ...]) -> bool:
    return len(shape) == len(pattern) and all(
        p in (-1, s) for s, p in zip(shape, pattern, strict=False)
    )


@dataclass(frozen=True)
class _Target:
    """A state to reset to, ``qpos (nq,)`` and ``qvel (nv,)``, and where it came from."""

    qpos: np.ndarray
    qvel: np.ndarray
    source: str  # "qpos", "observation" or "states"
    label: str  # for messages: "options['observation']", "states[3]", ...
    observed: np.ndarray | None = None  # the physics part of a requested observation
    index: int | None = None  # the dataset row


class ResetToState(gymnasium.Wrapper):
    """Reset a single MuJoCo env to a given state, or by chance to a state from a dataset.

    * ``reset(options={"qpos": (nq,), "qvel": (nv,)})`` starts from that exact state.
    * ``reset(options={"observation": obs})`` starts from the state an observation describes.
      ``obs`` is ``(obs_dim,)`` (a time feature, if the env has one, is ignored) or
      ``(obs_dim - time_dims,)``; the qpos entries it omits (root x) are set to 0, as the
      original's ``initialize_mujoco_from_obs`` does.
    * a plain ``reset()`` starts from a uniformly drawn row of ``states`` with probability
      ``init_prob``, else it is the env's ordinary reset. The coin and the row are drawn from
      the env's ``np_random`` after the env's own reset, so ``reset(seed=s)`` is deterministic;
      with ``init_prob = 0`` nothing is drawn, and the wrapper only adds ``info["reset_to"]``.

    Every reset first runs the env's ordinary reset (so ``TimeLimit``, the time feature and the
    call order restart), then sets the state and returns the env's own observation of it; the
    time feature is then 1. ``info["reset_to"]`` says which start was used (``"default"``,
    ``"qpos"``, ``"observation"`` or ``"states"``, then also ``info["reset_state_index"]``).
    Other option keys go on to the env.

    Args:
        env: A single gymnasium MuJoCo env (``env.unwrapped`` a ``MujocoEnv``) whose
            observation is ``qpos[k:] ++ qvel`` plus an optional time feature, with no
            observation wrapper between it and this wrapper (:func:`observation_layout`).
        states: ``None``, observations ``(n, obs_dim)`` or ``(n, obs_dim - time_dims)``, or a
            mapping ``{"qpos": (n, nq), "qvel": (n, nv)}``.
        init_prob: Probability in [0, 1] that a plain ``reset()`` starts from ``states``.

    Raises:
        ValueError: a bad env (see :func:`observation_layout`), ``states`` of the wrong shape
            or not finite, ``init_prob`` outside [0, 1], or ``init_prob > 0`` without states.
    """

    def __init__(
        self,
        env: gymnasium.Env,
        states: np.ndarray | Mapping[str, np.ndarray] | None = None,
        init_prob: float = 0.0,
    ) -> None:
        self.layout = observation_layout(env)
        super().__init__(env)
        self._qpos, self._qvel, self._observed = self._dataset(states)
        self.init_prob = init_prob

    @property
    def init_prob(self) -> float:
        """Probability that a plain ``reset()`` starts from a dataset state (settable)."""
        return self._init_prob

    @init_prob.setter
    def init_prob(self, value: float) -> None:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok or not 0.0 <= value <= 1.0:
            raise ValueError(f"init_prob must be a number in [0, 1], got {value!r}")
        if value > 0 and self._qpos is None:
            raise ValueError(f"init_prob={value!r} needs states to draw from; pass states=...")
        self._init_prob = float(value)

    @property
    def num_states(self) -> int:
        """Rows of the dataset (0 without one)."""
        return 0 if self._qpos is None else len(self._qpos)

    def state_from_observation(
        self, obs: Any, name: str = "observation"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(qpos (nq,), qvel (nv,))`` of an observation ``(obs_dim,)`` or ``(physics_dim,)``.

        The omitted leading qpos entries are 0 and a time feature is dropped.

        Raises:
            ValueError: wrong shape or not finite (the message names ``name``).
        """
        lay = self.layout
        arr = finite_array(name, obs, ((lay.obs_dim,), (lay.physics_dim,)))
        qpos, qvel = self._split(arr[None, : lay.physics_dim])
        return qpos[0], qvel[0]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options) if options else {}
        target = self._requested(options)
        obs, info = self.env.reset(seed=seed, options=options or None)
        info = dict(info)
        if target is None:
            target = self._draw()
        if target is None:
            info["reset_to"] = "default"
            return obs, info
        return self._start_from(target, info)

    # ---- internals -------------------------------------------------------------------------
    def _split(self, physics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, physics_dim)`` observations -> ``qpos (n, nq)`` (omitted entries 0), ``qvel``."""
        lay = self.layout
        observed_q = lay.nq - lay.skipped_qpos
        qpos = np.zeros((len(physics), lay.nq))
        qpos[:, lay.skipped_qpos :] = physics[:, :observed_q]
        return qpos, physics[:, observed_q:].copy()

    def _dataset(
        self, states: Any
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``states`` as ``qpos (n, nq)``, ``qvel (n, nv)`` and the observed parts (or None)."""
        if states is None:
            return None, None, None
        lay = self.layout
        if isinstance(states, Mapping):
            if set(states) != {"qpos", "qvel"}:
                raise ValueError(f"states must have the keys 'qpos' and 'qvel', got {list(states)}")
            qpos = finite_array("states['qpos']", states["qpos"], ((-1, lay.nq),))
            qvel = finite_array("states['qvel']", states["qvel"], ((len(qpos), lay.nv),))
            observed = None
        else:
            shapes = ((-1, lay.obs_dim), (-1, lay.physics_dim))
            observed = finite_array("states", states, shapes)[:, : lay.physics_dim]
            qpos, qvel = self._split(observed)
        if len(qpos) == 0:
            raise ValueError("states must hold at least one state")
        return qpos, qvel, observed

    def _requested(self, options: dict[str, Any]) -> _Target | None:
        """The state named by ``options`` (whose keys of ours are removed), checked."""
        given = {k: options.pop(k) for k in OPTION_KEYS if k in options}
        if not given:
            return None
        if "observation" in given:
            if len(given) > 1:
                others = sorted(set(given) - {"observation"})
                raise ValueError(
                    f"reset options give both 'observation' and {others}; give either an "
                    "observation or qpos and qvel"
                )
            label = "options['observation']"
            qpos, qvel = self.state_from_observation(given["observation"], label)
            observed = np.concatenate([qpos[self.layout.skipped_qpos :], qvel])
            return _Target(qpos, qvel, "observation", label, observed)
        if set(given) != {"qpos", "qvel"}:
            raise ValueError(f"reset options need both 'qpos' and 'qvel', got only {list(given)}")
        qpos = finite_array("options['qpos']", given["qpos"], ((self.layout.nq,),))
        qvel = finite_array("options['qvel']", given["qvel"], ((self.layout.nv,),))
        return _Target(qpos, qvel, "qpos", "options['qpos']")

    def _draw(self) -> _Target | None:
        """With probability ``init_prob``, a uniformly drawn dataset state."""
        if self._qpos is None or self._qvel is None or self._init_prob <= 0.0:
            return None
        rng = self.env.unwrapped.np_random
        if rng.random() >= self._init_prob:
            return None
        i = int(rng.integers(len(self._qpos)))
        observed = None if self._observed is None else self._observed[i]
        return _Target(self._qpos[i], self._qvel[i], "states", f"states[{i}]", observed, i)

    def _start_from(
        self, target: _Target, info: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Set the state, observe it and check that a requested observation round-trips."""
        base: MujocoEnv = self.env.unwrapped  # type: ignore[assignment]
        base.set_state(target.qpos, target.qvel)
        obs = base._get_obs()  # the env's own observation (every gymnasium MuJoCo env has it)
        info.update(base._get_reset_info())
        info["reset_to"] = target.source
        if target.index is not None:
            info["reset_state_index"] = target.index
        if target.observed is not None:
            got = np.asarray(obs[: self.layout.physics_dim], dtype=np.float64)
            diff = np.abs(got - target.observed)
            if not np.all(diff <= OBS_ATOL):
                i = int(np.argmax(diff))
                raise ValueError(
                    f"{target.label} cannot be reproduced: after resetting to it, "
                    f"{type(base).__name__} observes {got[i]!r} at index {i} instead of "
                    f"{target.observed[i]!r} (a value the env clips, or another layout?)"
                )
        return obs, info
