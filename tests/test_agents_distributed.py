"""torch.distributed pieces on two gloo CPU ranks (spawned processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from imitenvs.agents import distributed
from imitenvs.agents.normalizer import RunningMeanStd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rank_data(rank: int) -> torch.Tensor:
    """``(5 + 3 rank, 4)`` samples that differ by rank (and in count)."""
    g = torch.Generator().manual_seed(100 + rank)
    return torch.randn(5 + 3 * rank, 4, generator=g) * (1 + rank) + rank


def loss_of(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x).pow(2).mean()


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    info, device = distributed.init("cpu")
    assert (info.rank, info.world_size, device) == (rank, world, "cpu")
    net = make_net()
    if rank == 1:  # a different start on rank 1: broadcast must overwrite it
        with torch.no_grad():
            for p in net.parameters():
                p.add_(1.0)
    distributed.broadcast_parameters(net)
    x = rank_data(rank)
    loss_of(net, x).backward()
    distributed.average_gradients(net.parameters())
    norm = RunningMeanStd((4,))
    norm.update(x)
    stats = distributed.mean_scalars({"value": float(rank)})
    torch.save(
        {
            "params": [p.detach() for p in net.parameters()],
            "grads": [p.grad for p in net.parameters()],
            "mean": norm.mean,
            "var": norm.var,
            "count": norm.count,
            "stats": stats,
            "gathered": distributed.gather_objects(rank * 10),
        },
        Path(out) / f"rank{rank}.pt",
    )
    distributed.shutdown()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("dist")
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


def test_ranks_start_from_rank_zero_parameters(two_ranks: list[dict]) -> None:
    reference = [p.detach() for p in make_net().parameters()]
    for result in two_ranks:
        for p, q in zip(result["params"], reference, strict=True):
            torch.testing.assert_close(p, q)


def test_gradients_are_the_mean_over_ranks(two_ranks: list[dict]) -> None:
    per_rank = []
    for rank in range(2):
        net = make_net()
        loss_of(net, rank_data(rank)).backward()
        per_rank.append([p.grad for p in net.parameters()])
    expected = [(a + b) / 2 for a, b in zip(*per_rank, strict=True)]
    for result in two_ranks:
        for g, e in zip(result["grads"], expected, strict=True):
            torch.testing.assert_close(g, e)


def test_normaliser_pools_every_rank(two_ranks: list[dict]) -> None:
    pooled = RunningMeanStd((4,))
    pooled.update(torch.cat([rank_data(0), rank_data(1)]))
    for result in two_ranks:
        torch.testing.assert_close(result["mean"], pooled.mean)
        torch.testing.assert_close(result["var"], pooled.var)
        torch.testing.assert_close(result["count"], pooled.count)


def test_scalars_and_objects_are_gathered(two_ranks: list[dict]) -> None:
    for result in two_ranks:
        assert result["stats"] == {"value": 0.5}
        assert result["gathered"] == [0, 10]


def test_single_process_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info, device = distributed.init("cpu")
    assert info == distributed.DistInfo() and info.is_main and device == "cpu"
    net = make_net()
    loss_of(net, rank_data(0)).backward()
    before = [p.grad.clone() for p in net.parameters()]
    distributed.average_gradients(net.parameters())
    for p, g in zip(net.parameters(), before, strict=True):
        assert torch.equal(p.grad, g)
    assert distributed.gather_objects(3) == [3]
    assert distributed.mean_scalars({"a": 1.0}) == {"a": 1.0}


def test_torchrun_trains_amp_on_two_ranks(repo_root: Path, tmp_path: Path) -> None:
    """The README's distributed command, small: 2 gloo ranks, a checkpoint, then a resume."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--master_port", str(free_port()), str(repo_root / "examples" / "train_amp.py")]
    command += ["--env", "imitenvs/Maze-v0", "--num-envs", "2", "--num-steps", "8"]
    command += ["--save-every", "2", "--no-video", "--eval-episodes", "1", "--no-progress"]
    command += ["--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*command, "--iterations", "2"], capture_output=True, text=True, env=env, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])  # rank 0 prints, once
    assert summary["ranks"] == 2 and summary["env_steps"] == 2 * 2 * 8 * 2
    state = torch.load(tmp_path / "checkpoint_000002.pt", weights_only=False)
    assert len(state["ranks"]) == 2
    assert not torch.equal(state["ranks"][0]["generator"], state["ranks"][1]["generator"])
    replay = [r["style"]["replay"]["data"] for r in state["ranks"]]
    assert not torch.equal(replay[0], replay[1])  # each rank stores its own rollouts
    resumed = subprocess.run(
        [*command, "--iterations", "3", "--resume", str(tmp_path / "checkpoint_000002.pt")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout[resumed.stdout.index("{") :])["iterations"] == 3
