"""MILO's dynamics ensemble: K MLPs predicting the state change ``Δs = s' − s`` from ``(s, a)``.

As the original (``milo/dynamics_model/mlp_dynamics.py``, ``dataset/datasets.py``):

- inputs and targets are normalised with the offline data's mean and **mean absolute
  deviation** (+1e-8), ``x̂ = (x − mean) / MAD``; a model outputs normalised ``Δs`` and
  :meth:`DynamicsEnsemble.predict` maps it back;
- every model is trained with MSE on the normalised targets, gradient-norm clipping, and the
  epoch with the lowest training loss is kept;
- the discrepancy of ``(s, a)`` is ``max_{i<j} ‖f_i(s, a) − f_j(s, a)‖₂`` over the
  **unnormalised** predictions, and the threshold is its maximum over the offline data.

The K models are held as one batched network (weights ``(K, in, out)``) so the whole
ensemble runs in one matrix product per layer; model ``k`` is seeded ``seed + k`` and sees its
own shuffle of the data, as K separately trained models would. ``dense=True`` is the fork's
DenseNet variant (``dhruvsreenivas/amp_extensions``, ``--dynamic_dense_connect``): layer ``i``
reads the input concatenated with every earlier hidden output.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from imitenvs.core.checks import check_choice, check_positive_int

logger = logging.getLogger(__name__)

MAD_EPS = 1e-8
"""added to every mean absolute deviation (the original's constant)"""


@dataclass
class DynamicsConfig:
    """How the ensemble is built and trained (defaults: the original MILO's ``run.py``)."""

    n_models: int = 4
    """K, the ensemble size"""
    hidden: tuple[int, ...] = (1024, 1024)
    """hidden layer widths of every model"""
    dense: bool = False
    """DenseNet connections (the fork's ``--dynamic_dense_connect``)"""
    epochs: int = 5
    """passes over the offline data (original 5; the fork 500)"""
    batch_size: int = 256
    optimizer: str = "sgd"
    """``"sgd"`` (original: momentum 0.9, Nesterov) or ``"adam"`` (the fork, eps 1e-8)"""
    lr: float = 1e-4
    """learning rate (original SGD 1e-4; the fork's Adam 1e-3)"""
    grad_clip: float = 1.0
    """per-model gradient-norm clip (0: none)"""

    def __post_init__(self) -> None:
        check_positive_int("n_models", self.n_models)
        if self.n_models < 2:
            raise ValueError(f"n_models must be >= 2 for a discrepancy, got {self.n_models}")
        self.hidden = tuple(check_positive_int("hidden", h) for h in self.hidden)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_choice("optimizer", self.optimizer, ("sgd", "adam"))
        if not self.lr > 0 or self.grad_clip < 0:
            raise ValueError(f"lr must be > 0 and grad_clip >= 0, got {self.lr}, {self.grad_clip}")


@dataclass
class MadNormalizer:
    """``x̂ = (x − mean) / scale`` with ``scale`` the mean absolute deviation + 1e-8.

    Attributes:
        mean: ``(D,)``.
        scale: ``(D,)``, all > 0.
    """

    mean: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> MadNormalizer:
        """Fit on ``x``, ``(N, D)``."""
        mean = x.mean(dim=0)
        return cls(mean, (x - mean).abs().mean(dim=0) + MAD_EPS)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.mean


class EnsembleLinear(nn.Module):
    """K independent linear layers applied at once: ``(K, B, in) → (K, B, out)``.

    Initialised as ``nn.Linear`` (uniform ``±1/√in``), each model from its own generator.
    """

    def __init__(self, k: int, n_in: int, n_out: int, generators: list[torch.Generator]):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        w = torch.stack([torch.rand(n_in, n_out, generator=g) for g in generators])
        b = torch.stack([torch.rand(1, n_out, generator=g) for g in generators])
        self.weight = nn.Parameter((w * 2 - 1) * bound)
        self.bias = nn.Parameter((b * 2 - 1) * bound)
        assert self.weight.shape == (k, n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """K ReLU MLPs ``(K, B, in) → (K, B, out)``, optionally with DenseNet connections."""

    def __init__(
        self, k: int, n_in: int, n_out: int, hidden: tuple[int, ...], dense: bool, seed: int
    ):
        super().__init__()
        gens = [torch.Generator().manual_seed(seed + i) for i in range(k)]
        self.dense = dense
        layers, width = [], n_in
        for h in hidden:
            layers.append(EnsembleLinear(k, width, h, gens))
            width = width + h if dense else h
        layers.append(EnsembleLinear(k, width, n_out, gens))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            h = torch.relu(layer(x))
            x = torch.cat([x, h], dim=-1) if self.dense else h
        return self.layers[-1](x)


@dataclass
class DynamicsEnsemble:
    """A trained ensemble with its normalisers and discrepancy threshold.

    Attributes:
        net: The K models (normalised inputs and outputs).
        state_norm, action_norm, delta_norm: MAD normalisers of ``s``, ``a`` and ``Δs``.
        threshold: Largest discrepancy over the offline data (set by :meth:`set_threshold`).
        losses: ``(epochs, K)`` mean training loss per epoch.
    """

    net: EnsembleMLP
    state_norm: MadNormalizer
    action_norm: MadNormalizer
    delta_norm: MadNormalizer
    threshold: float = float("nan")
    losses: list[list[float]] = field(default_factory=list)

    @property
    def n_models(self) -> int:
        return len(self.net.layers[0].weight)

    @torch.no_grad()
    def predict(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Every model's ``Δs``: ``(B, S), (B, A) → (K, B, S)``, unnormalised."""
        x = torch.cat([self.state_norm.normalize(states), self.action_norm.normalize(actions)], 1)
        out = self.net(x.unsqueeze(0).expand(self.n_models, -1, -1))
        return self.delta_norm.denormalize(out)

    @torch.no_grad()
    def step(
        self, states: torch.Tensor, actions: torch.Tensor, members: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``s' = s + f_k(s, a)`` with world ``b`` using model ``members[b]``.

        Args:
            states: ``(B, S)``.
            actions: ``(B, A)``.
            members: ``(B,)`` int64 model index per world.

        Returns:
            ``(next_states (B, S), discrepancy (B,))`` — all K models run anyway for the
            discrepancy, so the chosen one costs nothing extra.
        """
        preds = self.predict(states, actions)
        chosen = preds[members, torch.arange(len(states))]
        return states + chosen, discrepancy(preds)

    def set_threshold(
        self, states: torch.Tensor, actions: torch.Tensor, batch: int = 4096
    ) -> float:
        """Threshold = max discrepancy over ``(states (N, S), actions (N, A))``."""
        best = 0.0
        for i in range(0, len(states), batch):
            preds = self.predict(states[i : i + batch], actions[i : i + batch])
            best = max(best, float(discrepancy(preds).max()))
        self.threshold = best
        return best


def discrepancy(preds: torch.Tensor) -> torch.Tensor:
    """``max_{i<j} ‖p_i − p_j‖₂``: ``(K, B, S) → (B,)``."""
    k = len(preds)
    i, j = torch.triu_indices(k, k, offset=1)
    return torch.linalg.vector_norm(preds[i] - preds[j], dim=-1).max(dim=0).values


def _clip_per_model(params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip each model's gradient (the slice ``[k]`` of every parameter) to ``max_norm``."""
    sq = sum(p.grad.pow(2).flatten(1).sum(1) for p in params)
    norms = sq.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.view(-1, *([1] * (p.grad.dim() - 1))))
    return norms


def fit_dynamics(
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    config: DynamicsConfig,
    seed: int = 0,
    progress: bool = True,
) -> DynamicsEnsemble:
    """Train an ensemble on transitions and set its threshold on the same data.

    Args:
        states, next_states: ``(N, S)`` float32.
        actions: ``(N, A)`` float32.
        config: Architecture and training settings.
        seed: Model ``k`` is initialised with ``seed + k``; the shuffles with ``seed``.
        progress: Show a progress bar over epochs.
    """
    n = len(states)
    if not (len(actions) == len(next_states) == n) or n < 2:
        raise ValueError(
            f"need >= 2 aligned transitions, got {n}, {len(actions)}, {len(next_states)}"
        )
    for name, t in (("states", states), ("actions", actions), ("next_states", next_states)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} of the offline data hold non-finite values")
    delta = next_states - states
    ens = DynamicsEnsemble(
        EnsembleMLP(
            config.n_models, states.shape[1] + actions.shape[1], states.shape[1],
            config.hidden, config.dense, seed,
        ),
        MadNormalizer.fit(states), MadNormalizer.fit(actions), MadNormalizer.fit(delta),
    )  # fmt: skip
    x = torch.cat([ens.state_norm.normalize(states), ens.action_norm.normalize(actions)], 1)
    y = ens.delta_norm.normalize(delta)
    params = list(ens.net.parameters())
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=config.lr, momentum=0.9, nesterov=True)
    else:
        opt = torch.optim.Adam(params, lr=config.lr, eps=1e-8)
    gen = torch.Generator().manual_seed(seed)
    k, best_loss = config.n_models, torch.full((config.n_models,), float("inf"))
    best = [p.detach().clone() for p in params]
    for _ in tqdm(range(config.epochs), desc="dynamics", disable=not progress):
        perm = torch.stack([torch.randperm(n, generator=gen) for _ in range(k)])  # (K, N)
        total = torch.zeros(k)
        for i in range(0, n, config.batch_size):
            idx = perm[:, i : i + config.batch_size]
            loss_k = (ens.net(x[idx]) - y[idx]).pow(2).mean(dim=(1, 2))  # (K,)
            opt.zero_grad()
            loss_k.sum().backward()
            if config.grad_clip > 0:
                _clip_per_model(params, config.grad_clip)
            opt.step()
            total += loss_k.detach() * idx.shape[1]
        epoch_loss = total / n
        ens.losses.append(epoch_loss.tolist())
        improved = epoch_loss < best_loss
        best_loss = torch.where(improved, epoch_loss, best_loss)
        for b, p in zip(best, params, strict=True):
            b[improved] = p.detach()[improved]
    with torch.no_grad():
        for b, p in zip(best, params, strict=True):
            p.copy_(b)
    ens.set_threshold(states, actions)
    logger.info(
        "dynamics: best loss per model %s, threshold %.4g", best_loss.tolist(), ens.threshold
    )
    return ens
