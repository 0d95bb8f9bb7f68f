"""Deep RLSP's MuJoCo table: true return of policies trained on each inferred reward, and GAIL.

    python benchmarks/deep_rlsp.py          # InvertedPendulum, 1/10/50 states, 3 seeds
    python benchmarks/deep_rlsp.py --env imitenvs/HalfCheetah-FW-v0 --states 50 --seeds 0

Runs ``examples/deep_rlsp.py`` (its CPU preset) for every number of observed states and seed.
The SAC expert is trained once (by the first run) and loaded by the others. Prints one JSON
object: the expert's return, then per run the true return (mean, std over rollouts) of Deep
RLSP, the AverageFeatures and Waypoints ablations and GAIL, each also as a fraction of the
expert's return, with the minutes it took; and the mean fraction per method and number of
states. The paper's bar for InvertedPendulum: >= 80 % of the expert.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from imitenvs.core.scripts import load_script, run_main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deep_rlsp.py"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="InvertedPendulum-v5")
    p.add_argument("--states", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", type=Path, default=Path("runs/deep_rlsp_benchmark"))
    p.add_argument("--preset", choices=("cpu", "tiny"), default="cpu")
    p.add_argument("--expert", type=Path, help="an SB3 SAC zip to use instead of training one")
    p.add_argument("--force", action="store_true", help="rerun into existing run folders")
    args = p.parse_args(argv)
    example = load_script(EXAMPLE)
    expert = args.expert
    runs, fractions = [], defaultdict(list)
    start = time.perf_counter()
    for states in args.states:
        for seed in args.seeds:
            out = args.out / f"n{states}_s{seed}"
            run_argv = ["--env", args.env, "--states", str(states), "--seed", str(seed)]
            run_argv += ["--out", str(out), "--preset", args.preset]
            run_argv += ["--expert", str(expert)] if expert else []
            run_argv += ["--force"] if args.force else []
            summary = example.main(run_argv)
            expert = expert or out / "expert.zip"
            runs.append({k: summary[k] for k in ("states", "seed", "methods", "fraction_of_expert",
                                                 "minutes")})  # fmt: skip
            for method, fraction in summary["fraction_of_expert"].items():
                fractions[f"{method}/n{states}"].append(fraction)
    result = {
        "env_id": args.env,
        "preset": args.preset,
        "expert": summary["expert"],
        "runs": runs,
        "mean_fraction_of_expert": {k: float(np.mean(v)) for k, v in fractions.items()},
        "minutes": round((time.perf_counter() - start) / 60, 2),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    run_main(main)
