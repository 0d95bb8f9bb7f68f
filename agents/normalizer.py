"""Running mean / standard deviation of a stream of vectors (observations, values, AMP pairs)."""

from __future__ import annotations

import torch
from torch import nn

from imitenvs.agents.distributed import all_sum


class RunningMeanStd(nn.Module):
    """Mean and variance over every sample seen so far (Chan et al. parallel update); under
    ``torch.distributed`` over the samples of every rank, so all ranks keep equal statistics.

    The statistics are buffers, so they live on the module's device and travel with its
    ``state_dict`` (checkpoints restore them exactly).

    Args:
        shape: Shape of one sample, e.g. ``(obs_dim,)`` or ``()`` for scalars.
        eps: Initial pseudo-count and the floor of the variance.
        clip: Normalised values are clipped to ``[-clip, clip]`` (``None``: no clipping).
    """

    def __init__(self, shape: tuple[int, ...], eps: float = 1e-4, clip: float | None = 5.0):
        super().__init__()
        self.eps, self.clip = eps, clip
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch ``x`` of shape ``(B, *shape)`` into the statistics."""
        if tuple(x.shape[1:]) != tuple(self.mean.shape):
            raise ValueError(f"expected samples of shape {tuple(self.mean.shape)}, got {x.shape}")
        x = x.to(torch.float64)
        # Under torch.distributed the batch is every rank's samples (two-pass, all-reduced).
        n = all_sum(torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device))
        batch_mean = all_sum(x.sum(0)) / n
        batch_var = all_sum((x - batch_mean).pow(2).sum(0)) / n
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / sqrt(var + eps)``, clipped; same shape and dtype as ``x``."""
        std = torch.sqrt(self.var + self.eps)
        y = ((x - self.mean.to(x.dtype)) / std.to(x.dtype)).to(x.dtype)
        return y if self.clip is None else y.clamp(-self.clip, self.clip)

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (without the clipping)."""
        std = torch.sqrt(self.var + self.eps)
        return y * std.to(y.dtype) + self.mean.to(y.dtype)
