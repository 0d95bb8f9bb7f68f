"""Evaluate a trained checkpoint and ship it as a small policy file with a JSON card.

    python examples/ship_policy.py runs/deepmimic_walk/checkpoint_001200.pt --name deepmimic_walk \\
        --agent deepmimic --command "python examples/train_deepmimic.py ..." --episodes 20

Writes ``assets/policies/<name>.pt`` (``imitenvs.agents.evaluation.export_policy``: the
actor-critic and its run, no optimiser state) and ``assets/policies/<name>.json``, the card:
env id and kwargs, agent, the training command, the git commit of the code, wall time and env
steps of the training up to this checkpoint (from the run's TensorBoard events beside it), and
the figures of ``examples/evaluate.py`` on ``--episodes`` episodes (with the "walks" verdict
for humanoid ids). With ``--frames PNG`` it also saves a strip of frames of one episode.
``python -m imitenvs play ID --policy pretrained:<name>`` then plays it.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
from pathlib import Path

from imitenvs.agents import evaluation
from imitenvs.agents.play import evaluate_policy, record_episode
from imitenvs.assets import asset_path
from imitenvs.core.files import atomic_write_json
from imitenvs.core.scripts import run_main
from imitenvs.viz import save_frame_strip

log = logging.getLogger("ship_policy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a runner checkpoint")
    p.add_argument("--name", required=True, help="policy name: assets/policies/<name>.pt")
    p.add_argument("--agent", required=True, help="the agent that trained it (deepmimic, amp)")
    p.add_argument("--command", required=True, help="the command that trained it")
    p.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    p.add_argument("--frames", type=Path, help="also save a frame strip (png) of one episode")
    p.add_argument("--out-dir", type=Path, help="where to write (default: assets/policies)")
    p.add_argument("--note", default="", help="a sentence for the card (what it reached)")
    p.add_argument("--commit", help="git commit of the code that trained it (default: HEAD)")
    return p.parse_args(argv)


def training_clock(run_dir: Path, env_steps: int) -> dict[str, float | None]:
    """Wall-clock minutes from the run's first logged scalar to the last one at or before
    ``env_steps`` (TensorBoard events in ``run_dir``; ``None`` when there are none)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {"wall_minutes": None}
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    if "reward/total" not in events.Tags().get("scalars", []):
        return {"wall_minutes": None}
    scalars = events.Scalars("reward/total")
    upto = [s for s in scalars if s.step <= env_steps] or scalars[:1]
    return {"wall_minutes": round((upto[-1].wall_time - scalars[0].wall_time) / 60.0, 2)}


def git_commit() -> str | None:
    """The checkout's commit (``None`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    figures = evaluate_policy(args.checkpoint, args.episodes)
    _, run, meta = evaluation.load_policy_with_meta(args.checkpoint)
    card = {
        "name": args.name,
        "env_id": run.env_id,
        "env_kwargs": run.env_kwargs,
        "agent": args.agent,
        "command": args.command,
        "checkpoint": args.checkpoint.name,
        "git_commit": args.commit or git_commit(),
        "iteration": meta["iteration"],
        "env_steps": meta["env_steps"],
        **training_clock(args.checkpoint.parent, meta["env_steps"]),
        "evaluation": figures,
        "evaluate_command": f"python examples/evaluate.py pretrained:{args.name} "
        f"--episodes {args.episodes}",
        "note": args.note,
    }
    folder = args.out_dir or asset_path("policies")
    evaluation.export_policy(args.checkpoint, folder / f"{args.name}.pt", card)
    atomic_write_json(folder / f"{args.name}.json", card)
    if args.frames is not None:  # six frames of the first 3 s, side by side
        frames, _ = record_episode(args.checkpoint, max_steps=90)
        card["frames"] = str(save_frame_strip(frames, args.frames))
    print(json.dumps(card, indent=1))
    return card


if __name__ == "__main__":
    run_main(main)
