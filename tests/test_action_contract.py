"""One action and call-order contract for every env: clipping, NaN/inf, numpy/torch/list
actions, step before reset / after close, batched seeds, reset masks, the num_envs bound,
devices and ``gymnasium.make(batched_id, num_envs=N, max_episode_steps=K)``."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

import imitenvs
from imitenvs.core import batched as batched_module
from imitenvs.core.batched import (
    MAX_NUM_ENVS,
    BatchedEnv,
    SingleWorldEnv,
    WorldStep,
    check_device,
)
from imitenvs.envs.humanoid import HumanoidAMPEnv

IMUJOCO = [next(i for i in imitenvs.list_envs("imujoco") if r in i) for r in ("hopper", "cheetah")]
IMUJOCO.append(next(i for i in imitenvs.list_envs("imujoco") if "walker" in i))
PLANAR = imitenvs.list_envs("planar")
HUMANOID = imitenvs.list_envs("humanoid")
#: Every gridworld and planar id, one iMuJoCo id per robot, every humanoid id.
IDS = imitenvs.list_envs("gridworld") + PLANAR + IMUJOCO + HUMANOID


class TinyBatch(BatchedEnv):
    """A physics-free batched task: the observation is the step counter; never fails."""

    def __init__(self, num_envs: int = 3, max_episode_steps: int = 4, **kwargs: Any) -> None:
        box = gymnasium.spaces.Box
        super().__init__(
            num_envs,
            box(-np.inf, np.inf, (1,), np.float32),
            box(-1.0, 1.0, (2,), np.float32),
            max_episode_steps,
            **kwargs,
        )
        self.last_action = torch.zeros(num_envs, 2)
        self.draws = torch.zeros(num_envs)

    def _reset_worlds(self, ids: torch.Tensor) -> None:
        self.draws[ids] = torch.rand(len(ids), generator=self.generator)

    def _step_worlds(self, action: torch.Tensor) -> WorldStep:
        self.last_action = action
        zeros = torch.zeros(self.num_envs, dtype=torch.bool)
        return WorldStep({"one": torch.ones(self.num_envs)}, terminated=zeros)

    def _observe(self) -> torch.Tensor:
        return self.episode_steps[:, None].float()


def _make(env_id: str) -> gymnasium.Env:
    return gymnasium.make(env_id, disable_env_checker=True)


def _as_kind(action: Any, kind: str) -> Any:
    if kind == "torch":
        return torch.as_tensor(action)
    return np.asarray(action).tolist()


# ---- actions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", PLANAR)
def test_planar_actions_are_clipped(env_id: str) -> None:
    wild, clipped = _make(env_id), _make(env_id)
    wild.reset(seed=3)
    clipped.reset(seed=3)
    for action in ([5.0, -7.0], [-2.0, 0.3], [1.5, 1.5]):
        a = wild.step(np.array(action))
        b = clipped.step(np.clip(action, -1.0, 1.0))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]
        assert wild.observation_space.contains(a[0])


@pytest.mark.parametrize("env_id", IMUJOCO + PLANAR)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_actions_raise_naming_the_value(env_id: str, bad: float) -> None:
    env = _make(env_id)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, np.float32)
    action[-1] = bad
    with pytest.raises(ValueError, match=r"contains NaN or inf") as err:
        env.step(action)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("kind", ["torch", "list"])
def test_torch_and_list_actions_act_like_numpy(env_id: str, kind: str) -> None:
    ref, other = _make(env_id), _make(env_id)
    ref.action_space.seed(0)
    actions = [ref.action_space.sample() for _ in range(3)]
    for env, convert in ((ref, np.asarray), (other, lambda a: _as_kind(a, kind))):
        env.reset(seed=5)
        env.out = [env.step(convert(a))[0] for a in actions]  # type: ignore[attr-defined]
    for x, y in zip(ref.out, other.out, strict=True):  # type: ignore[attr-defined]
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", ["torch", "list"])
def test_batched_torch_and_list_actions(kind: str) -> None:
    env = TinyBatch(2)
    env.reset(seed=0)
    env.step(_as_kind([[0.5, 3.0], [-4.0, 0.25]], kind))
    np.testing.assert_array_equal(env.last_action.numpy(), [[0.5, 1.0], [-1.0, 0.25]])
    single = SingleWorldEnv(TinyBatch(1))
    single.reset(seed=0)
    single.step(_as_kind([2.0, -0.5], kind))
    np.testing.assert_array_equal(single.batch.last_action.numpy(), [[1.0, -0.5]])
    with pytest.raises(ValueError, match="not an array of numbers"):
        env.step([["a", "b"], ["c", "d"]])


# ---- call order -------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", IDS)
def test_premature_step_raises(env_id: str) -> None:
    """seals' ``test_premature_step``, on the made env and on the bare env."""
    env = gymnasium.make(env_id)
    with pytest.raises(Exception):  # noqa: B017  (seals' exact check)
        env.step(env.action_space.sample())
    with pytest.raises(ResetNeeded, match=r"before reset\(\)"):
        env.unwrapped.step(env.action_space.sample())


@pytest.mark.parametrize("env_id", IDS)
def test_step_and_reset_after_close_raise(env_id: str) -> None:
    env = _make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()
    env.close()
    with pytest.raises(ClosedEnvironmentError, match=r"step\(\) called after close\(\)"):
        env.step(env.action_space.sample())
    with pytest.raises(ClosedEnvironmentError, match=r"reset\(\) called after close\(\)"):
        env.reset(seed=0)


@pytest.mark.parametrize("env_id", HUMANOID)
def test_batched_ids_enforce_the_call_order(env_id: str) -> None:
    env = gymnasium.make(env_id, num_envs=2)
    actions = np.zeros((2, *env.single_action_space.shape), np.float32)
    with pytest.raises(ResetNeeded):
        env.step(actions)
    env.reset(seed=0)
    env.step(actions)
    env.close()
    with pytest.raises(ClosedEnvironmentError):
        env.step(actions)


def test_partial_reset_needs_a_full_reset_first() -> None:
    env = TinyBatch(2)
    with pytest.raises(ResetNeeded, match="full reset"):
        env.reset(options={"reset_mask": np.array([True, False])})


# ---- batched seeds and reset masks ------------------------------------------------------------
def _generator_states(env: BatchedEnv) -> tuple[torch.Tensor, Any]:
    return env.generator.get_state().clone(), env.np_random.bit_generator.state


@pytest.mark.parametrize("seed", [1.5, -1, True, "3", np.float64(2.0)])
def test_bad_seeds_raise_before_reseeding(seed: Any) -> None:
    env = TinyBatch(3)
    env.reset(seed=0)
    before = _generator_states(env)
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None"):
        env.reset(seed=seed)
    after = _generator_states(env)
    assert torch.equal(before[0], after[0]) and before[1] == after[1]
    with pytest.raises(ValueError, match="seed must be an integer"):
        SingleWorldEnv(TinyBatch(1)).reset(seed=seed)


def test_numpy_integer_seeds_are_accepted() -> None:
    a, b = TinyBatch(3), TinyBatch(3)
    a.reset(seed=np.int64(7))
    b.reset(seed=7)
    assert torch.equal(a.draws, b.draws)


@pytest.mark.parametrize(
    "mask",
    [
        np.array([1, 0, 1]),
        np.array([True, False]),
        np.array([[True, False, True]]),
        np.array([0.0, 1.0, 0.0]),
        [1, 0, 1],
        "all",
        torch.tensor([1, 0, 1]),
    ],
)
def test_bad_reset_masks_raise_naming_shape_and_dtype(mask: Any) -> None:
    env = TinyBatch(3)
    env.reset(seed=0)
    before = _generator_states(env)
    with pytest.raises(ValueError, match=r"reset_mask.*shape \(3,\).*got shape .* and dtype"):
        env.reset(seed=1, options={"reset_mask": mask})
    assert torch.equal(before[0], _generator_states(env)[0])


@pytest.mark.parametrize(
    "mask", [np.array([True, False, True]), [True, False, True], torch.tensor([1, 0, 1]).bool()]
)
def test_good_reset_masks(mask: Any) -> None:
    env = TinyBatch(3)
    env.reset(seed=0)
    env.step(np.zeros((3, 2), np.float32))
    env.reset(options={"reset_mask": mask})
    assert env.episode_steps.tolist() == [0, 1, 0]


# ---- num_envs bound and devices ---------------------------------------------------------------
def test_num_envs_hard_cap() -> None:
    with pytest.raises(ValueError, match=rf"num_envs={MAX_NUM_ENVS + 1} exceeds the bound"):
        TinyBatch(MAX_NUM_ENVS + 1)


def test_num_envs_bounded_by_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batched_module, "available_memory", lambda device: 2**20)
    TinyBatch(4)  # a few hundred bytes per world
    with pytest.raises(ValueError, match=r"num_envs=4 exceeds the bound 3 on cpu") as err:
        HumanoidAMPEnv(4)  # ~0.3 MB per world
    assert "available memory 0.00 GiB" in str(err.value) and "KiB per world" in str(err.value)


def test_cuda_without_cuda_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda' needs CUDA.*use device='cpu'"):
        HumanoidAMPEnv(1, device="cuda")
    with pytest.raises(ValueError, match="needs CUDA"):
        TinyBatch(2, device="cuda:0")
    with pytest.raises(ValueError, match="is not a torch device"):
        check_device("gpu")


# ---- max_episode_steps through gymnasium.make ---------------------------------------------------
@pytest.mark.parametrize("maker", ["make", "make_vec"])
def test_make_max_episode_steps_sets_the_per_world_limit(maker: str) -> None:
    env_id = "imitenvs/HumanoidAMP-v0"
    make = getattr(gymnasium, maker)
    env = make(env_id, num_envs=3, max_episode_steps=5, enable_early_termination=False)
    assert type(env) is HumanoidAMPEnv
    env.reset(seed=0)
    actions = np.zeros((3, *env.single_action_space.shape), np.float32)
    for t in range(1, 7):
        _, _, terminated, truncated, info = env.step(actions)
        assert truncated.shape == (3,) and not terminated.any()
        assert truncated.all() == (t == 5) and truncated.any() == (t == 5)
    assert info is not None and env.episode_steps.tolist() == [1, 1, 1]


def test_make_max_episode_steps_on_the_single_world_env() -> None:
    env = gymnasium.make(HUMANOID[0], max_episode_steps=3, enable_early_termination=False)
    assert isinstance(env, SingleWorldEnv) and env.max_episode_steps == 3
    env.reset(seed=0)
    done = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert done == [False, False, True]
