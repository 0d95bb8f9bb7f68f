"""Throughput of the batched iMuJoCo tasks (Hopper, HalfCheetah, Walker2d), beside the physical
limit and gymnasium's SyncVectorEnv.

For each robot (one iMuJoCo variant id each) and each number of worlds N it measures env steps
per second under uniform random actions of:

* ``batched``: ``gymnasium.make(id, num_envs=N)`` (:mod:`imitenvs.envs.imujoco.batched`);
* ``raw``: ``mujoco.batch`` stepping the same model with the same frame skip and threads, the
  stepping the CPU backend does (``Batch.step(nstep=frame_skip, stage=mjSTAGE_VEL)`` after
  writing the controls), with no task code: no observation, reward, health test or reset noise.
  Worlds are put back on the model's initial state at the rate at which the batched env's
  episodes end under random actions (measured in its warm-up), so that both simulate robots
  in the same situations (upright and falling, not lying on the floor for good);
* ``sync``: ``gymnasium.make_vec(id, N, vectorization_mode="sync")``, N single v5 envs stepped
  one after the other in Python (each timing stops after ``--sync-world-steps`` world steps,
  that is ``--sync-world-steps / N`` control steps, at least 2, so large N do not take long).

The three are timed in interleaved rounds and the medians reported, so load from other
processes hits them alike. Torch runs on one thread (the env's default); physics on
``--nthread`` C threads (0: every CPU).

Prints one JSON document. Examples (CI uses ``--quick``)::

    nice python benchmarks/mujoco_throughput.py
    python benchmarks/mujoco_throughput.py --quick
    python benchmarks/mujoco_throughput.py --robots hopper --sizes 1024 --seconds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import gymnasium
import mujoco
import mujoco.batch
import numpy as np
import torch

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.core.scripts import run_main

IDS = {
    "hopper": "imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0",
    "halfcheetah": "imitenvs/iMuJoCo-halfcheetah-jointdec_25_bfoot-v0",
    "walker2d": "imitenvs/iMuJoCo-walker2d-frictiondec_50_footleftgeom-v0",
}
NUM_ACTION_BATCHES = 16


def _timed(step: Callable[[int], None], num_envs: int, seconds: float, max_steps: int) -> float:
    """Env steps per second of ``step(i)`` (one control step of ``num_envs`` worlds), run for
    ``seconds`` or ``max_steps`` control steps, whichever comes first (at least 2 steps)."""
    count, start = 0, time.perf_counter()
    while True:
        step(count)
        count += 1
        elapsed = time.perf_counter() - start
        if count >= 2 and (elapsed >= seconds or count >= max_steps):
            return count * num_envs / elapsed


def _actions(num_envs: int, act_dim: int, seed: int = 0) -> np.ndarray:
    """``(NUM_ACTION_BATCHES, num_envs, act_dim)`` uniform random actions, made once."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (NUM_ACTION_BATCHES, num_envs, act_dim)).astype(np.float32)


def raw_stepper(
    model: mujoco.MjModel, num_envs: int, frame_skip: int, nthread: int, reset_period: int
) -> Callable[[int], None]:
    """One control step of bare ``mujoco.batch`` stepping, random controls; worlds restart
    every ``reset_period`` steps each (staggered)."""
    batch = mujoco.batch.Batch(model, num_envs, nthread=nthread, persistent=True)
    batch.reset()
    ctrl = batch.bind("ctrl")
    actions = _actions(num_envs, model.nu).astype(np.float64)
    worlds = np.arange(num_envs)
    restarts = [worlds[(worlds + i) % reset_period == 0] for i in range(reset_period)]

    def step(i: int) -> None:
        ctrl[:] = actions[i % NUM_ACTION_BATCHES]
        batch.step(nstep=frame_skip, stage=mujoco.mjtStage.mjSTAGE_VEL)
        restart = restarts[i % reset_period]
        if restart.size:
            batch.reset(restart)

    return step


def env_stepper(env: gymnasium.vector.VectorEnv) -> Callable[[int], None]:
    """One step of ``env`` (batched or SyncVectorEnv) with random actions."""
    env.reset(seed=0)
    actions = _actions(env.num_envs, env.single_action_space.shape[0])
    return lambda i: env.step(actions[i % NUM_ACTION_BATCHES])


def episode_end_period(env: gymnasium.vector.VectorEnv, steps: int) -> tuple[int, float]:
    """Warm ``env`` up for ``steps`` random steps; return ``(period, rate)``: the mean steps
    between episode ends of a world (at most the time limit) and ends per world-step."""
    env.reset(seed=1)
    actions = _actions(env.num_envs, env.single_action_space.shape[0], seed=1)
    ends = 0
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i % NUM_ACTION_BATCHES])
        ends += int(np.sum(terminated | truncated))
    rate = ends / (steps * env.num_envs)
    limit = int(env.max_episode_steps)
    return (min(limit, max(1, round(1.0 / rate))) if rate > 0 else limit), rate


def measure(robot: str, num_envs: int, args: argparse.Namespace) -> dict:
    """One row: raw, batched and sync steps/s of ``robot`` at ``num_envs`` worlds (medians of
    interleaved rounds)."""
    env_id = IDS[robot]
    env = gymnasium.make(env_id, num_envs=num_envs, nthread=args.nthread)
    period, rate = episode_end_period(env, args.warmup)
    steppers = {
        "raw": raw_stepper(env.model, num_envs, env.task.frame_skip, args.nthread, period),
        "batched": env_stepper(env),
    }
    sync = None
    if num_envs <= args.sync_max:
        sync = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
        steppers["sync"] = env_stepper(sync)
    for name, step in steppers.items():
        for i in range(2 if name == "sync" else args.warmup):
            step(i)
    rates: dict[str, list[float]] = {name: [] for name in steppers}
    per_round = args.seconds / args.rounds
    for _ in range(args.rounds):
        for name, step in steppers.items():
            cap = max(2, args.sync_world_steps // num_envs) if name == "sync" else 1 << 30
            rates[name].append(_timed(step, num_envs, per_round, cap))
    env.close()
    if sync is not None:
        sync.close()
    med = {name: float(np.median(r)) for name, r in rates.items()}
    row = {
        "robot": robot,
        "id": env_id,
        "num_envs": num_envs,
        "raw_steps_per_s": round(med["raw"], 1),
        "batched_steps_per_s": round(med["batched"], 1),
        "batched_over_raw": round(med["batched"] / med["raw"], 3),
        "episode_ends_per_world_step": round(rate, 4),
    }
    if "sync" in med:
        row["sync_steps_per_s"] = round(med["sync"], 1)
        row["batched_over_sync"] = round(med["batched"] / med["sync"], 2)
    return row


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    results = [measure(robot, n, args) for n in args.sizes for robot in args.robots]
    return {
        "benchmark": "mujoco_throughput",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "niceness": os.nice(0),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "mujoco": mujoco.__version__,
            "gymnasium": gymnasium.__version__,
            "torch": torch.__version__,
        },
        "settings": {
            "backend": "cpu (mujoco.batch)",
            "nthread": args.nthread,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "sync_world_steps": args.sync_world_steps,
            "sync_max": args.sync_max,
            "actions": "uniform random in [-1, 1]",
        },
        "results": results,
    }


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=lambda s: s.split(","), default=list(IDS))
    parser.add_argument("--sizes", type=_ints, default=[1, 64, 1024], help="numbers of worlds")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--warmup", type=int, default=50, help="untimed control steps first")
    parser.add_argument("--nthread", type=int, default=0, help="physics threads (0: all CPUs)")
    parser.add_argument(
        "--sync-world-steps", type=int, default=20000, help="most world steps per sync timing"
    )
    parser.add_argument("--sync-max", type=int, default=1024, help="largest N run with sync")
    parser.add_argument("--quick", action="store_true", help="CI size: N = 1, 8, short timings")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.robots) - set(IDS))
    if unknown:
        parser.error(f"unknown robots {unknown}; choose from {list(IDS)}")
    if args.quick:
        args.sizes, args.seconds, args.rounds, args.warmup = [1, 8], 0.1, 1, 5
        args.sync_world_steps = 40
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    run_main(main)
