"""NEAR: noise-conditioned energy-based annealed rewards (Diwan et al., ``anishhdiwan/near``).

Two stages. **Energy training**: an energy model ``E(x, sigma) = decoder(encoder(x)) / sigma``
on normalised demonstration transitions ``x = [s, s']`` learns by denoising score matching
(DSM) at ``L`` noise levels ``sigma_0 > ... > sigma_{L-1}`` (NCSNv2); ``E`` behaves like a
log-density (higher = closer to the data). **RL**: PPO maximises
``r = w_task * r_task + w_energy * tanh((E(x, sigma_c) - m) / 10)`` where ``m`` is the mean energy
of the last 3 rollouts and the level ``c`` is fixed or anneals from the noisiest towards the
sharpest level as the policy's energy improves. The maths lives in importable functions
(:func:`sigma_schedule`, :func:`dsm_loss`, :func:`ema_update`, :func:`energy_reward`,
:class:`NoiseAnnealer`); :class:`NEAR` is the reward module the runner drives like AMP.
Defaults: NEAR's ``mazeNEARPPO.yaml`` / ``HumanoidNEARPPO.yaml`` (``docs/agents.md``).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from imitenvs.agents.distributed import global_mean
from imitenvs.agents.normalizer import RunningMeanStd
from imitenvs.agents.onpolicy.ppo import require
from imitenvs.agents.onpolicy.storage import RolloutStorage
from imitenvs.agents.vec import demo_source, make_env
from imitenvs.core.files import load_torch, save_torch

log = logging.getLogger(__name__)
ENERGY_FORMAT = "imitenvs-near-energy"


@dataclass
class NEARConfig:
    """NEAR hyperparameters (defaults: NEAR ``mazeNEARPPO.yaml``; humanoid sizes in the docs)."""

    encoder_hidden: tuple[int, ...] = (32, 64)
    """hidden sizes of the encoder (humanoid: (512, 1024))"""
    latent_dim: int = 128
    """size of the latent between encoder and decoder (humanoid: 2048)"""
    decoder_hidden: tuple[int, ...] = (64, 32, 8)
    """hidden sizes of the decoder (humanoid: (1024, 512, 128))"""
    sigma_begin: float = 20.0
    """the largest noise level sigma_0 (in normalised units)"""
    sigma_end: float = 0.01
    """the smallest noise level sigma_{L-1}"""
    num_levels: int = 50
    """number of noise levels L (geometric schedule)"""
    learning_rate: float = 1e-4
    """Adam learning rate of the energy model (humanoid: 1e-5)"""
    batch_size: int = 128
    """demonstration pairs per DSM step"""
    iterations: int = 50_000
    """DSM steps (humanoid: 100,000)"""
    grad_clip: float = 1.0
    """global gradient-norm clip of each DSM step"""
    ema_decay: float = 0.999
    """decay of the exponential moving average of the weights (used for rewards)"""
    anneal_power: float = 2.0
    """weight ``sigma^anneal_power`` of each sample's DSM loss"""
    normalize_input: bool = True
    """normalise pairs with their mean / std (fit on the data, then frozen; clipped to +-5)"""
    delta_features: bool = False
    """append the difference of the two halves of each pair (the motion between its states) to
    the energy model's input; per-dimension normalisation then makes small steps visible next
    to large positions (the maze: 3-unit steps in a 512-unit arena). Not in NEAR."""
    sigma_level: int = -1
    """noise level used for rewards: -1 anneals from level 0 (sigma_0); 0..L-1 is fixed"""
    anneal_threshold: float = 0.02
    """advance the level when the averaged energy reaches ``init * (1 + anneal_threshold)``"""
    average_length: int = 3
    """rollouts in the moving averages (annealing and reward offset)"""
    tanh_scale: float = 10.0
    """``r_energy = tanh((E - offset) / tanh_scale)``"""
    task_weight: float = 0.0
    """weight of the env's (task) reward (NEAR's experiments used 0.5)"""
    energy_weight: float = 1.0
    """weight of the energy reward (NEAR's experiments used 0.5)"""

    def __post_init__(self) -> None:
        for name in ("encoder_hidden", "decoder_hidden"):
            sizes = tuple(getattr(self, name))
            ok = len(sizes) > 0 and all(isinstance(h, int) and h > 0 for h in sizes)
            require(ok, name, sizes, "must be a non-empty tuple of positive ints")
            setattr(self, name, sizes)
        for name in ("latent_dim", "num_levels", "batch_size", "iterations", "average_length"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, name, value, "must be an integer > 0")
        for name in ("sigma_begin", "sigma_end", "learning_rate", "grad_clip", "tanh_scale"):
            value = getattr(self, name)
            require(value > 0 and math.isfinite(value), name, value, "must be finite and > 0")
        begin, end = self.sigma_begin, self.sigma_end
        require(begin > end, "sigma_end", end, f"must be smaller than sigma_begin={begin}")
        require(0.0 <= self.ema_decay < 1.0, "ema_decay", self.ema_decay, "must lie in [0, 1)")
        for name in ("anneal_power", "anneal_threshold"):
            value = getattr(self, name)
            require(value >= 0 and math.isfinite(value), name, value, "must be finite and >= 0")
        level = self.sigma_level
        ok = isinstance(level, int) and -1 <= level < self.num_levels
        require(ok, "sigma_level", level, f"must be -1 (annealing) or in [0, {self.num_levels})")
        for name in ("task_weight", "energy_weight"):
            value = getattr(self, name)
            require(math.isfinite(value), name, value, "must be finite")


# ----------------------------------------------------------------------------- energy model
def sigma_schedule(sigma_begin: float, sigma_end: float, num_levels: int) -> torch.Tensor:
    """``(L,)`` geometric noise levels ``exp(linspace(log sigma_begin, log sigma_end, L))``;
    level 0 is the noisiest."""
    log_sigmas = torch.linspace(
        math.log(sigma_begin), math.log(sigma_end), num_levels, dtype=torch.float64
    )
    return log_sigmas.exp().float()


def _elu_mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ELU between them (none after)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        if i > 0:
            layers.append(nn.ELU())
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    return nn.Sequential(*layers)


class EnergyNet(nn.Module):
    """``E(x, sigma) = ELU(decoder(encoder(x))) / sigma`` (NEAR's ``SimpleNet``, NCSNv2 path).

    Xavier-uniform weights and biases of 0.01; ``generator`` makes the initialisation
    reproducible without touching torch's global seed.
    """

    def __init__(
        self, in_dim: int, cfg: NEARConfig, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.encoder = _elu_mlp((in_dim, *cfg.encoder_hidden, cfg.latent_dim))
        self.decoder = nn.Sequential(*_elu_mlp((cfg.latent_dim, *cfg.decoder_hidden, 1)), nn.ELU())
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                nn.init.constant_(m.bias, 0.01)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``(B,)`` energies of inputs ``x`` ``(B, D)`` at noise levels ``sigma`` ``(B,)``."""
        return self.decoder(self.encoder(x)).squeeze(-1) / sigma


def dsm_loss(
    net: nn.Module,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    labels: torch.Tensor,
    anneal_power: float = 2.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Annealed denoising score matching with the score ``dE/dx~`` (NCSN ``dsm.py``).

    With ``sigma = sigmas[labels]`` and ``x~ = x + sigma * z`` (``z = noise``, standard normal
    ``(B, D)``; drawn here when ``None``) the loss is
    ``mean_b 1/2 ||dE(x~, sigma)/dx~ + (x~ - x) / sigma^2||^2 * sigma^anneal_power``; the
    gradient is taken with ``create_graph`` so the loss trains ``net``. ``x`` ``(B, D)``,
    ``labels`` ``(B,)`` integer levels.
    """
    sigma = sigmas[labels]
    z = torch.randn_like(x) if noise is None else noise
    x_tilde = (x + sigma[:, None] * z).detach().requires_grad_(True)
    target = -(x_tilde - x) / sigma[:, None] ** 2
    energy = net(x_tilde, sigma)
    (score,) = torch.autograd.grad(energy.sum(), x_tilde, create_graph=True)
    per_sample = 0.5 * (score - target).pow(2).sum(-1) * sigma**anneal_power
    return per_sample.mean()


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``p_ema <- decay * p_ema + (1 - decay) * p`` for every parameter (NCSN ``EMAHelper``)."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)


class EnergyModel(nn.Module):
    """A trained energy function: the (EMA) :class:`EnergyNet`, the frozen input normaliser and
    the noise levels; its ``state_dict`` holds all three."""

    def __init__(
        self, in_dim: int, cfg: NEARConfig, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        if cfg.delta_features and in_dim % 2:
            raise ValueError(f"delta_features needs an even in_dim (two states), got {in_dim}")
        self.in_dim, self.cfg = in_dim, cfg
        feature_dim = in_dim + in_dim // 2 if cfg.delta_features else in_dim
        self.net = EnergyNet(feature_dim, cfg, generator)
        self.norm = RunningMeanStd((feature_dim,)) if cfg.normalize_input else None
        self.register_buffer(
            "sigmas", sigma_schedule(cfg.sigma_begin, cfg.sigma_end, cfg.num_levels)
        )

    def features(self, pairs: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` pairs ``[a, b]``, or with delta features ``(B, 3D/2)`` ``[a, b, b - a]``."""
        if not self.cfg.delta_features:
            return pairs
        a, b = pairs.chunk(2, dim=-1)
        return torch.cat([pairs, b - a], dim=-1)

    def normalize(self, pairs: torch.Tensor) -> torch.Tensor:
        """The energy net's input for raw pairs: features, normalised."""
        x = self.features(pairs)
        return x if self.norm is None else self.norm.normalize(x)

    @torch.no_grad()
    def energy(self, pairs: torch.Tensor, level: int) -> torch.Tensor:
        """``(B,)`` energies of raw pairs ``(B, in_dim)`` at noise level index ``level``."""
        if not 0 <= level < len(self.sigmas):
            raise ValueError(f"level={level} is out of range; choose 0..{len(self.sigmas) - 1}")
        x = self.normalize(pairs.to(self.sigmas.device, torch.float32))
        return self.net(x, self.sigmas[level].expand(len(x)))


def train_energy(
    pairs: torch.Tensor, cfg: NEARConfig, seed: int = 0, progress: bool = True
) -> tuple[EnergyModel, dict[str, float]]:
    """Fit an :class:`EnergyModel` to demonstration pairs ``(M, D)`` by DSM.

    The normaliser is fit on all pairs and then frozen; each step draws a shuffled batch, a
    uniform level per sample and Gaussian noise from a generator seeded by ``seed``, clips the
    gradient norm and updates the EMA weights, which the returned model carries. Returns the
    model and ``{"loss_first", "loss_last", "seconds", "iterations"}`` (losses averaged over
    100-step windows).
    """
    if pairs.ndim != 2 or len(pairs) < 2:
        raise ValueError(f"pairs must be a (M, D) tensor with M >= 2, got {tuple(pairs.shape)}")
    device, pairs = pairs.device, pairs.float()
    init_gen = torch.Generator().manual_seed(seed)  # weights are initialised on the CPU
    gen = torch.Generator(device=device).manual_seed(seed + 1)  # batches, levels, noise
    model = EnergyModel(pairs.shape[1], cfg, generator=init_gen).to(device)
    online = copy.deepcopy(model.net)  # trained by Adam; model.net holds its moving average
    if model.norm is not None:
        model.norm.update(model.features(pairs))
    data = model.normalize(pairs)
    optimizer = torch.optim.Adam(online.parameters(), lr=cfg.learning_rate)
    batch, order, cursor = min(cfg.batch_size, len(data)), torch.empty(0), len(data)
    window: list[float] = []
    first = last = float("nan")
    start = time.perf_counter()
    bar = tqdm(range(cfg.iterations), disable=not progress, unit="it", dynamic_ncols=True)
    for step in bar:
        if cursor + batch > len(data):  # a new shuffled pass over the pairs
            order, cursor = torch.randperm(len(data), generator=gen, device=device), 0
        x = data[order[cursor : cursor + batch]]
        cursor += batch
        labels = torch.randint(cfg.num_levels, (batch,), generator=gen, device=device)
        noise = torch.randn(x.shape, generator=gen, device=device)
        loss = dsm_loss(online, x, model.sigmas, labels, cfg.anneal_power, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), cfg.grad_clip)
        optimizer.step()
        ema_update(model.net, online, cfg.ema_decay)
        window.append(float(loss.detach()))
        if len(window) == 100 or step == cfg.iterations - 1:
            last = sum(window) / len(window)
            first = last if math.isnan(first) else first
            bar.set_postfix(dsm_loss=f"{last:.3f}")
            window.clear()
    seconds = time.perf_counter() - start
    log.info(
        "trained the energy model: %d steps in %.1f s, loss %.3f", cfg.iterations, seconds, last
    )
    stats = {"loss_first": first, "loss_last": last, "seconds": seconds}
    return model.eval(), {**stats, "iterations": cfg.iterations}


def demo_pairs(
    env_id: str, num_pairs: int, seed: int = 0, env_kwargs: dict | None = None
) -> torch.Tensor:
    """``(num_pairs, D)`` demonstration pairs of ``env_id``, drawn like the demos AMP's
    discriminator sees (:func:`imitenvs.agents.vec.demo_source`, seeded by ``seed``): the
    shipped maze / PushT demos as ``[s_{t-1}, s_t]``, the humanoid's clips as ``[s_t, s_{t-1}]``."""
    env = make_env(env_id, 1, paired=True, env_kwargs=env_kwargs)
    try:
        return demo_source(env, env_id, seed)(num_pairs)
    finally:
        env.close()


def save_energy(path: str | Path, model: EnergyModel, stats: dict | None = None) -> Path:
    """Write ``model`` (config, input size, weights, normaliser) and optional training stats."""
    state = {
        "format": ENERGY_FORMAT,
        "version": 1,
        "in_dim": model.in_dim,
        "config": asdict(model.cfg),
        "state": {k: v.cpu() for k, v in model.state_dict().items()},
        "stats": dict(stats or {}),
    }
    return save_torch(path, state)


def load_energy(path: str | Path, device: str | torch.device = "cpu") -> EnergyModel:
    """Read a file written by :func:`save_energy` (``weights_only``, checked against its digest).

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: the digest fails or the file holds more than plain data.
        ValueError: not an energy checkpoint.
    """
    path = Path(path)
    state = load_torch(path, map_location="cpu")
    if state.get("format") != ENERGY_FORMAT:
        raise ValueError(f"{path} is not a NEAR energy checkpoint ({ENERGY_FORMAT!r})")
    cfg = NEARConfig(**state["config"])  # the initialisation is overwritten: a local generator
    model = EnergyModel(int(state["in_dim"]), cfg, generator=torch.Generator())
    model.load_state_dict(state["state"])
    return model.to(device).eval()


# ------------------------------------------------------------------------------- RL rewards
def energy_reward(energy: torch.Tensor, offset: float, scale: float = 10.0) -> torch.Tensor:
    """NEAR's transform ``tanh((E - offset) / scale)`` (any shape)."""
    return torch.tanh((energy - offset) / scale)


class NoiseAnnealer:
    """NEAR's ``ncsnv2-adaptive`` level schedule (``near_continuous._anneal_noise_level``).

    Each rollout's mean energy at the current level enters a moving average of the last
    ``length`` rollouts; the first average at a level is its ``init``. When an average reaches
    ``init * (1 + threshold)`` the level advances by one (less noise) and both restart; it never
    goes back and stops at the last level. (For a negative ``init`` the threshold lies below
    it, so the level advances at once, as in NEAR.)
    """

    def __init__(self, num_levels: int, threshold: float = 0.02, length: int = 3) -> None:
        self.num_levels, self.threshold = num_levels, threshold
        self.level, self.init = 0, None
        self.recent: deque[float] = deque(maxlen=length)

    @property
    def average(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else float("nan")

    def observe(self, mean_energy: float) -> bool:
        """Fold in one rollout's mean energy at :attr:`level`; returns whether it advanced."""
        self.recent.append(float(mean_energy))
        avg = self.average
        if self.init is None:
            self.init = avg
        if self.level < self.num_levels - 1 and avg >= self.init * (1.0 + self.threshold):
            self.level += 1
            self.init = None
            self.recent.clear()
            return True
        return False

    def state_dict(self) -> dict:
        return {"level": self.level, "init": self.init, "recent": list(self.recent)}

    def load_state_dict(self, state: dict) -> None:
        self.level, self.init = int(state["level"]), state["init"]
        self.recent.clear()
        self.recent.extend(state["recent"])


class NEAR:
    """The NEAR reward module the runner drives like AMP (``rewards`` / ``update`` / state).

    Args:
        cfg: hyperparameters (the RL part: level, annealing, transform, weights).
        energy: the trained energy model (kept fixed during RL).
        device: torch device of the rollouts.
    """

    def __init__(self, cfg: NEARConfig, energy: EnergyModel, device: torch.device) -> None:
        self.cfg, self.energy = cfg, copy.deepcopy(energy).to(device).eval()
        levels = len(self.energy.sigmas)
        self.annealer = NoiseAnnealer(levels, cfg.anneal_threshold, cfg.average_length)
        if cfg.sigma_level >= levels:
            raise ValueError(f"sigma_level={cfg.sigma_level} but the energy model has {levels}")
        self.recent_energy: deque[float] = deque(maxlen=cfg.average_length)
        self.offset: float | None = None
        self.epoch = 0
        self._last: dict[str, float] = {}

    @property
    def level(self) -> int:
        """The noise level index the rewards use now."""
        return self.annealer.level if self.cfg.sigma_level < 0 else self.cfg.sigma_level

    @torch.no_grad()
    def rewards(self, storage: RolloutStorage) -> dict[str, torch.Tensor]:
        """Fill ``storage.rewards`` with ``w_task * r_task + w_energy * r_energy``; returns the
        unweighted ``(T, N)`` terms ``{"task", "energy"}``.

        In NEAR's order (``play_steps``): the rollout's mean energy first drives the annealing,
        then the energies at the (possibly new) level give the rewards; the offset (mean energy
        of the last rollouts) is refreshed at epochs 1, 3, 6, 9, ...
        """
        if storage.amp_obs is None:
            raise ValueError("NEAR needs a storage with amp_obs (paired observations)")
        self.epoch += 1
        pairs = storage.amp_obs.flatten(0, 1)
        energy = self.energy.energy(pairs, self.level)
        # The rollout's mean energy over every rank, so that all ranks anneal together.
        if self.cfg.sigma_level < 0 and self.annealer.observe(float(global_mean(energy))):
            log.info("NEAR noise level -> %d (sigma %.4g)", self.level, self.sigma)
            energy = self.energy.energy(pairs, self.level)
        self.recent_energy.append(float(global_mean(energy)))
        if self.offset is None or self.epoch == 1 or self.epoch % 3 == 0:
            self.offset = sum(self.recent_energy) / len(self.recent_energy)
        energy = energy.view_as(storage.task_rewards)
        r_energy = energy_reward(energy, self.offset, self.cfg.tanh_scale)
        cfg = self.cfg
        storage.rewards.copy_(cfg.task_weight * storage.task_rewards + cfg.energy_weight * r_energy)
        self._last = {"near/energy": float(energy.mean()), "near/offset": self.offset}
        return {"task": storage.task_rewards, "energy": r_energy}

    @property
    def sigma(self) -> float:
        return float(self.energy.sigmas[self.level])

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """Nothing is trained during RL (the energy model is fixed); returns the level, its
        sigma, the energies and the annealer's average and initial value for logging."""
        del storage  # the annealing already consumed this rollout in :meth:`rewards`
        stats = {**self._last, "near/level": float(self.level), "near/sigma": self.sigma}
        if self.cfg.sigma_level < 0:
            stats["near/level_average"] = self.annealer.average
            init = self.annealer.init
            stats["near/level_init"] = float("nan") if init is None else init
        return {k: v for k, v in stats.items() if not math.isnan(v)}

    def state_dict(self) -> dict:
        return {
            "energy": self.energy.state_dict(),
            "annealer": self.annealer.state_dict(),
            "recent_energy": list(self.recent_energy),
            "offset": self.offset,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.energy.load_state_dict(state["energy"])
        self.annealer.load_state_dict(state["annealer"])
        self.recent_energy.clear()
        self.recent_energy.extend(state["recent_energy"])
        self.offset, self.epoch = state["offset"], int(state["epoch"])
