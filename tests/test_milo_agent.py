"""MILO, the agent: the maths on tiny arrays against hand computation, the model env's rules,
the NPG pieces, the data readers, and a toy end-to-end run of ``examples/train_milo.py``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from imitenvs.agents.offline.data import Transitions, from_milo_npz, load_transitions
from imitenvs.agents.offline.dynamics import (
    DynamicsConfig,
    DynamicsEnsemble,
    EnsembleMLP,
    MadNormalizer,
    discrepancy,
    fit_dynamics,
)
from imitenvs.agents.offline.milo import Milo, MiloConfig, cost_inputs
from imitenvs.agents.offline.mmd_cost import (
    CostConfig,
    RFFCost,
    fit_bandwidth,
    mmd_weight,
    pessimistic_cost,
)
from imitenvs.agents.offline.model_env import ModelEnv, ModelEnvConfig, healthy_termination
from imitenvs.agents.offline.npg import (
    GaussianPolicy,
    NPGConfig,
    behaviour_cloning,
    conjugate_gradient,
    gaussian_kl,
    npg_step,
)
from imitenvs.core.scripts import load_script
from imitenvs.data.milo import MiloDataset
from imitenvs.envs.imujoco.collect import collect
from imitenvs.envs.imujoco.dataset import save_npz

VARIANT = "hopper-massdec_25_footgeom"
ENV_ID = f"imitenvs/iMuJoCo-{VARIANT}-v0"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------- dynamics
def test_mad_normalisation_by_hand() -> None:
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 11.0]])
    norm = MadNormalizer.fit(x)
    assert torch.allclose(norm.mean, torch.tensor([2.0, 5.0]))
    # |x - mean|: [[2, 4], [0, 2], [2, 6]] -> means 4/3 and 4 (+1e-8)
    assert torch.allclose(norm.scale, torch.tensor([4 / 3, 4.0]) + 1e-8)
    assert torch.allclose(norm.normalize(x)[0], torch.tensor([-1.5, -1.0]))
    assert torch.allclose(norm.denormalize(norm.normalize(x)), x)
    constant = MadNormalizer.fit(torch.ones(4, 1))
    assert torch.isfinite(constant.normalize(torch.ones(4, 1))).all()  # MAD 0 -> 1e-8


def test_discrepancy_is_the_largest_pairwise_distance() -> None:
    preds = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]], [[0.0, 1.0]]])  # (K=3, B=1, S=2)
    # pairs: |(3,4)| = 5, |(0,1)| = 1, |(3,3)| = 4.24
    assert discrepancy(preds).tolist() == [5.0]
    assert discrepancy(torch.zeros(4, 7, 3)).tolist() == [0.0] * 7


def _toy_transitions(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, 3, generator=g)
    a = torch.rand(n, 2, generator=g) * 2 - 1
    nxt = s + 0.1 * torch.cat([a, a[:, :1]], 1) + 0.01 * torch.randn(n, 3, generator=g)
    return s, a, nxt


def test_ensemble_learns_and_its_threshold_is_the_max_over_the_data() -> None:
    s, a, nxt = _toy_transitions()
    cfg = DynamicsConfig(n_models=3, hidden=(32,), epochs=30, optimizer="adam", lr=3e-3)
    ens = fit_dynamics(s, a, nxt, cfg, seed=0, progress=False)
    losses = torch.tensor(ens.losses)  # (epochs, K)
    assert losses.shape == (30, 3) and (losses[-1] < 0.5 * losses[0]).all()
    brute = max(float(discrepancy(ens.predict(s[i : i + 1], a[i : i + 1]))) for i in range(len(s)))
    assert ens.threshold == pytest.approx(brute, rel=1e-5)
    # the members differ (own seeds, own shuffles) but agree on the data
    preds = ens.predict(s, a)
    assert not torch.allclose(preds[0], preds[1])
    assert (preds.mean(0) - (nxt - s)).abs().mean() < 0.05


def test_dense_connections_widen_every_layer() -> None:
    net = EnsembleMLP(2, 5, 3, (8, 4), dense=True, seed=0)
    assert [tuple(layer.weight.shape) for layer in net.layers] == [
        (2, 5, 8),
        (2, 13, 4),
        (2, 17, 3),
    ]
    assert net(torch.zeros(2, 6, 5)).shape == (2, 6, 3)


def test_bad_dynamics_input_is_refused() -> None:
    s, a, nxt = _toy_transitions(8)
    with pytest.raises(ValueError, match="n_models must be >= 2"):
        DynamicsConfig(n_models=1)
    with pytest.raises(ValueError, match="optimizer"):
        DynamicsConfig(optimizer="rmsprop")
    bad = s.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="states of the offline data hold non-finite"):
        fit_dynamics(bad, a, nxt, DynamicsConfig(hidden=(4,), epochs=1), progress=False)


# ------------------------------------------------------------------------------- the cost
def test_bandwidth_is_the_quantile_of_expert_pair_distances() -> None:
    x = torch.tensor([[0.0], [3.0]])  # a pair is the same row (distance 0) or not (3), 50/50
    g = torch.Generator().manual_seed(0)
    assert fit_bandwidth(x, 0.2, 10_000, g) == 0.0
    assert fit_bandwidth(x, 0.9, 10_000, g) == 3.0
    y = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 0, 5, 10
    assert fit_bandwidth(y, 0.99, 20_000, g) == pytest.approx(10.0)


def test_closed_form_mmd_weight_and_the_pessimistic_cost_by_hand() -> None:
    phi_pi = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    phi_e = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert mmd_weight(phi_pi, phi_e).tolist() == [-0.5, 0.0]
    linear = torch.tensor([-2.0, 0.5, -0.3])
    disc = torch.tensor([1.0, 4.0, 2.0])
    cost, penalty = pessimistic_cost(linear, disc, threshold=2.0, lambda_b=0.1)
    # u = min(disc / 2, 1) = [0.5, 1, 1]; clamp(linear, -1, 0) = [-1, 0, -0.3]
    assert torch.allclose(penalty, torch.tensor([0.05, 0.1, 0.1]))
    assert torch.allclose(cost, torch.tensor([-0.9 + 0.05, 0.1, -0.27 + 0.1]))
    with pytest.raises(ValueError, match="threshold must be > 0"):
        pessimistic_cost(linear, disc, threshold=0.0, lambda_b=0.1)


def test_rff_cost_features_and_fit() -> None:
    g = torch.Generator().manual_seed(1)
    expert = torch.randn(50, 3, generator=g)
    cost = RFFCost(expert, CostConfig(feature_dim=16, bw_samples=500), seed=0)
    x = torch.randn(5, 3, generator=g)
    by_hand = math.sqrt(2 / 16) * torch.cos(x @ cost.proj.T + cost.phase)
    assert torch.allclose(cost.features(x), by_hand)
    assert (
        cost.proj >= 0
    ).all() and cost.proj.max() <= 1 / cost.bandwidth  # the original's U[0,1)/bw
    assert cost.phase.abs().max() <= math.pi
    with pytest.raises(RuntimeError, match="fit"):
        cost(x)
    mmd = cost.fit(expert + 3.0)
    w = cost.features(expert + 3.0).mean(0) - cost.features(expert).mean(0)
    assert torch.allclose(cost.weight, w) and mmd == pytest.approx(float(w @ w))
    assert cost(expert).max() <= 0 and cost(expert).min() >= -1
    # the expert scores lower (better) than the policy's samples it was fitted against
    assert cost(expert).mean() < cost(expert + 3.0).mean()
    with pytest.raises(ValueError, match="input_type"):
        CostConfig(input_type="sas")


def test_cost_inputs() -> None:
    s, a, n = torch.zeros(2, 3), torch.ones(2, 1), torch.full((2, 3), 2.0)
    assert cost_inputs("sa", s, a, n).shape == (2, 4)
    assert cost_inputs("ss", s, None, n)[0].tolist() == [0, 0, 0, 2, 2, 2]
    with pytest.raises(ValueError, match="use input_type 'ss'"):
        cost_inputs("sa", s, None, n)


# ------------------------------------------------------------------------------ model env
def _constant_ensemble(delta: list[float], k: int = 2) -> DynamicsEnsemble:
    """An ensemble whose every member predicts ``Δs = delta`` (its net outputs zeros)."""
    s, a = len(delta), 1
    net = EnsembleMLP(k, s + a, s, (4,), dense=False, seed=0)
    with torch.no_grad():
        for p in net.layers[-1].parameters():
            p.zero_()
    ones = lambda d: MadNormalizer(torch.zeros(d), torch.ones(d))  # noqa: E731
    return DynamicsEnsemble(
        net, ones(s), ones(a), MadNormalizer(torch.tensor(delta), torch.ones(s))
    )


def _model_env(delta: list[float], horizon: int = 3, **kw) -> ModelEnv:
    box = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    return ModelEnv(
        _constant_ensemble(delta), kw.pop("n", 2), torch.zeros(4, len(delta)),
        kw.pop("expert", torch.tensor([[0.5, 0.0], [0.0, 1.0]])), box,
        config=ModelEnvConfig(horizon=horizon, expert_reset_every=kw.pop("every", 0)), **kw,
    )  # fmt: skip


def test_model_env_truncates_at_the_horizon_and_autoresets() -> None:
    env = _model_env([0.1, 0.0], horizon=3)
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [[0.0, 0.0]] * 2
    for t in range(1, 4):
        obs, rew, term, trunc, info = env.step(np.zeros((2, 1), np.float32))
        assert not term.any() and rew.tolist() == [0.0, 0.0]
        assert trunc.tolist() == [t == 3] * 2
    assert obs.tolist() == [[0.0, 0.0]] * 2  # already the new episode's
    assert np.allclose(info["final_obs"], [[0.3, 0.0]] * 2) and info["_final_obs"].all()
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP


def test_model_env_terminates_on_the_state_norm_and_the_task() -> None:
    # max expert norm 1, coefficient 2: ||s|| >= 2 ends the episode (s grows by 0.8 a step)
    env = _model_env([0.8, 0.0], horizon=100)
    env.reset(seed=0)
    ends = [env.step_torch(torch.zeros(2, 1)).terminated.tolist() for _ in range(3)]
    assert ends == [[False, False], [False, False], [True, True]]
    task = _model_env([0.0, -0.25], horizon=100, termination=lambda s: s[:, 1] < -0.6)
    task.reset(seed=0)
    ends = [task.step_torch(torch.zeros(2, 1)).terminated[0].item() for _ in range(3)]
    assert ends == [False, False, True]
    nan = _model_env([float("nan"), 0.0], horizon=100)
    nan.reset(seed=0)
    r = nan.step_torch(torch.zeros(2, 1))
    assert r.terminated.all() and torch.isfinite(r.final_obs).all()


def test_model_env_resets_every_fifth_from_an_expert_state_round_robin() -> None:
    expert = torch.tensor([[9.0, 9.0]])
    env = _model_env([0.0, 0.0], horizon=1, n=3, every=5, expert=expert)
    env.reset(seed=0)  # resets 0, 1, 2
    starts, members = [env.obs.clone()], [env.members.clone()]
    for _ in range(3):  # every step truncates all three: resets 3..11
        env.step_torch(torch.zeros(3, 1))
        starts.append(env.obs.clone())
        members.append(env.members.clone())
    from_expert = torch.cat(starts)[:, 0] == 9.0
    assert torch.nonzero(from_expert).squeeze(1).tolist() == [0, 5, 10]
    assert torch.cat(members).tolist() == [(c + 1) % 2 for c in range(12)]


def test_model_env_refuses_bad_actions() -> None:
    env = _model_env([0.0, 0.0])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([[0.0], [np.nan]], np.float32))
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"qpos": 1})


def test_healthy_termination_of_the_hopper() -> None:
    done = healthy_termination(gymnasium.make(ENV_ID))
    obs = torch.zeros(3, 11)
    obs[:, 0] = torch.tensor([1.25, 0.5, 1.25])  # height
    obs[2, 1] = 0.5  # torso angle beyond 0.2
    assert done(obs).tolist() == [False, True, True]
    assert healthy_termination(gymnasium.make("HalfCheetah-v5")) is None


# ------------------------------------------------------------------------------------ NPG
def test_conjugate_gradient_and_gaussian_kl() -> None:
    a = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
    b = torch.tensor([1.0, 2.0])
    x = conjugate_gradient(lambda v: a @ v, b, iters=10, x0=b)
    assert torch.allclose(x, torch.linalg.solve(a, b), atol=1e-6)
    mu0, mu1 = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, -1.0]])
    s0, s1 = torch.tensor([1.0, 0.5]), torch.tensor([2.0, 0.5])
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu0, s0), torch.distributions.Normal(mu1, s1)
    ).sum()
    assert gaussian_kl(mu0, s0, mu1, s1) == pytest.approx(float(ref))


def test_npg_step_moves_by_the_kl_step_and_improves_the_surrogate() -> None:
    g = torch.Generator().manual_seed(0)
    cfg = NPGConfig(policy_hidden=(8,), cg_iters=25, kl_step=0.01)
    policy = GaussianPolicy(3, 2, cfg, seed=0)
    obs = torch.randn(512, 3, generator=g)
    acts = policy.sample(obs, g)
    adv = acts[:, 0] - acts[:, 1]  # prefer a larger first action
    logs = npg_step(policy, obs, acts, adv, cfg)
    assert logs["surrogate_gain"] > 0
    # KL ≈ ½ α² xᵀFx = δ / 2 for a quadratic KL
    assert 0.25 * cfg.kl_step < logs["kl"] < 1.0 * cfg.kl_step


def test_behaviour_cloning_fits_actions() -> None:
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(256, 3, generator=g)
    acts = torch.tanh(obs[:, :2])
    policy = GaussianPolicy(3, 2, NPGConfig(), seed=0)
    policy.set_normalization(obs, acts)
    losses = behaviour_cloning(policy, obs, acts, 30, g)
    assert losses[-1] < 0.1 * losses[0]


# ------------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def hopper_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    data = collect(VARIANT, lambda o: rng.uniform(-1, 1, 3).astype(np.float32), 2, 60, 0, False)
    return save_npz(tmp_path_factory.mktemp("milo") / "offline.npz", data)


def test_imujoco_npz_gives_aligned_transitions(hopper_npz: Path) -> None:
    tr = load_transitions(hopper_npz, ENV_ID)
    assert tr.states.shape == tr.next_states.shape and tr.actions.shape == (len(tr.states), 3)
    assert len(tr.states) == 120  # every row has its next state (episode ends are recorded)
    # within an episode the next state is the next row's state
    same = (tr.next_states[:-1] == tr.states[1:]).all(1)
    assert same.sum() == len(tr.states) - tr.episodes
    first = load_transitions(hopper_npz, ENV_ID, max_episodes=1)
    assert first.episodes == 1 and len(first.states) < len(tr.states)


def test_milo_npz_gives_state_only_transitions(tmp_path: Path) -> None:
    states = np.arange(10, dtype=np.float32).reshape(5, 2)
    path = MiloDataset(states, [3, 2], metadata={"kind": "expert"}).save(tmp_path / "e.npz")
    tr = load_transitions(path, ENV_ID)
    assert tr.actions is None and tr.episodes == 2
    assert tr.states.tolist() == [[0, 1], [2, 3], [6, 7]]
    assert tr.next_states.tolist() == [[2, 3], [4, 5], [8, 9]]
    assert from_milo_npz(path, max_episodes=1).states.shape == (2, 2)


def test_bad_files_and_mismatched_data_are_refused(tmp_path: Path, hopper_npz: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz is not a readable \.npz"):
        load_transitions(tmp_path / "junk.npz", ENV_ID)
    with pytest.raises(FileNotFoundError):
        load_transitions(tmp_path / "missing.npz", ENV_ID)
    with pytest.raises(ValueError, match="non-finite"):
        Transitions(torch.full((2, 2), float("nan")), None, torch.zeros(2, 2), 1, "x")
    tr = load_transitions(hopper_npz, ENV_ID)
    wrong = Transitions(tr.states[:, :5], tr.actions, tr.next_states[:, :5], 1, "other.npz")
    with pytest.raises(ValueError, match=r"other\.npz: states have 5 values .* another env"):
        Milo(gymnasium.make(ENV_ID), tr, wrong, MiloConfig(), progress=False)
    meta = {"kind": "expert", "env_id": "imitenvs/HumanoidAMP-v0"}
    path = MiloDataset(tr.states[:4].numpy(), [4], metadata=meta).save(tmp_path / "h.npz")
    with pytest.raises(ValueError, match=r"h\.npz was recorded on imitenvs/HumanoidAMP-v0, not "):
        Milo(gymnasium.make(ENV_ID), tr, load_transitions(path, ENV_ID), MiloConfig())


# ------------------------------------------------------------------------------ end to end
def test_toy_run_end_to_end(tmp_path: Path, hopper_npz: Path, capsys) -> None:
    script = load_script(ROOT / "examples/train_milo.py")
    out = tmp_path / "run"
    argv = ["--env", ENV_ID, "--offline", str(hopper_npz), "--expert", str(hopper_npz),
            "--preset", "tiny", "--out", str(out), "--baselines", "--bc-baseline-epochs", "1",
            "--bc-baseline-steps", "1",
            "--no-progress"]  # fmt: skip
    result = script.main(argv)
    history = json.loads((out / "history.json").read_text())
    assert [r["iteration"] for r in history] == [0, 2, 4]
    assert all(np.isfinite(r["return_mean"]) for r in history)
    assert set(result["bc"]) == {"bc_expert", "bc_expert_offline"}
    assert result["offline"]["transitions"] == 120
    assert json.loads(capsys.readouterr().out)["milo"] == result["milo"]
    state = torch.load(out / "policy.pt", weights_only=True)
    assert state["algo"] == "milo" and state["env_id"] == ENV_ID
    with pytest.raises(FileExistsError, match="already holds a run"):
        script.main(argv)


def test_benchmark_quick_runs_and_normalises(tmp_path: Path) -> None:
    bench = load_script(ROOT / "benchmarks/milo.py")
    result = bench.main(["--quick", "--out", str(tmp_path), "--plot", str(tmp_path / "c.png")])
    assert set(result["normalised"]) == set(bench.METHODS)
    run = result["runs"][0]
    r_rand, r_exp = result["random_return"], result["expert_return"]
    for name, raw in run["raw"].items():
        assert run["normalised"][name] == pytest.approx(100 * (raw - r_rand) / (r_exp - r_rand))
    assert (tmp_path / "c.png").stat().st_size > 0


def test_humanoid_evaluator_and_termination() -> None:
    """On our humanoids the evaluator reports the DTW pose error and the model env ends an
    episode when the pelvis (observation 0) drops below the env's termination height."""
    from imitenvs.agents.offline.milo import make_evaluator
    from imitenvs.agents.offline.model_env import task_termination

    env = gymnasium.make("imitenvs/HumanoidAMP-v0", motion_file="walk.yaml", max_episode_steps=8)
    policy = GaussianPolicy(105, 28, NPGConfig(policy_hidden=(8,)), seed=0)
    res = make_evaluator(env, episodes=1, seed=0)(policy)
    assert 1 <= res["episode_length"] <= 8 and res["dtw_pose_rmse"] > 0
    obs = torch.zeros(2, 105)
    obs[:, 0] = torch.tensor([0.3, 0.9])
    assert task_termination(env)(obs).tolist() == [True, False]
