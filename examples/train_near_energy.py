"""Train NEAR's energy model on an env's demonstration pairs (stage 1 of NEAR).

    python examples/train_near_energy.py --env imitenvs/Maze-v0          # about a minute
    python examples/train_near_energy.py --env imitenvs/HumanoidNEAR-v0 --iterations 2000

The pairs are the ones AMP's discriminator sees (``imitenvs.agents.vec.demo_source``): the
shipped maze demos as ``[s_{t-1}, s_t]``, or pairs ``[s_t, s_{t-1}]`` drawn from the humanoid's
motion clips. Writes ``energy.pt`` (``imitenvs.agents.adversarial.near.load_energy`` reads
it) to ``--out``
and, for the maze, heat maps of the energy at a few noise levels (``energy_level<c>.png``).
Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import imitenvs
from imitenvs.agents.adversarial.near import EnergyModel, demo_pairs, save_energy, train_energy
from imitenvs.agents.presets import ENERGY_PRESETS
from imitenvs.core.scripts import run_main

log = logging.getLogger("train_near_energy")


PRESETS = ENERGY_PRESETS
"""the energy-model presets (:data:`imitenvs.agents.presets.ENERGY_PRESETS`)"""


def family_of(env_id: str) -> str:
    if imitenvs.registry.get_entry(env_id).family == "humanoid":
        return "humanoid"
    if env_id == "imitenvs/Maze-v0":
        return "maze"
    raise ValueError(
        f"train_near_energy.py has presets for the humanoid ids and imitenvs/Maze-v0, "
        f"not {env_id!r}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="imitenvs/Maze-v0", help="env id")
    p.add_argument("--iterations", type=int, help="DSM steps (preset default)")
    p.add_argument("--num-pairs", type=int, help="demonstration pairs to train on (preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda ...")
    p.add_argument("--out", type=Path, help="output dir (runs/near_<family>)")
    p.add_argument("--energy", type=Path, help="checkpoint file (default <out>/energy.pt)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-picture", action="store_true", help="skip the maze heat maps")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def energy_score(model: EnergyModel, level: int):
    """``f(s, s')`` for :func:`imitenvs.viz.maze_heatmap`: the energy of the pair ``[s, s']``."""

    def f(s: np.ndarray, s_next: np.ndarray) -> np.ndarray:
        pairs = torch.as_tensor(np.concatenate([s, s_next], axis=1), dtype=torch.float32)
        return model.energy(pairs, level).cpu().numpy()

    return f


def save_heatmap(model: EnergyModel, level: int, path: Path, title: str) -> Path:
    """Maze heat map of ``E([s, s + h u], sigma_level)``, ``h`` the median demo step, ``u``
    averaged over 8 directions, with ten demonstrations drawn in white. (NCSNv2's
    ``E = f(x) / sigma``: the maps of different levels differ only in their colour scale.)"""
    from imitenvs.data.demos import load_default_demos
    from imitenvs.viz import maze_heatmap

    demos = [s for s, _ in load_default_demos("maze").episodes()]
    steps = np.concatenate([np.linalg.norm(np.diff(d, axis=0), axis=1) for d in demos])
    step, sigma = float(np.median(steps)), float(model.sigmas[level])
    return maze_heatmap(
        energy_score(model, level),
        path,
        step=step,
        demos=demos[:10],
        label=f"E(s, s'; sigma_{level} = {sigma:.3g})",
        title=f"{title}: energy at level {level}, sigma {sigma:.3g}, step {step:.1f}",
    )


def main(argv: list[str] | None = None) -> dict:
    """Train and save the energy model; returns (and prints) a JSON summary."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    family = family_of(args.env)
    preset = PRESETS[family]
    cfg = preset.cfg if args.iterations is None else replace(preset.cfg, iterations=args.iterations)
    out = args.out or Path("runs") / f"near_{family}"
    pairs = demo_pairs(args.env, args.num_pairs or preset.num_pairs, args.seed, preset.env_kwargs)
    model, stats = train_energy(pairs.to(args.device), cfg, args.seed, not args.no_progress)
    summary = {
        "env": args.env,
        "pairs": list(pairs.shape),
        **{k: round(v, 4) for k, v in stats.items()},
        "energy": str(save_energy(args.energy or out / "energy.pt", model, stats)),
    }
    if family == "maze" and not args.no_picture:
        levels = sorted({0, cfg.num_levels // 2, cfg.num_levels - 1})
        summary["heatmaps"] = [
            str(save_heatmap(model.cpu(), c, out / f"energy_level{c:02d}.png", "NEAR maze"))
            for c in levels
        ]
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
