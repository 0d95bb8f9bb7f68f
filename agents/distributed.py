"""Data-parallel training with ``torch.distributed``: one batched env and one agent per rank.

    torchrun --nproc_per_node=2 examples/train_amp.py --env imitenvs/Maze-v0

Each rank steps its own envs (seeded by rank), computes its own losses, and the gradients of
every network are averaged over ranks before each optimiser step, so the networks stay equal on
every rank. The running normalisers fold in the samples of every rank. Rank 0 logs, shows the
progress bar and writes checkpoints. ``gloo`` is used on CPU, ``nccl`` on CUDA (rank ``r`` uses
``cuda:LOCAL_RANK``).

Every function here is a no-op outside a process group of two or more ranks, so single-process
code calls them unconditionally.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank (0 in a single-process run).
        world_size: number of ranks (1 in a single-process run).
        local_rank: rank on this machine (picks the CUDA device).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this rank logs and checkpoints."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher) set the ``WORLD_SIZE`` environment variable."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str) -> tuple[DistInfo, str]:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``); outside torchrun return a single-rank :class:`DistInfo`.

    Args:
        device: the requested device; ``"cuda"`` becomes ``"cuda:LOCAL_RANK"``.

    Returns:
        ``(info, device)``: this rank's place and the device it should use.
    """
    if not launched_by_torchrun():
        return DistInfo(), device
    info = DistInfo(
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if torch.device(device).type == "cuda":
        if torch.device(device).index is None:
            device = f"cuda:{info.local_rank}"
        torch.cuda.set_device(torch.device(device))
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    log.info("rank %d of %d on %s (%s)", info.rank, info.world_size, device, backend)
    return info, device


def shutdown() -> None:
    """Leave the process group (if one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers into every rank's ``module``."""
    if not _active():
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Replace each gradient by its mean over ranks (one all-reduce of a flat buffer).

    Parameters without a gradient on this rank count as zero gradients, so every rank sends a
    buffer of the same size.
    """
    if not _active():
        return
    params = [p for p in parameters if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(g).clone()
        offset += n


def check_synchronised(module: nn.Module, name: str) -> None:
    """Raise if ``module``'s parameters differ between ranks (they must stay equal)."""
    if not _active():
        return
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).double() for p in module.parameters()])
        checksum = torch.stack([flat.sum(), flat.abs().sum(), (flat * flat).sum()])
    gathered = gather_objects(checksum.cpu())
    if any(not torch.allclose(g, gathered[0], rtol=1e-9, atol=0.0) for g in gathered):
        raise RuntimeError(f"the {name} network differs between ranks: {gathered}")


def all_sum(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over ranks (a new tensor; ``x`` itself outside a process group)."""
    if not _active():
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def global_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of every element of ``x`` over all ranks (``x.mean()`` in a single process)."""
    if not _active():
        return x.mean()
    total = all_sum(
        torch.stack(
            [x.sum().double(), torch.tensor(float(x.numel()), dtype=torch.float64, device=x.device)]
        )
    )
    return (total[0] / total[1]).to(x.dtype)


def mean_scalars(stats: dict[str, float]) -> dict[str, float]:
    """Average logged scalars over ranks (keys must agree; missing keys on a rank are kept)."""
    if not _active() or not stats:
        return stats
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, stats)
    keys = [k for k in stats if all(k in g for g in gathered)]
    return {**stats, **{k: sum(g[k] for g in gathered) / len(gathered) for k in keys}}


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` outside a process group)."""
    if not _active():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
