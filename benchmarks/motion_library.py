"""Throughput of MotionLibrary state queries, printed as JSON.

    python benchmarks/motion_library.py [--motions assets/motions/default.yaml] [--batch 4096]

For each backend (numpy; torch on CPU; torch on CUDA when available) it times
``get_state`` on batches of random (clip, time) pairs, and ``sample_clips`` + ``sample_times``
+ ``get_state`` together, and reports queries per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imitenvs.assets import asset_path
from imitenvs.core.scripts import run_main
from imitenvs.motion.library import MotionLibrary


def _sync(device: Any) -> None:
    if device is not None and str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _rate(fn: Any, device: Any, batch: int, min_seconds: float) -> float:
    fn()  # warm-up
    _sync(device)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    _sync(device)
    return calls * batch / (time.perf_counter() - start)


def bench(path: Path, device: Any, batch: int, min_seconds: float) -> dict[str, Any]:
    lib = MotionLibrary.from_file(path, device=device)
    gen = np.random.default_rng(0) if device is None else torch.Generator(device).manual_seed(0)
    ids = lib.sample_clips(batch, gen)
    times = lib.sample_times(ids, gen)

    def sample_and_query() -> None:
        new_ids = lib.sample_clips(batch, gen)
        lib.get_state(new_ids, lib.sample_times(new_ids, gen))

    return {
        "backend": "numpy" if device is None else f"torch-{device}",
        "batch": batch,
        "clips": lib.num_clips,
        "get_state_queries_per_s": round(
            _rate(lambda: lib.get_state(ids, times), device, batch, min_seconds)
        ),
        "sample_and_get_state_per_s": round(_rate(sample_and_query, device, batch, min_seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--motions", type=Path, default=asset_path("motions", "default.yaml"))
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (1 avoids spin-waiting on busy machines)",
    )
    args = parser.parse_args()
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    devices: list[Any] = [None, "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = [bench(args.motions, d, args.batch, args.seconds) for d in devices]
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "torch_threads": torch.get_num_threads(), "results": results},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    run_main(main)
