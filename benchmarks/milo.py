"""MILO vs BC on a MuJoCo task: normalised true return over seeds (prints JSON).

    python benchmarks/milo.py --env imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0 \\
        --offline offline.npz --expert expert.npz --seeds 0 1 2 --out runs/milo_benchmark \\
        --plot docs/results/milo_hopper_curve.png
    python benchmarks/milo.py --quick --out /tmp/milo_quick     # toy data, tiny preset (CI)

Runs ``examples/train_milo.py --baselines`` once per seed (its ``--preset``, default ``cpu``)
and scores every policy by its true return in the real env, normalised as D4RL does:
``100 · (R − R_random) / (R_expert − R_random)``. ``R_expert`` is the mean return of the
expert dataset's complete episodes (its recorded rewards; ``--expert-return`` for files
without them), ``R_random`` the mean return of uniformly random actions over 20 episodes.
Compared: MILO's final policy, the mean of its last 5 evaluations (one NPG step moves the
return a lot) and its best evaluation (reported separately: picking it uses the true
return), BC on the expert pairs MILO sees, BC on expert + all offline pairs. ``--reuse``
scores seed folders that already hold a finished run (a benchmark cut short goes on where it
stopped). ``--plot`` draws MILO's normalised return over model samples (mean ± std over
seeds) with the BC levels. ``--quick`` makes its own toy data with random actions and
normalises against a nominal expert return of 1000: it checks the pipeline, not the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.core.files import atomic_write_json
from imitenvs.core.scripts import load_script, run_main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_milo.py"
QUICK_VARIANT = "hopper-massdec_25_footgeom"
QUICK_EXPERT_RETURN = 1000.0
"""``--quick``'s toy expert is random too: scores are normalised against this nominal return"""
METHODS = ("milo_final", "milo_last5", "milo_best", "bc_expert", "bc_expert_offline")
LAST = 5
"""``milo_last5``: the mean of the last 5 evaluations (less noisy than the last one alone)"""


def random_return(env_id: str, episodes: int = 20, seed: int = 0) -> float:
    """Mean return of uniformly random actions (the action space seeded with ``seed``)."""
    from imitenvs.envs.imujoco.policies import evaluate

    env = gymnasium.make(env_id)
    env.action_space.seed(seed)
    return float(evaluate(lambda _: env.action_space.sample(), env, episodes, seed).mean())


def expert_return(path: Path, env_id: str) -> float:
    """Mean return of the complete episodes of an iMuJoCo file with recorded rewards."""
    from imitenvs.envs.imujoco.dataset import load_npz, split_segments

    segments = [s for s in split_segments(load_npz(path, env_id)) if s.complete]
    if not segments or segments[0].rews is None:
        raise ValueError(f"{path} records no rewards or no complete episode: pass --expert-return")
    return float(np.mean([s.rews.sum() for s in segments]))


def quick_data(folder: Path) -> tuple[str, Path, Path]:
    """Toy offline/expert files from random actions (for ``--quick``)."""
    from imitenvs.envs.imujoco.collect import collect
    from imitenvs.envs.imujoco.dataset import save_npz

    rng = np.random.default_rng(0)
    policy = lambda _: rng.uniform(-1, 1, 3).astype(np.float32)  # noqa: E731
    folder.mkdir(parents=True, exist_ok=True)
    off = save_npz(folder / "offline.npz", collect(QUICK_VARIANT, policy, 2, 60, 0, False))
    exp = save_npz(folder / "expert.npz", collect(QUICK_VARIANT, policy, 1, 60, 1, False))
    return f"imitenvs/iMuJoCo-{QUICK_VARIANT}-v0", off, exp


def finished_run(args: argparse.Namespace, seed: int) -> dict[str, Any] | None:
    """The ``result.json`` of a finished seed folder of the same env and preset, else None."""
    path = args.out / f"seed{seed}" / "result.json"
    if not path.is_file():
        return None
    res = json.loads(path.read_text())
    if (res.get("env"), res.get("preset"), res.get("seed")) != (args.env, args.preset, seed):
        raise ValueError(f"{path} is a run of another env, preset or seed: --force reruns it")
    return res


def normalise(ret: float, r_random: float, r_expert: float) -> float:
    return 100.0 * (ret - r_random) / (r_expert - r_random)


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± std over seeds of each method's normalised score."""
    out = {}
    for m in METHODS:
        scores = [r["normalised"][m] for r in runs]
        out[m] = {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
    return out


def plot(runs: list[dict[str, Any]], summary: dict, path: Path, r_rand: float, r_exp: float):
    from imitenvs.viz import band_plot

    x = [h["model_samples"] for h in runs[0]["history"]]
    ys = np.array(
        [[normalise(h["return_mean"], r_rand, r_exp) for h in r["history"]] for r in runs]
    )
    levels = {name: (summary[name]["mean"], summary[name]["std"])
              for name in ("bc_expert", "bc_expert_offline")}  # fmt: skip
    band_plot({"MILO": (x, ys.mean(0), ys.std(0))}, path, levels, xlabel="model samples",
              ylabel="normalised return (0 random, 100 expert)",
              title=f"MILO vs BC, {len(runs)} seeds")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env")
    p.add_argument("--offline", type=Path)
    p.add_argument("--expert", type=Path)
    p.add_argument("--expert-episodes", type=int, help="first N expert episodes only")
    p.add_argument("--expert-return", type=float, help="instead of the expert file's rewards")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--preset", default="cpu")
    p.add_argument("--out", type=Path, default=Path("runs/milo_benchmark"))
    p.add_argument("--plot", type=Path, help="learning-curve figure")
    p.add_argument("--json", type=Path, help="also write the result here")
    p.add_argument("--force", action="store_true", help="rerun into existing run folders")
    p.add_argument(
        "--reuse", action="store_true", help="score finished seed folders instead of rerunning"
    )
    p.add_argument("--quick", action="store_true", help="toy data, tiny preset, one seed")
    p.add_argument("extra", nargs="*", help="after --: more flags for train_milo.py")
    args = p.parse_args(argv)
    if args.quick:
        args.env, args.offline, args.expert = quick_data(args.out / "data")
        args.preset, args.seeds = "tiny", args.seeds[:1]
        args.expert_return = args.expert_return or QUICK_EXPERT_RETURN
        args.extra = [*args.extra, "--bc-baseline-steps", "10"]
    elif not (args.env and args.offline and args.expert):
        raise ValueError("--env, --offline and --expert are required (or --quick)")
    example = load_script(EXAMPLE)
    r_exp = args.expert_return
    if r_exp is None:
        r_exp = expert_return(args.expert, args.env)
    r_rand = random_return(args.env)
    if not r_exp > r_rand:
        raise ValueError(f"expert return {r_exp:.1f} is not above the random return {r_rand:.1f}")
    runs, start = [], time.perf_counter()
    for seed in args.seeds:
        run_argv = ["--env", args.env, "--offline", str(args.offline), "--expert",
                    str(args.expert), "--preset", args.preset, "--seed", str(seed), "--out",
                    str(args.out / f"seed{seed}"), "--baselines", "--no-progress"]  # fmt: skip
        if args.expert_episodes:
            run_argv += ["--expert-episodes", str(args.expert_episodes)]
        run_argv += (["--force"] if args.force else []) + args.extra
        res = finished_run(args, seed) if args.reuse else None
        res = res or example.train(run_argv)
        history = json.loads((args.out / f"seed{seed}" / "history.json").read_text())
        raw = {"milo_final": res["milo"]["final_return"], "milo_best": res["milo"]["best_return"],
               "milo_last5": float(np.mean([h["return_mean"] for h in history[-LAST:]])),
               **{k: v["return_mean"] for k, v in res["bc"].items()}}  # fmt: skip
        runs.append({"seed": seed, "minutes": res["minutes"], "raw": raw, "history": history,
                     "normalised": {k: normalise(v, r_rand, r_exp) for k, v in raw.items()},
                     "offline": res["offline"], "expert": res["expert"]})  # fmt: skip
    summary = summarise(runs)
    result = {
        "env": args.env, "preset": args.preset, "seeds": args.seeds,
        "expert_return": r_exp, "random_return": r_rand,
        "offline": runs[0]["offline"], "expert": runs[0]["expert"],
        "normalised": summary, "minutes": sum(r["minutes"] for r in runs),
        "wall_minutes": (time.perf_counter() - start) / 60,
        "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs],
        "curves": {r["seed"]: [[h["model_samples"], h["return_mean"]] for h in r["history"]]
                   for r in runs},
    }  # fmt: skip
    if args.plot:
        plot(runs, summary, args.plot, r_rand, r_exp)
    if args.json:
        atomic_write_json(args.json, result)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return result


if __name__ == "__main__":
    run_main(main)
