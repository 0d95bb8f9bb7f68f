"""Training throughput of the humanoid presets beside the env-only throughput, with a profile.

For each preset (``amp``: ``examples/train_amp.py``'s humanoid preset; ``deepmimic``:
``examples/train_deepmimic.py``'s) and each number of worlds N it measures, in one run:

* ``env_steps_per_s``: the same env (id, kwargs, N) stepped with uniform random actions and
  nothing else;
* ``train_steps_per_s``: env steps per second of whole training iterations (rollout + every
  update), after ``--warmup`` iterations;
* ``ratio``: the two divided;
* ``split``: seconds per iteration spent in the env step, the policy's inference (actions and
  values), the rest of the rollout (storage, bookkeeping), the style reward, GAE, the PPO epochs
  and the discriminator update; ``python_other`` is what is left.

A benchmark prints JSON and asserts nothing. Examples::

    python benchmarks/train_throughput.py                          # amp + deepmimic, N=64,256,1024
    python benchmarks/train_throughput.py --presets amp --sizes 1024 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import imitenvs
from imitenvs.agents.onpolicy.runner import Runner
from imitenvs.core.files import atomic_write_json
from imitenvs.core.scripts import load_script, run_main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PRESET_SCRIPTS = {"amp": "train_amp.py", "deepmimic": "train_deepmimic.py"}


def build(preset: str, num_envs: int, threads: int, out: Path) -> Runner:
    """The preset's runner at ``num_envs`` worlds; ``out`` (a scratch folder) is never written,
    as the benchmark neither logs nor saves."""
    script = load_script(EXAMPLES / PRESET_SCRIPTS[preset])
    argv = ["--num-envs", str(num_envs), "--no-progress", "--torch-threads", str(threads)]
    runner = script.build_runner(script.parse_args([*argv, "--out", str(out)]))
    runner.run.log_dir = None
    return runner


def env_only(env_id: str, env_kwargs: dict, num_envs: int, seconds: float, seed: int) -> float:
    """Env steps per second of the batched env under uniform random actions."""
    env = gymnasium.make(env_id, num_envs=num_envs, **env_kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, (8, num_envs, env.single_action_space.shape[0]))
    for i in range(5):
        env.step(actions[i % 8])
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions[count % 8])
        count += 1
    rate = count * num_envs / (time.perf_counter() - start)
    env.close()
    return rate


def _timer(clock: dict[str, float], key: str, fn: Callable) -> Callable:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[key] += time.perf_counter() - start

    return timed


def profile(runner: Runner, iterations: int, warmup: int) -> dict[str, Any]:
    """Train ``warmup + iterations`` iterations; time the last ``iterations`` and their parts."""
    for _ in range(warmup):
        runner.train_iteration()
    clock: dict[str, float] = defaultdict(float)
    env, ppo = runner.env, runner.ppo
    env.step = _timer(clock, "env_step", env.step)
    ppo.act = _timer(clock, "policy_inference", ppo.act)
    ppo.value = _timer(clock, "policy_inference", ppo.value)
    runner.rollout = _timer(clock, "rollout", runner.rollout)
    runner.storage.compute_returns = _timer(clock, "gae", runner.storage.compute_returns)
    ppo.update = _timer(clock, "ppo_epochs", ppo.update)
    if runner.style is not None:
        runner.style.rewards = _timer(clock, "style_reward", runner.style.rewards)
        runner.style.update = _timer(clock, "discriminator", runner.style.update)
    start = time.perf_counter()
    for _ in range(iterations):
        runner.train_iteration()
    total = time.perf_counter() - start
    steps = iterations * runner.ppo_cfg.num_steps * runner.env.num_envs
    split = {k: v / iterations for k, v in clock.items()}
    split["rollout_other"] = split.pop("rollout") - split["env_step"] - split["policy_inference"]
    split["python_other"] = total / iterations - sum(split.values())
    return {
        "train_steps_per_s": steps / total,
        "seconds_per_iteration": total / iterations,
        "split_s": {k: round(v, 4) for k, v in split.items()},
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--presets", default="amp,deepmimic", help="comma list: amp, deepmimic")
    p.add_argument("--sizes", default="64,256,1024", help="comma list of N")
    p.add_argument("--iterations", type=int, default=4, help="timed iterations")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    p.add_argument("--seconds", type=float, default=3.0, help="env-only timing per N")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the learner")
    p.add_argument("--out", type=Path, help="also write the whole result as one JSON file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    header = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "imitenvs": imitenvs.__version__,
    }
    print(json.dumps(header))
    rows = []
    for preset in args.presets.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory() as scratch:
                runner = build(preset, n, args.threads, Path(scratch))
                row = measure(runner, preset, args)
            print(json.dumps(row))
            rows.append(row)
    result = {**header, "rows": rows}
    if args.out is not None:
        atomic_write_json(args.out, result)
    return result


def measure(runner: Runner, preset: str, args: argparse.Namespace) -> dict[str, Any]:
    """Profile ``runner``, close it, then time its env alone; one JSON row."""
    env_id, env_kwargs, seed = runner.run.env_id, runner.run.env_kwargs, runner.run.seed
    n = runner.run.num_envs
    row: dict[str, Any] = {"preset": preset, "env": env_id, "num_envs": n}
    row.update(profile(runner, args.iterations, args.warmup))
    runner.close()  # one batch at a time: an idle mujoco.batch still holds its threads
    row["env_steps_per_s"] = env_only(env_id, env_kwargs, n, args.seconds, seed)
    row["ratio"] = row["train_steps_per_s"] / row["env_steps_per_s"]
    for key in ("env_steps_per_s", "train_steps_per_s", "ratio"):
        row[key] = round(row[key], 3 if key == "ratio" else 1)
    return row


if __name__ == "__main__":
    run_main(main)
