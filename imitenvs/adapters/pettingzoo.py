"""A PettingZoo ``ParallelEnv`` as one SB3 ``VecEnv`` for parameter sharing (through SuperSuit).

SuperSuit's ``pettingzoo_env_to_vec_env_v1`` turns a parallel env with ``n`` agents into an
``n``-env vector env (one slot per agent), and ``concat_vec_envs_v1`` stacks copies of it; one
SB3 policy trained on the result acts for every agent (parameter sharing). SuperSuit 3.11's SB3
wrapper calls ``seed()`` on its ``ConcatVecEnv``, which has none (so ``PPO(..., seed=0)`` fails);
:class:`SharedPolicyVecEnv` seeds through ``reset(seed=...)`` instead. Needs the ``pettingzoo``
extra (pettingzoo, supersuit) and ``sb3``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv
from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper


class SharedPolicyVecEnv(SB3VecEnvWrapper):
    """SuperSuit's SB3 wrapper whose ``seed(s)`` applies at the next ``reset`` (copy ``i``
    gets ``s + i``), as SB3's own vector envs do."""

    def __init__(self, venv: Any) -> None:
        super().__init__(venv)
        self._next_seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._next_seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self, seed: int | None = None, options: dict | None = None) -> np.ndarray:
        seed = self._next_seed if seed is None else seed
        self._next_seed = None
        observations, self.reset_infos = self.venv.reset(seed=seed, options=options)
        return observations


def shared_policy_vec_env(env_fn: Callable[[], ParallelEnv], copies: int = 1) -> SharedPolicyVecEnv:
    """``copies`` parallel envs from ``env_fn`` as one SB3 VecEnv of ``copies * n_agents`` slots.

    All agents must share one observation and one action space. Observations are
    ``(copies * n_agents, *obs_shape)``; slot ``k * n_agents + i`` is agent ``i`` of copy ``k``.
    """
    import supersuit

    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    vec = supersuit.pettingzoo_env_to_vec_env_v1(env_fn())
    vec = supersuit.concat_vec_envs_v1(vec, copies, num_cpus=0, base_class="gymnasium")
    return SharedPolicyVecEnv(vec)
