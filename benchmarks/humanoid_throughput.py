"""Throughput of the batched humanoid tasks, beside the physical limit and AsyncVectorEnv.

For each number of worlds N and each task it measures env steps per second of
``gymnasium.make(id, num_envs=N)`` under uniform random actions, and beside it:

* ``raw``: the physical limit measured in the same run: ``mujoco.batch`` stepping the same
  model, the same substeps per control step and the same threads, with random PD targets and
  nothing else (no observations, rewards or state sampling; 1 in 13 worlds per step is put
  back on its standing keyframe, about the rate at which the tasks' characters fall);
* ``async``: gymnasium's ``AsyncVectorEnv`` over the single-env version (one process per
  world, one physics thread each), for N up to ``--async-max``.

With ``--backend warp`` (the default for ``--device cuda``) the tasks run on the MuJoCo Warp
backend on ``--device``, by default only ``HumanoidAMP-v0`` at N = 1024, 4096, 8192 and 16384,
and ``raw`` is MuJoCo Warp's own rate for the same model and substeps: the backend's
graph-captured substep loop (:class:`imitenvs.sim.mujoco_warp.MujocoWarpBackend`) with the same
random targets and keyframe restarts, and no task code. Actions are uploaded to the device
once; every timing ends with a device synchronisation. The JSON names the GPU.

The raw limit and the tasks are timed in interleaved rounds and the medians reported, so load
from other processes on the machine hits them alike.

Prints one JSON document. Examples (CI uses small N)::

    python benchmarks/humanoid_throughput.py --sizes 1,64 --seconds 1
    python benchmarks/humanoid_throughput.py --device cuda
    python benchmarks/humanoid_throughput.py --backend warp --device cpu --sizes 4 --seconds 1
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
from imitenvs.envs.humanoid.base import CONTROL_HZ
from imitenvs.envs.humanoid.control import PdActionMap
from imitenvs.motion import load_humanoid
from imitenvs.sim.base import BACKENDS

TASKS = ("imitenvs/HumanoidAMP-v0", "imitenvs/HumanoidNEAR-v0", "imitenvs/HumanoidImitate-v0")
DEFAULT_SIZES = {"cpu": [1, 64, 256, 1024, 4096], "warp": [1024, 4096, 8192, 16384]}
DEFAULT_TASKS = {"cpu": list(TASKS), "warp": ["imitenvs/HumanoidAMP-v0"]}
_RAW = {  # (backend, CUDA device) -> what "raw" measured
    ("cpu", False): "mujoco.batch",
    ("cpu", True): "mujoco.batch",
    ("warp", True): "MuJoCo Warp backend: one CUDA graph of the substeps per control step",
    ("warp", False): "MuJoCo Warp backend on warp's CPU device: one CPU graph of the substeps",
}
NUM_ACTION_BATCHES = 16
# Under random actions about 1 in 13 worlds falls and restarts per control step; the raw loop
# restarts as many from the standing keyframe, so that it simulates characters in the same
# situations (standing and falling, not lying on the floor for good).
RAW_RESET_PERIOD = 13


def _timed(
    step: Callable[[int], None], num_envs: int, seconds: float, device: str = "cpu"
) -> float:
    """Env steps per second of ``step(i)`` (one control step of ``num_envs`` worlds); work
    queued on a CUDA ``device`` is waited for before the clock is read."""

    def sync() -> None:
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)

    sync()
    count, start = 0, time.perf_counter()
    while True:
        step(count)
        count += 1
        if time.perf_counter() - start >= seconds and count >= 2:
            sync()
            return count * num_envs / (time.perf_counter() - start)


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


def raw_warp_stepper(num_envs: int, device: str) -> Callable[[int], None]:
    """One control step of the bare MuJoCo Warp backend on ``device`` (random targets, the same
    keyframe restarts as :func:`raw_stepper`); everything stays on the device."""
    from imitenvs.sim.mujoco_warp import MujocoWarpBackend

    model = mujoco.MjModel.from_xml_path(str(load_humanoid().xml_path))
    substeps = round(1.0 / (CONTROL_HZ * model.opt.timestep))
    sim = MujocoWarpBackend(model, num_envs, device=device)
    dev = sim.device
    keyframe = torch.as_tensor(model.key_qpos[0], dtype=torch.float32, device=dev)
    rest = torch.zeros(num_envs, model.nv, device=dev)
    worlds = torch.arange(num_envs, device=dev)
    sim.set_state(worlds, keyframe.expand(num_envs, -1), rest)
    pd = PdActionMap(load_humanoid(), model.key_qpos[0, 7:])
    targets = pd.targets(torch.from_numpy(_actions(num_envs))).to(dev)
    restarts = [worlds[(worlds + i) % RAW_RESET_PERIOD == 0] for i in range(RAW_RESET_PERIOD)]

    def step(i: int) -> None:
        sim.step(targets[i % NUM_ACTION_BATCHES], substeps)
        restart = restarts[i % RAW_RESET_PERIOD]
        sim.set_state(restart, keyframe.expand(len(restart), -1), rest[: len(restart)])

    return step


def env_stepper(env: gymnasium.Env | gymnasium.vector.VectorEnv) -> Callable[[int], None]:
    """One step of ``env`` (batched or vectorised) with random actions (on the env's device)."""
    env.reset(seed=0)
    actions = _actions(env.num_envs)
    device = getattr(env, "device", torch.device("cpu"))
    if device.type != "cpu":
        actions = torch.from_numpy(actions).to(device)
    return lambda i: env.step(actions[i % NUM_ACTION_BATCHES])


def _make_env(task: str, num_envs: int, args: argparse.Namespace) -> gymnasium.Env:
    if args.backend == "warp":
        return gymnasium.make(task, num_envs=num_envs, backend="warp", device=args.device)
    return gymnasium.make(
        task, num_envs=num_envs, backend="cpu", device=args.device, nthread=args.nthread
    )


def measure_size(num_envs: int, args: argparse.Namespace) -> list[dict]:
    """Rows for one N: raw limit and every task, timed in interleaved rounds (medians), so that
    load from other processes hits them alike."""
    if args.backend == "warp":
        steppers = {"raw": raw_warp_stepper(num_envs, args.device)}
    else:
        steppers = {"raw": raw_stepper(num_envs, args.nthread)}
    envs = [_make_env(t, num_envs, args) for t in args.tasks]
    steppers |= {t: env_stepper(e) for t, e in zip(args.tasks, envs, strict=True)}
    for step in steppers.values():
        for i in range(args.warmup):
            step(i)
    rates: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(args.rounds):
        for name, step in steppers.items():
            rates[name].append(_timed(step, num_envs, args.seconds / args.rounds, args.device))
    for env in envs:
        env.close()
    raw = float(np.median(rates["raw"]))
    rows = []
    for task in args.tasks:
        rate = float(np.median(rates[task]))
        row = {"task": task, "num_envs": num_envs, "raw_steps_per_s": round(raw, 1)}
        row |= {"env_steps_per_s": round(rate, 1), "fraction_of_raw": round(rate / raw, 3)}
        if args.backend == "cpu" and num_envs <= args.async_max:
            vec = gymnasium.make_vec(task, num_envs=num_envs, vectorization_mode="async")
            slow = _timed(env_stepper(vec), num_envs, args.seconds)
            vec.close()
            row |= {"async_steps_per_s": round(slow, 1), "speedup_vs_async": round(rate / slow, 2)}
        rows.append(row)
    return rows


def _device_name(device: str) -> str:
    """The GPU's name (``torch.cuda.get_device_name``), or the CPU's."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def run(args: argparse.Namespace) -> dict:
    results = [row for n in args.sizes for row in measure_size(n, args)]
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "mujoco": mujoco.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device_name": _device_name(args.device),
    }
    if args.backend == "warp":
        import mujoco_warp
        import warp

        machine |= {"mujoco_warp": mujoco_warp.__version__, "warp": warp.config.version}
    return {
        "benchmark": "humanoid_throughput",
        "machine": machine,
        "settings": {
            "backend": args.backend,
            "device": args.device,
            "raw": _RAW[args.backend, torch.device(args.device).type == "cuda"],
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
    parser.add_argument("--sizes", type=_ints, help="numbers of worlds (default: per backend)")
    parser.add_argument("--tasks", type=lambda s: s.split(","), help="ids (default: per backend)")
    parser.add_argument("--device", default="cpu", help="torch device of the envs: cpu, cuda")
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default="auto",
        help="physics backend (auto: warp on CUDA devices, else cpu)",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed control steps first")
    parser.add_argument("--nthread", type=int, default=0, help="physics threads (0: all CPUs)")
    parser.add_argument(
        "--async-max", type=int, default=64, help="largest N run with AsyncVectorEnv (0: none)"
    )
    args = parser.parse_args(argv)
    if args.backend == "auto":
        args.backend = "warp" if torch.device(args.device).type == "cuda" else "cpu"
    if args.backend == "warp":
        import warp

        warp.config.log_level = warp.LOG_WARNING  # no banner or kernel-load lines in the JSON
    args.sizes = args.sizes or DEFAULT_SIZES[args.backend]
    args.tasks = args.tasks or DEFAULT_TASKS[args.backend]
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    run_main(main)
