"""RLSP on the gridworlds: the comparison of "Preferences Implicit in the State of the World".

    python examples/rlsp_gridworlds.py                 # the whole grid, Markdown table, figure
    python examples/rlsp_gridworlds.py --json > rows.json
    python examples/rlsp_gridworlds.py --env imitenvs/RoomDefault-v0 --method rlsp --epochs 50

By default every Table 1 problem (RoomDefault, Train, Apples, Batteries easy and default,
RoomBad, with the paper's horizons) runs every method: the task reward alone (spec), the
deviation penalty, relative reachability, RLSP and the MCMC sampler; the inferring methods also
with a uniform initial-state distribution and with the bayesian combination. It prints one
Markdown table (true-reward fraction per method and problem; the paper's rule: 1.0 means as
good as planning on the true reward) and writes a figure of the inferred reward weights per
feature to docs/results/ (``--figure``). ``--json`` prints the rows as one JSON list instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from imitenvs.agents.reward_inference.experiment import (
    COMBINATIONS,
    METHODS,
    ExperimentConfig,
    comparison_grid,
    load_problem,
    run_experiment,
)
from imitenvs.agents.reward_inference.rlsp import PRIOR_KINDS, SamplingConfig
from imitenvs.core.scripts import run_main
from imitenvs.viz import reward_weight_bars

log = logging.getLogger("rlsp_gridworlds")
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "results" / "rlsp_inferred_rewards.png"
SHORT_NAMES = {
    "imitenvs/RoomDefault-v0": "Room (vase)",
    "imitenvs/TrainDefault-v0": "Toy train",
    "imitenvs/ApplesDefault-v0": "Apples",
    "imitenvs/BatteriesEasy-v0": "Batteries easy",
    "imitenvs/BatteriesDefault-v0": "Batteries",
    "imitenvs/RoomBad-v0": "Far away vase",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", action="append", help="gridworld id (repeatable; default: Table 1's)")
    p.add_argument("--method", action="append", choices=METHODS, help="repeatable; default: all")
    p.add_argument("--combination", choices=COMBINATIONS, help="default: both (inferring methods)")
    p.add_argument(
        "--initial", choices=("known", "uniform", "both"), default="both",
        help="initial-state distribution of the inferring methods",
    )  # fmt: skip
    p.add_argument("--horizon", type=int, help="T the human acted for (default: the paper's)")
    p.add_argument("--evaluation-horizon", type=int, default=20)
    p.add_argument("--temperature", type=float, default=1.0, help="the human's Boltzmann temp.")
    p.add_argument("--epochs", type=int, default=50, help="RLSP gradient steps at most")
    p.add_argument("--lr", type=float, default=0.1, help="RLSP learning rate")
    p.add_argument("--prior", choices=PRIOR_KINDS, default="gaussian")
    p.add_argument("--std", type=float, default=0.5, help="prior scale")
    p.add_argument("--weight", type=float, help="w (default 0.5 for deviation, else 1)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--samples", type=int, default=10_000, help="MCMC chain length")
    p.add_argument("--burn-in", type=int, default=1_000)
    p.add_argument("--step-size", type=float, default=0.01, help="MCMC proposal std")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    p.add_argument("--rows", type=Path, help="redraw the table and figure from saved --json rows")
    p.add_argument("--figure", type=Path, default=FIGURE, help="inferred-reward bar chart")
    p.add_argument("--no-figure", action="store_true")
    return p.parse_args(argv)


def build_grid(args: argparse.Namespace) -> list[ExperimentConfig]:
    """The configurations the arguments select (the whole comparison by default)."""
    for env_id in args.env or ():
        load_problem(env_id)  # an unknown id fails before any work
    initial = {"known": (False,), "uniform": (True,), "both": (False, True)}[args.initial]
    return comparison_grid(
        env_ids=tuple(args.env) if args.env else None,
        methods=tuple(args.method or METHODS),
        seeds=tuple(args.seeds),
        initial=initial,
        combinations=(args.combination,) if args.combination else COMBINATIONS,
        horizon=args.horizon,
        evaluation_horizon=args.evaluation_horizon,
        temperature=args.temperature,
        epochs=args.epochs,
        learning_rate=args.lr,
        prior=args.prior,
        prior_std=args.std,
        weight=args.weight,
        sampling=SamplingConfig(args.samples, args.burn_in, args.step_size),
    )


def row_label(row: dict[str, Any]) -> str:
    """Table row name of a result: the method, its initial state and combination."""
    label = row["method"]
    if row["method"] in ("rlsp", "sampling"):
        label += " (uniform s_-T)" if row["uniform_prior"] else ""
        label += ", bayesian" if row["combination"] == "bayesian" else ""
    return label


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """True-reward fraction per method (rows) and problem (columns); mean ± std over seeds."""
    envs = list(dict.fromkeys(r["env_id"] for r in rows))
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        cells[row_label(r), r["env_id"]].append(r["true_reward_fraction"])
    labels = list(dict.fromkeys(row_label(r) for r in rows))
    head = "| method | " + " | ".join(SHORT_NAMES.get(e, e) for e in envs) + " |"
    lines = [head, "|---" * (len(envs) + 1) + "|"]
    for label in labels:
        out = []
        for env_id in envs:
            values = cells.get((label, env_id))
            if not values:
                out.append("")
            elif len(values) == 1:
                out.append(f"{values[0]:.3f}")
            else:
                out.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        lines.append(f"| {label} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def save_figure(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Bars of the inferred weights (additive runs, first seed) beside the true reward, one panel
    per problem."""
    panels = []
    for env_id in dict.fromkeys(r["env_id"] for r in rows):
        inferred = [
            r
            for r in rows
            if r["env_id"] == env_id
            and r["inferred_reward"] is not None
            and r["combination"] == "additive"
        ]
        if not inferred:
            continue
        first_seed = min(r["seed"] for r in inferred)
        series = {"true reward": load_problem(env_id).r_true}
        for r in inferred:
            if r["seed"] == first_seed:
                series.setdefault(row_label(r), np.asarray(r["inferred_reward"]))
        panels.append((SHORT_NAMES.get(env_id, env_id), inferred[0]["feature_names"], series))
    if not panels:
        return None
    return reward_weight_bars(panels, path, columns=min(2, len(panels)))


def run_grid(grid: list[ExperimentConfig]) -> list[dict[str, Any]]:
    """Run every configuration, with a progress bar on stderr."""
    rows = []
    bar = tqdm(grid, desc="RLSP comparison", unit="run", file=sys.stderr)
    for cfg in bar:
        bar.set_postfix_str(f"{SHORT_NAMES.get(cfg.env_id, cfg.env_id)} {cfg.method}")
        rows.append(run_experiment(cfg))
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows saved with ``--json``; a file that is not such a list is one clear error."""
    try:
        rows = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file of rows ({exc})") from None
    needed = {"env_id", "method", "combination", "uniform_prior", "seed", "inferred_reward"}
    needed |= {"true_reward_fraction", "feature_names"}
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and needed <= set(r) for r in rows
    ):
        raise ValueError(f"{path}: expected a JSON list of rows with keys {sorted(needed)}")
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    rows = read_rows(args.rows) if args.rows else run_grid(build_grid(args))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(markdown_table(rows))
    if not args.no_figure and (figure := save_figure(rows, args.figure)) is not None:
        log.info("figure: %s", figure)
    return rows


if __name__ == "__main__":
    run_main(main)
