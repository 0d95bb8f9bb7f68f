"""MILO's cost: a linear function of random Fourier features, fitted in closed form (MMD).

As the original ``RBFLinearCost`` (``milo/cost/linear_cost.py``):

- features ``φ(x) = √(2/D) · cos(W x + b)``, ``b ~ U(−π, π)``, ``W = U[0, 1) / bw`` — the
  original draws ``W`` **uniformly** (``torch.rand_like``), not from a Gaussian as textbook
  RFF would; ``weights="gaussian"`` gives the textbook kernel approximation instead;
- the bandwidth ``bw`` is the ``q``-quantile of ``‖x_i − x_j‖₂`` over random expert pairs;
- the closed-form MMD witness ``w = mean φ(x_π) − mean φ(x_E)``, and ``φ(x)·w`` is the cost
  (low near the expert), clamped to ``[−1, 0]``;
- pessimism: ``u = min(disc(s, a) / threshold, 1)`` and the total cost is
  ``(1 − λ_b) · clamp(φ·w, −1, 0) + λ_b · u``; the policy's reward is its negative.

The input ``x`` is ``(s, a)`` (``"sa"``, the original's default) or ``(s, s')`` (``"ss"``,
the fork's, for expert data without actions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from imitenvs.core.checks import check_choice, check_positive_int

COST_RANGE = (-1.0, 0.0)
"""the original's clamp of the linear cost"""


@dataclass
class CostConfig:
    """Cost settings (defaults: the original's arguments)."""

    input_type: str = "sa"
    """``"sa"`` (state, action) or ``"ss"`` (state, next state)"""
    feature_dim: int = 512
    """D, the number of random features"""
    bw_quantile: float = 0.2
    """quantile of expert pair distances taken as the bandwidth"""
    bw_samples: int = 100_000
    """random expert pairs drawn to estimate it"""
    lambda_b: float = 0.1
    """λ_b, the weight of the pessimism term"""
    weights: str = "uniform"
    """``"uniform"`` (the original's ``W``) or ``"gaussian"`` (textbook RFF)"""

    def __post_init__(self) -> None:
        check_choice("input_type", self.input_type, ("sa", "ss"))
        check_choice("weights", self.weights, ("uniform", "gaussian"))
        check_positive_int("feature_dim", self.feature_dim)
        check_positive_int("bw_samples", self.bw_samples)
        if not 0 < self.bw_quantile < 1:
            raise ValueError(f"bw_quantile must be in (0, 1), got {self.bw_quantile}")
        if not 0 <= self.lambda_b <= 1:
            raise ValueError(f"lambda_b must be in [0, 1], got {self.lambda_b}")


def fit_bandwidth(
    x: torch.Tensor, quantile: float, samples: int, generator: torch.Generator
) -> float:
    """The ``quantile`` of ``‖x_i − x_j‖₂`` over ``samples`` random row pairs of ``x (N, D)``."""
    i = torch.randint(len(x), (samples,), generator=generator)
    j = torch.randint(len(x), (samples,), generator=generator)
    return float(torch.quantile(torch.linalg.vector_norm(x[i] - x[j], dim=1), quantile))


def mmd_weight(phi_policy: torch.Tensor, phi_expert: torch.Tensor) -> torch.Tensor:
    """Closed-form MMD witness ``mean φ(x_π) − mean φ(x_E)``: ``(N, D), (M, D) → (D,)``."""
    return phi_policy.mean(dim=0) - phi_expert.mean(dim=0)


def pessimistic_cost(
    linear: torch.Tensor, disc: torch.Tensor, threshold: float, lambda_b: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1 − λ_b) · clamp(linear, −1, 0) + λ_b · min(disc / threshold, 1)``.

    Args:
        linear: ``(B,)`` the linear cost ``φ(x)·w``.
        disc: ``(B,)`` ensemble discrepancy of each ``(s, a)``.
        threshold: The ensemble's threshold (> 0).
        lambda_b: λ_b.

    Returns:
        ``(cost (B,), penalty (B,))``, the penalty being ``λ_b · u``.
    """
    if not threshold > 0:
        raise ValueError(f"the discrepancy threshold must be > 0, got {threshold}")
    u = (disc / threshold).clamp(max=1.0)
    penalty = lambda_b * u
    return (1 - lambda_b) * linear.clamp(*COST_RANGE) + penalty, penalty


class RFFCost:
    """Random-feature linear cost fitted to expert data ``x_E`` ``(M, D_in)``.

    ``weight`` is ``None`` until :meth:`fit`; :meth:`__call__` then gives the clamped
    linear cost ``clamp(φ(x)·w, −1, 0)`` of ``x`` ``(B, D_in) → (B,)``.
    """

    def __init__(self, expert: torch.Tensor, config: CostConfig, seed: int = 0):
        if expert.dim() != 2 or len(expert) < 2 or not torch.isfinite(expert).all():
            raise ValueError(
                f"expert cost inputs must be (M >= 2, D) finite, got {tuple(expert.shape)}"
            )
        self.config = config
        gen = torch.Generator().manual_seed(seed)
        self.bandwidth = fit_bandwidth(expert, config.bw_quantile, config.bw_samples, gen)
        d_in, d = expert.shape[1], config.feature_dim
        if config.weights == "uniform":
            w = torch.rand(d, d_in, generator=gen) / (self.bandwidth + 1e-8)
        else:
            w = torch.randn(d, d_in, generator=gen) / (self.bandwidth + 1e-8)
        self.proj = w
        self.phase = (torch.rand(d, generator=gen) - 0.5) * 2 * math.pi
        self.phi_expert = self.features(expert)
        self.weight: torch.Tensor | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x) = √(2/D) cos(W x + b)``: ``(B, D_in) → (B, D)``."""
        return torch.cos(x @ self.proj.T + self.phase) * math.sqrt(2.0 / self.config.feature_dim)

    def fit(self, policy_inputs: torch.Tensor) -> float:
        """Set ``w`` from the policy's samples ``(N, D_in)``; returns the MMD estimate ``w·w``."""
        self.weight = mmd_weight(self.features(policy_inputs), self.phi_expert)
        return float(self.weight @ self.weight)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            raise RuntimeError("RFFCost.fit must be called before the cost is evaluated")
        return (self.features(x) @ self.weight).clamp(*COST_RANGE)

    def expert_cost(self) -> float:
        """Mean clamped linear cost of the expert data under the current ``w`` (for logs)."""
        if self.weight is None:
            raise RuntimeError("RFFCost.fit must be called first")
        return float((self.phi_expert @ self.weight).clamp(*COST_RANGE).mean())
