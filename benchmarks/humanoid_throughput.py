"""Throughput of the batched humanoid tasks, beside the physical limit and AsyncVectorEnv.

For each number of worlds N and each task it measures env steps per second of
``gymnasium.make(id, num_envs=N)`` under uniform random actions, and beside it:

* ``raw``: the physical limit measured in the same run: ``mujoco.batch`` stepping the same
  model, the same substeps per control step and the same threads, with random PD targets and
  nothing else (no observations, rewards or state sampling; 1 in 13 worlds per step is put
  back on its standing keyframe, about the rate at which the tasks' characters fall);
* ``async``: gymnasium's ``AsyncVectorEnv`` over the single-env version (one process per
  world, one physics thread each), for N up to ``--async-max``.

The raw limit and the tasks are timed in interleaved rounds and the medians reported, so load
from other processes on the machine hits them alike.

Prints one JSON document. Example (CI uses small N)::

    python benchmarks/humanoid_throughput.py --sizes 1,64 --seconds 1
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
from imitenvs.envs.humanoid.base import CONTROL_HZ
from imitenvs.envs.humanoid.control import PdActionMap
from imitenvs.motion import load_humanoid

TASKS = ("imitenvs/HumanoidAMP-v0", "imitenvs/HumanoidNEAR-v0", "imitenvs/HumanoidImitate-v0")
NUM_ACTION_BATCHES = 16
# Under random actions about 1 in 13 worlds falls and restarts per control step; the raw loop
# restarts as many from the standing keyframe, so that it simulates characters in the same
# situations (standing and falling, not lying on the floor for good).
RAW_RESET_PERIOD = 13


def _timed(step: Callable[[int], None], num_envs: int, seconds: float) -> float:
    """Env steps per second of ``step(i)`` (one control step of ``num_envs`` worlds)."""
    count, start = 0, time.perf_counter()
    while True:
        step(count)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and count >= 2:
            return count * num_envs / elapsed


def _actions(num_envs: int, seed: int = 0) -> np.ndarray:
    """``(NUM_ACTION_BATCHES, num_envs, 28)`` uniform random actions, made once."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (NUM_ACTION_BATCHES, num_envs, 28)).astype(np.float32)


def raw_stepper(num_envs: int, nthread: int) -> Callable[[int], None]:
    """One control step of bare ``mujoco.batch`` stepping of the humanoid (random targets)."""
    model = mujoco.MjModel.from_xml_path(str(load_humanoid().xml_path))
    substeps = round(1.0 / (CONTROL_HZ * model.opt.timestep))
    batch = mujoco.batch.Batch(model, num_envs, nthread=nthread, persistent=True)
    batch.reset(keyframe=0)
    ctrl = batch.bind("ctrl")
    pd = PdActionMap(load_humanoid(), model.key_qpos[0, 7:])
    targets = pd.targets(torch.from_numpy(_actions(num_envs))).double().numpy()

    worlds = np.arange(num_envs)

    def step(i: int) -> None:
        ctrl[:] = targets[i % NUM_ACTION_BATCHES]
        batch.step(nstep=substeps, stage=mujoco.mjtStage.mjSTAGE_VEL)
        restart = worlds[(worlds + i) % RAW_RESET_PERIOD == 0]
        if restart.size:
            batch.reset(restart, keyframe=0)

    return step


def env_stepper(env: gymnasium.Env | gymnasium.vector.VectorEnv) -> Callable[[int], None]:
    """One step of ``env`` (batched or vectorised) with random actions."""
    env.reset(seed=0)
    actions = _actions(env.num_envs)
    return lambda i: env.step(actions[i % NUM_ACTION_BATCHES])


def measure_size(num_envs: int, args: argparse.Namespace) -> list[dict]:
    """Rows for one N: raw limit and every task, timed in interleaved rounds (medians), so that
    load from other processes hits them alike."""
    steppers = {"raw": raw_stepper(num_envs, args.nthread)}
    envs = [gymnasium.make(t, num_envs=num_envs, nthread=args.nthread) for t in args.tasks]
    steppers |= {t: env_stepper(e) for t, e in zip(args.tasks, envs, strict=True)}
    for step in steppers.values():
        for i in range(args.warmup):
            step(i)
    rates: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(args.rounds):
        for name, step in steppers.items():
            rates[name].append(_timed(step, num_envs, args.seconds / args.rounds))
    for env in envs:
        env.close()
    raw = float(np.median(rates["raw"]))
    rows = []
    for task in args.tasks:
        rate = float(np.median(rates[task]))
        row = {"task": task, "num_envs": num_envs, "raw_steps_per_s": round(raw, 1)}
        row |= {"env_steps_per_s": round(rate, 1), "fraction_of_raw": round(rate / raw, 3)}
        if num_envs <= args.async_max:
            vec = gymnasium.make_vec(task, num_envs=num_envs, vectorization_mode="async")
            slow = _timed(env_stepper(vec), num_envs, args.seconds)
            vec.close()
            row |= {"async_steps_per_s": round(slow, 1), "speedup_vs_async": round(rate / slow, 2)}
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> dict:
    results = [row for n in args.sizes for row in measure_size(n, args)]
    return {
        "benchmark": "humanoid_throughput",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "mujoco": mujoco.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "settings": {
            "nthread": args.nthread,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "control_hz": CONTROL_HZ,
            "actions": "uniform random in [-1, 1]",
        },
        "results": results,
    }


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=_ints, default=[1, 64, 256, 1024, 4096])
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=list(TASKS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed control steps first")
    parser.add_argument("--nthread", type=int, default=0, help="physics threads (0: all CPUs)")
    parser.add_argument(
        "--async-max", type=int, default=64, help="largest N run with AsyncVectorEnv (0: none)"
    )
    print(json.dumps(run(parser.parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
