"""Reference algorithms for ``imitenvs bench run --algo``: each is
``fn(env_id, seed, env_kwargs=None) -> policy``.

- :func:`random_policy`: uniform random actions (scores about 0 by construction).
- :func:`pretrained_deepmimic_walk`: the shipped DeepMimic walk policy
  (``pretrained:deepmimic_walk``) on the ``humanoid-walk`` suite (about 100); it loads, it
  does not train, so ``seed`` is unused.
- :func:`scripted_expert`: the planar scripted experts (about 100 on ``planar``).
- :func:`bc`: behavioural cloning, a small MLP fitted by mean-squared error to the shipped
  expert demos of the planar tasks (``assets/demos/*_expert.npz``), with our own few lines of
  PyTorch (one CPU thread, a few seconds). Configure it with :class:`BcConfig`.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from imitenvs.bench.evaluation import RandomPolicy

log = logging.getLogger(__name__)

PLANAR_TASKS = {"imitenvs/Maze-v0": "maze", "imitenvs/PushT-v0": "pusht"}


def _action_space(env_id: str, env_kwargs: dict[str, Any] | None) -> gymnasium.Space:
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    space = env.action_space
    env.close()
    return space


def random_policy(env_id: str, seed: int, env_kwargs: dict[str, Any] | None = None) -> RandomPolicy:
    """Uniform random actions in ``env_id``'s action space, seeded with ``seed``."""
    return RandomPolicy(_action_space(env_id, env_kwargs), seed)


def pretrained_policy(
    name: str, env_id: str, env_kwargs: dict[str, Any] | None = None, torch_threads: int = 1
) -> Any:
    """The deterministic (mean) action of the shipped PPO policy ``pretrained:NAME``.

    Raises:
        ValueError: the policy was trained on another env id.
    """
    import torch

    from imitenvs.agents.evaluation import load_policy_with_meta, ppo_policy

    torch.set_num_threads(torch_threads)
    ppo, run, _ = load_policy_with_meta(f"pretrained:{name}")
    if run.env_id != env_id:
        raise ValueError(f"pretrained:{name} was trained on {run.env_id}, not {env_id!r}")
    return ppo_policy(ppo, _action_space(env_id, env_kwargs))


def pretrained_deepmimic_walk(
    env_id: str, seed: int, env_kwargs: dict[str, Any] | None = None
) -> Any:
    """The shipped DeepMimic walk policy (``pretrained:deepmimic_walk``; ``seed`` is unused)."""
    return pretrained_policy("deepmimic_walk", env_id, env_kwargs)


def _planar_task(env_id: str, what: str) -> str:
    if env_id not in PLANAR_TASKS:
        raise ValueError(f"{what} covers only {', '.join(PLANAR_TASKS)}, not {env_id!r}")
    return PLANAR_TASKS[env_id]


def scripted_expert(env_id: str, seed: int) -> Any:
    """The scripted expert of a planar id (deterministic; ``seed`` is unused)."""
    from imitenvs.envs.planar.experts import make_expert

    return make_expert(_planar_task(env_id, "scripted_expert"))


@dataclass(frozen=True)
class BcConfig:
    """Behavioural cloning hyperparameters."""

    hidden: int = 256
    layers: int = 2
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    torch_threads: int = 1


class MlpPolicy:
    """A trained MLP as a policy: normalised observation in, action clipped to the space."""

    def __init__(self, net: Any, obs_mean: np.ndarray, obs_std: np.ndarray, space: Any) -> None:
        self.net = net
        self.obs_mean = obs_mean
        self.obs_std = obs_std
        self.low = space.low
        self.high = space.high
        self.dtype = space.dtype

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        import torch

        x = (np.asarray(obs, dtype=np.float32) - self.obs_mean) / self.obs_std
        with torch.no_grad():
            action = self.net(torch.as_tensor(x[None])).numpy()[0]
        return np.clip(action, self.low, self.high).astype(self.dtype)


def train_bc(env_id: str, seed: int, config: BcConfig = BcConfig()) -> MlpPolicy:
    """Fit an MLP to the shipped expert demos of a planar id by mean-squared error."""
    import torch

    from imitenvs.data.demos import load_default_demos

    torch.set_num_threads(config.torch_threads)
    demos = load_default_demos(_planar_task(env_id, "bc"))
    if demos.actions is None:
        raise ValueError(f"the demos of {env_id} have no actions")
    obs = demos.states.astype(np.float32)
    act = demos.actions.astype(np.float32)
    mean, std = obs.mean(axis=0), obs.std(axis=0) + 1e-6
    torch.manual_seed(seed)
    sizes = [obs.shape[1]] + [config.hidden] * config.layers
    modules: list[torch.nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        modules += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*modules, torch.nn.Linear(sizes[-1], act.shape[1]))
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    x = torch.as_tensor((obs - mean) / std)
    y = torch.as_tensor(act)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        log.info("bc %s seed %d epoch %d loss %.5f", env_id, seed, epoch, float(loss))
    net.eval()
    env = gymnasium.make(env_id)
    space = env.action_space
    env.close()
    return MlpPolicy(net, mean, std, space)


def bc(env_id: str, seed: int) -> MlpPolicy:
    """Behavioural cloning with the default :class:`BcConfig` (planar ids only)."""
    return train_bc(env_id, seed)
