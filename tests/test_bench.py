"""The benchmark harness: normalised scores, suites, IQM / stratified bootstrap, run + report."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import imitenvs
from imitenvs.bench import SUITES, get_normalized_score, get_reference, reference_scores, suite_ids
from imitenvs.bench.scores import parse_reference_table
from imitenvs.bench.stats import bootstrap_replicates, iqm, stratified_bootstrap_ci
from imitenvs.cli import main
from imitenvs.core.scripts import load_script

TINY = "imitenvs/RoomDefault-v0"  # 20-step episodes: a run takes milliseconds


# ----------------------------------------------------------------------------- normalisation
def test_normalized_score_maps_random_to_0_and_expert_to_100() -> None:
    ref = get_reference(TINY)
    assert imitenvs.get_normalized_score(TINY, ref.random) == pytest.approx(0.0)
    assert get_normalized_score(TINY, ref.expert) == pytest.approx(100.0)
    mid = (ref.random + ref.expert) / 2
    assert get_normalized_score("RoomDefault-v0", mid) == pytest.approx(50.0)  # prefix optional
    assert get_normalized_score(TINY, 2 * ref.expert - ref.random) == pytest.approx(200.0)
    maze = get_reference("imitenvs/Maze-v0")
    assert get_normalized_score("imitenvs/Maze-v0", 0.0) == pytest.approx(
        100 * (0.0 - maze.random) / (maze.expert - maze.random)
    )


@pytest.mark.parametrize("env_id", ["imitenvs/NoSuchEnv-v0", "imitenvs/ApplesDefault-v0"])
def test_unknown_id_is_one_value_error_naming_it(env_id: str) -> None:
    with pytest.raises(ValueError, match=env_id):
        get_normalized_score(env_id, 1.0)


def test_reference_table_rows_say_how_they_were_measured() -> None:
    table = reference_scores()
    assert {"imitenvs/Maze-v0", "imitenvs/PushT-v0", TINY} <= set(table)
    for ref in table.values():
        assert ref.random_how
        if ref.has_expert or not ref.env_id.startswith("imitenvs/iMuJoCo-"):
            assert ref.expert is not None and ref.expert > ref.random
            assert ref.expert_how


def test_shipped_gridworld_rows_reproduce_by_dynamic_programming() -> None:
    script = load_script(Path(__file__).resolve().parents[1] / "benchmarks" / "reference_scores.py")
    for env_id in ("imitenvs/RoomDefault-v0", "imitenvs/BatteriesEasy-v0"):
        expert, random, horizon = script.dp_returns(env_id)
        ref = get_reference(env_id)
        assert (ref.expert, ref.random, horizon) == pytest.approx((expert, random, 20))


def test_every_suite_id_has_reference_scores() -> None:
    assert {"planar", "gridworlds", "humanoid-walk"} <= set(SUITES)
    for name in SUITES:
        for env_id in suite_ids(name):
            assert get_reference(env_id).make_id in imitenvs.list_envs()
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        suite_ids("nope")


def test_parse_reference_table_rejects_bad_documents() -> None:
    with pytest.raises(ValueError, match="not a reference-score table"):
        parse_reference_table([])
    with pytest.raises(ValueError, match="bad row for 'a'"):
        parse_reference_table({"scores": {"a": {"random": 0.0}}})
    row = {"random": 1.0, "expert": 1.0, "random_how": "x", "expert_how": "y"}
    with pytest.raises(ValueError, match="expert == random"):
        parse_reference_table({"scores": {"a": row}})
    row["expert"] = 2.0
    with pytest.raises(ValueError, match="key must be a task name"):
        parse_reference_table({"scores": {"a": {**row, "env_kwargs": {"k": 1}}}})
    with pytest.raises(ValueError, match="env_kwargs must be an object"):
        parse_reference_table({"scores": {"a@b": {**row, "env_id": "a", "env_kwargs": [1]}}})
    ref = parse_reference_table(
        {"scores": {"a@b": {**row, "env_id": "a", "env_kwargs": {"k": [1]}}}}
    )
    assert (ref["a@b"].make_id, ref["a@b"].env_kwargs) == ("a", {"k": (1,)})
    assert parse_reference_table({"scores": {"a": row}})["a"].make_id == "a"


# ----------------------------------------------------------------------------- humanoid walk
HUMANOID_WALK = "imitenvs/HumanoidImitate-v0@walk"


def test_humanoid_walk_row_is_the_cards_evaluation_env() -> None:
    from imitenvs.agents.evaluation import evaluation_kwargs
    from imitenvs.assets import asset_path

    card = json.loads(asset_path("policies", "deepmimic_walk.json").read_text())
    ref = get_reference(HUMANOID_WALK)
    assert suite_ids("humanoid-walk") == (HUMANOID_WALK,)
    assert ref.make_id == card["env_id"] == "imitenvs/HumanoidImitate-v0"
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in card["env_kwargs"].items()}
    assert ref.env_kwargs == evaluation_kwargs(expected)
    assert ref.env_kwargs["reference_obs_steps"] == (1,)
    assert ref.env_kwargs["pose_termination_distance"] == 0.0
    # the card's own evaluation (20 episodes, seeds 10000..) agrees with the expert row
    assert ref.expert == pytest.approx(card["evaluation"]["return"]["mean"], abs=2.0)
    assert ref.random < 0.05 * ref.expert
    assert "pretrained:deepmimic_walk" in ref.expert_how and "uniform random" in ref.random_how


def test_humanoid_walk_measurement_script_on_a_tiny_budget() -> None:
    script = load_script(Path(__file__).resolve().parents[1] / "benchmarks" / "reference_scores.py")
    row = script.humanoid_walk_row(random_episodes=2, expert_episodes=1)
    ref = get_reference(HUMANOID_WALK)
    assert row["env_id"] == ref.make_id
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in row["env_kwargs"].items()} == (
        ref.env_kwargs
    )
    assert row["expert"] == pytest.approx(ref.expert, abs=3.0)
    assert row["random"] < 20.0 and row["expert_stats"]["episodes"] == 1


# ----------------------------------------------------------------------------- statistics
def _brute_iqm(values: list[float]) -> float:
    x = sorted(values)
    k = len(x) // 4
    return float(np.mean(x[k : len(x) - k]))


def test_iqm_by_hand_and_brute_force() -> None:
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm(np.array([0, 0, 1, 2, 3, 4, 100, 100.0])) == pytest.approx(2.5)
    rng = np.random.default_rng(1)
    for n in (4, 7, 12, 13):
        values = rng.normal(size=n).tolist()
        assert iqm(np.array(values)) == pytest.approx(_brute_iqm(values))


def test_stratified_bootstrap_matches_exhaustive_enumeration() -> None:
    scores = {"a": [0.0, 10.0], "b": [100.0, 300.0, 500.0]}
    # every equally likely stratified resample: 2**2 index tuples for a, 3**3 for b
    exact = []
    for ia in itertools.product(range(2), repeat=2):
        for ib in itertools.product(range(3), repeat=3):
            pooled = [scores["a"][i] for i in ia] + [scores["b"][i] for i in ib]
            exact.append(float(np.mean(pooled)))
    exact_arr = np.array(exact)
    reps = bootstrap_replicates(scores, lambda x: float(np.mean(x)), reps=20000, seed=3)
    assert set(np.round(reps, 9)) <= set(np.round(exact_arr, 9))  # stratified: counts kept
    assert reps.mean() == pytest.approx(exact_arr.mean(), abs=2.0)
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(reps, q) == pytest.approx(np.quantile(exact_arr, q), abs=25.0)
    point, low, high = stratified_bootstrap_ci(scores, lambda x: float(np.mean(x)), 4000)
    assert point == pytest.approx(np.mean([0, 10, 100, 300, 500]))
    assert low < point < high


def test_bootstrap_ci_of_constant_scores_is_a_point() -> None:
    point, low, high = stratified_bootstrap_ci({"a": [5.0, 5.0], "b": [5.0]}, iqm, reps=50)
    assert point == low == high == 5.0
    with pytest.raises(ValueError, match="no scores"):
        stratified_bootstrap_ci({})


# ----------------------------------------------------------------------------- end to end
ALGO_MODULE = '''
from imitenvs.bench import get_reference


def expert_returns(env_id, seed):
    """pretends to score the expert's return on every episode"""
    return [get_reference(env_id).expert] * 2


def noop_policy(env_id, seed):
    return lambda obs: 0


def not_a_policy(env_id, seed):
    return "nope"


SEEN = []


class _Zero:
    def __init__(self, space):
        self.space = space

    def reset(self, env):
        SEEN.append(("reset", dict(env.spec.kwargs)))

    def __call__(self, obs):
        SEEN.append(("obs", obs.shape))
        return self.space.sample() * 0


def kwargs_policy(env_id, seed, env_kwargs=None):
    import gymnasium

    SEEN.append(("call", env_id, seed, env_kwargs))
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    space = env.action_space
    env.close()
    return _Zero(space)
'''


@pytest.fixture
def algo_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "bench_algos_for_tests.py").write_text(ALGO_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "bench_algos_for_tests"


def test_run_and_report_end_to_end(
    tmp_path: Path, algo_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    common = ["bench", "run", "--env", TINY, "--seeds", "2", "--episodes", "2", "--out", str(out)]
    assert main([*common, "--algo", f"{algo_module}:expert_returns"]) == 0
    assert main([*common, "--algo", f"{algo_module}:noop_policy"]) == 0
    run = json.loads((out / "noop_policy" / "RoomDefault-v0" / "seed_1.json").read_text())
    assert run["eval_seeds"] == [1_001_000, 1_001_001] and len(run["returns"]) == 2
    assert run["normalized_score"] == pytest.approx(get_normalized_score(TINY, run["mean_return"]))
    mtime = (out / "noop_policy" / "RoomDefault-v0" / "seed_1.json").stat().st_mtime_ns
    assert main([*common, "--algo", f"{algo_module}:noop_policy"]) == 0  # resumes: skips
    assert (out / "noop_policy" / "RoomDefault-v0" / "seed_1.json").stat().st_mtime_ns == mtime
    capsys.readouterr()

    assert main(["bench", "report", str(out), "--reps", "200"]) == 0
    printed = capsys.readouterr().out
    assert "| `imitenvs/RoomDefault-v0` |" in printed and "IQM" in printed
    report = json.loads((out / "report.json").read_text())
    expert = report["algorithms"]["expert_returns"]
    assert expert["per_env"][TINY]["normalized_scores"] == pytest.approx([100.0, 100.0])
    assert expert["aggregate"]["iqm"] == pytest.approx(
        {"estimate": 100.0, "ci_low": 100.0, "ci_high": 100.0}
    )
    assert set(report["algorithms"]) == {"expert_returns", "noop_policy"}
    assert (out / "report.md").read_text().startswith("| id |")
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--suite", "nope", "--algo", "imitenvs.bench.algos:random_policy"], "unknown suite"),
        (["--suite", "planar", "--algo", "no_such_module_zz:fn"], "no_such_module_zz"),
        (["--suite", "planar", "--algo", "imitenvs.bench.algos:nothing"], "no attribute"),
        (["--suite", "planar", "--algo", "no_colon"], "module:callable"),
        (
            ["--env", "imitenvs/ApplesDefault-v0", "--algo", "imitenvs.bench.algos:random_policy"],
            "imitenvs/ApplesDefault-v0",
        ),
        (["--algo", "imitenvs.bench.algos:random_policy"], "--suite"),
        (
            ["--suite", "maze", "--algo", "imitenvs.bench.algos:random_policy", "--seeds", "0"],
            "seeds",
        ),
    ],
)
def test_bad_run_input_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert main(["bench", "run", *args, "--out", str(tmp_path / "r")]) == 2
    assert needle in _error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_bad_algorithm_result_and_empty_report(
    tmp_path: Path, algo_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "run", "--env", TINY, "--seeds", "1", "--out", str(tmp_path / "r")]
    assert main([*argv, "--algo", f"{algo_module}:not_a_policy"]) == 2
    assert "expected a policy" in _error_line(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["bench", "report", str(tmp_path / "empty")]) == 2
    assert "no run files" in _error_line(capsys)
    assert main(["bench", "report", str(tmp_path / "missing")]) == 2
    assert "no results folder" in _error_line(capsys)


def test_kwargs_task_makes_the_env_with_them_and_passes_them_to_the_algorithm(
    tmp_path: Path, algo_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    import gymnasium

    ref = get_reference(HUMANOID_WALK)
    out = tmp_path / "r"
    argv = ["bench", "run", "--suite", "humanoid-walk", "--seeds", "1", "--episodes", "2"]
    assert main([*argv, "--algo", f"{algo_module}:kwargs_policy", "--out", str(out)]) == 0
    seen = importlib.import_module(algo_module).SEEN
    assert seen[0] == ("call", ref.make_id, 0, ref.env_kwargs)
    resets = [s[1] for s in seen if s[0] == "reset"]
    assert len(resets) == 2
    for kwargs in resets:
        assert {k: kwargs[k] for k in ref.env_kwargs} == ref.env_kwargs
    shapes = []
    for kwargs in ({}, ref.env_kwargs):
        env = gymnasium.make(ref.make_id, **kwargs)
        shapes.append(env.observation_space.shape)
        env.close()
    default_obs, walk_obs = shapes
    assert default_obs != walk_obs  # reference_obs_steps=(1,) changes the observation
    assert {s[1] for s in seen if s[0] == "obs"} == {walk_obs}
    run = json.loads(
        (out / "kwargs_policy" / "HumanoidImitate-v0@walk" / "seed_0.json").read_text()
    )
    assert run["env_id"] == HUMANOID_WALK and run["make_id"] == ref.make_id
    assert run["env_kwargs"]["reference_obs_steps"] == [1] and len(run["returns"]) == 2
    # the shipped random policy takes env_kwargs too and scores about 0
    argv = [*argv, "--out", str(out)]
    assert main([*argv, "--algo", "imitenvs.bench.algos:random_policy"]) == 0
    run = json.loads(
        (out / "random_policy" / "HumanoidImitate-v0@walk" / "seed_0.json").read_text()
    )
    assert -5.0 < run["normalized_score"] < 5.0
    # a callable without an env_kwargs keyword is refused before anything runs
    capsys.readouterr()
    bad = [*argv[:-2], "--out", str(tmp_path / "bad"), "--algo", f"{algo_module}:noop_policy"]
    assert main(bad) == 2
    assert "must take an env_kwargs keyword" in _error_line(capsys)
    assert not (tmp_path / "bad").exists()


def test_pretrained_deepmimic_walk_scores_about_100(tmp_path: Path) -> None:
    argv = ["bench", "run", "--suite", "humanoid-walk", "--seeds", "1", "--episodes", "1"]
    algo = "imitenvs.bench.algos:pretrained_deepmimic_walk"
    assert main([*argv, "--algo", algo, "--out", str(tmp_path)]) == 0
    path = tmp_path / "pretrained_deepmimic_walk" / "HumanoidImitate-v0@walk" / "seed_0.json"
    run = json.loads(path.read_text())
    assert run["normalized_score"] == pytest.approx(100.0, abs=2.0)
    from imitenvs.bench.algos import pretrained_deepmimic_walk

    with pytest.raises(ValueError, match="trained on imitenvs/HumanoidImitate-v0"):
        pretrained_deepmimic_walk("imitenvs/Maze-v0", 0)
