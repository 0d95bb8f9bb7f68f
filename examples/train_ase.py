"""ASE: pre-train a latent-conditioned skill policy on the generated multi-clip dataset.

    python examples/train_ase.py                                  # short CPU run
    python examples/train_ase.py --minutes 10 --out runs/ase_humanoid
    python -m imitenvs.agents.train --algo ase                    # the same preset

The preset (``imitenvs.agents.adversarial.presets.ASE_PRESET``) trains on
``imitenvs/HumanoidAMP-v0`` with ``default.yaml`` (walk, run, turn, jump and wave) and
MimicKit's ASE weights (style 0.5, encoder 0.5, diversity 0.01). Writes TensorBoard events and
checkpoints to ``--out``; then plays ``--episodes`` random latents of the last checkpoint for
300 steps each (test mode, ``imitenvs.agents.adversarial.ase.play_latents``) and prints JSON
with the last iteration's scalars and a summary per latent (root height, speeds, yaw rate,
hand height, episodes ended). ``--latent-strip PNG`` / ``--style-json JSON`` add the figures
of ``imitenvs.agents.adversarial.ase_eval``: one episode per latent from the standing pose,
rendered as one row of frames per latent, and the discriminator's style reward per clip of the
dataset and of the policy's own transitions.

    python -m imitenvs.agents.train --algo ase --mode test --episodes 6 \\
        --model-file runs/ase_humanoid/checkpoint_last.pt --latent-strip s.png --style-json s.json
"""

from __future__ import annotations

import json
import logging
import sys

import torch

from imitenvs.agents.adversarial.presets import (
    add_ase_test_arguments,
    ase_test_mode,
    build_ase_runner,
    example_parser,
)
from imitenvs.core.scripts import run_main


def main(argv: list[str] | None = None) -> dict:
    """Train, then play latents of the last checkpoint; returns (and prints) the summary."""
    parser = example_parser(__doc__)
    parser.add_argument("--latent-dim", type=int, help="latent size (preset: 64)")
    add_ase_test_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.torch_threads)
    runner = build_ase_runner(args)
    try:
        if args.resume is not None:
            runner.load(args.resume)
        stats = runner.train()
        args.model_file = runner.run.log_dir / "checkpoint_last.pt"
        summary = {
            "algo": "ase",
            "env": runner.run.env_id,
            "iterations": runner.iteration,
            "env_steps": runner.global_step,
            "checkpoint": str(args.model_file),
            "last": {k: round(v, 4) for k, v in stats.items()},
        }
    finally:
        runner.close()
    summary["test"] = ase_test_mode(args)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    run_main(main)
