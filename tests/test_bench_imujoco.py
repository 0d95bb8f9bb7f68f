"""iMuJoCo reference scores: random rows for every id, expert rows from SAC zips, the
``imujoco-hopper`` suite and the errors for ids without an expert row."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import gymnasium
import pytest

from imitenvs.bench import get_normalized_score, get_reference, reference_scores, suite_ids
from imitenvs.bench import scores as scores_module
from imitenvs.bench.evaluation import evaluate_policy
from imitenvs.bench.scores import parse_reference_table
from imitenvs.cli import main as cli_main
from imitenvs.core.scripts import load_script
from imitenvs.envs.imujoco.grid import REGISTERED_VARIANTS, parse_variant
from imitenvs.envs.imujoco.policies import as_policy, load_policy

ROOT = Path(__file__).resolve().parents[1]
VARIANT = "hopper-massdec_25_leggeom"  # gets a tiny SAC expert
OTHER = "hopper-massinc_50_leggeom"  # random row only
ENV_ID, OTHER_ID = parse_variant(VARIANT).env_id, parse_variant(OTHER).env_id
SHIPPED_EXPERT = "imitenvs/iMuJoCo-hopper-massdec_25_footgeom-v0"  # our SAC (runs/sac_hopper)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script(ROOT / "benchmarks" / "reference_scores.py")


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory, single_thread: None) -> Iterator[Path]:
    """A folder holding a tiny SAC (300 steps, a few seconds) as ``sac-<VARIANT>.zip``."""
    from imitenvs.envs.imujoco.collect import train_expert

    out = tmp_path_factory.mktemp("imujoco_sac")
    mp = pytest.MonkeyPatch()
    mp.setenv("IMITENVS_CACHE", str(out / "cache"))
    trained = train_expert(
        VARIANT, 300, out / "train" / "sac.zip", checkpoint_every=300, progress=False
    )
    (out / "policies").mkdir()
    shutil.copy(trained, out / "policies" / f"sac-{VARIANT}.zip")
    yield out / "policies"
    mp.undo()


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "reference_scores.json"
    shutil.copy(ROOT / "assets" / "benchmark" / "reference_scores.json", path)
    return path


def _measure(script: ModuleType, out: Path, *extra: str) -> None:
    argv = ["--out", str(out), "--only", "imujoco", "--imujoco-variants", f"{VARIANT},{OTHER}",
            "--imujoco-random-episodes", "3", "--imujoco-expert-episodes", "2", *extra]  # fmt: skip
    script.main(argv)


def _use_table(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    table = parse_reference_table(json.loads(path.read_text()), str(path))
    monkeypatch.setattr(scores_module, "reference_scores", lambda: table)


def test_measured_rows_normalise_and_make_the_hopper_suite(
    script: ModuleType,
    policy_dir: Path,
    table: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _measure(script, table, "--imujoco-policies", str(policy_dir))
    document = json.loads(table.read_text())
    assert "--imujoco-policies" in document["measured_with_imujoco"]
    row, other = document["scores"][ENV_ID], document["scores"][OTHER_ID]
    zip_path = policy_dir / f"sac-{VARIANT}.zip"
    sha = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert row["variant"] == VARIANT and row["random_stats"]["episodes"] == 3
    assert row["random"] == pytest.approx(row["random_stats"]["mean"])
    assert "uniform random" in row["random_how"] and "2000..2002" in row["random_how"]
    assert f"sac-{VARIANT}.zip (sha256 {sha}" in row["expert_how"]
    assert "deterministic" in row["expert_how"] and "1000..1001" in row["expert_how"]
    assert row["expert_policy"] == {
        "file": zip_path.name, "sha256": sha, "num_timesteps": 300,
        "given_as": "--imujoco-policies",
    }  # fmt: skip
    # the expert value is the zip's deterministic return on env seeds 1000, 1001
    env = gymnasium.make(ENV_ID)
    model = load_policy(zip_path, env=env)
    env.close()
    assert row["expert"] == pytest.approx(
        sum(evaluate_policy(ENV_ID, as_policy(model), [1000, 1001])) / 2
    )
    assert "expert" not in other and "uniform random" in other["random_how"]
    # rows of other ids are kept
    shipped = json.loads((ROOT / "assets" / "benchmark" / "reference_scores.json").read_text())
    assert document["scores"]["imitenvs/Maze-v0"] == shipped["scores"]["imitenvs/Maze-v0"]

    _use_table(monkeypatch, table)
    assert get_normalized_score(ENV_ID, row["random"]) == pytest.approx(0.0)
    assert get_normalized_score(ENV_ID, row["expert"]) == pytest.approx(100.0)
    assert get_reference(OTHER_ID).random == pytest.approx(other["random"])
    with pytest.raises(ValueError, match=f"{OTHER_ID}.*no expert one") as info:
        get_normalized_score(OTHER_ID, 1.0)
    assert "\n" not in str(info.value)
    ids = suite_ids("imujoco-hopper")
    assert ENV_ID in ids and OTHER_ID not in ids
    assert all(i.startswith("imitenvs/iMuJoCo-hopper-") for i in ids)
    # bench run refuses an id with a random row only: one error line, nothing written
    capsys.readouterr()
    argv = ["bench", "run", "--env", OTHER_ID, "--algo", "imitenvs.bench.algos:random_policy",
            "--seeds", "1", "--out", str(table.parent / "r")]  # fmt: skip
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no expert one" in err[0]
    assert not (table.parent / "r").exists()

    # measuring again without the zip keeps the expert of the row in --out
    _measure(script, table)
    again = json.loads(table.read_text())["scores"]
    assert again[ENV_ID]["expert"] == row["expert"]
    assert again[ENV_ID]["expert_how"] == row["expert_how"]
    assert again[ENV_ID]["random"] == row["random"]  # seeded: reproducible


def test_single_zip_with_a_note(script: ModuleType, policy_dir: Path, table: Path) -> None:
    zip_path = policy_dir / f"sac-{VARIANT}.zip"
    note = f"{VARIANT}=A tiny test SAC."
    _measure(script, table, "--imujoco-policy", f"{VARIANT}={zip_path}", "--imujoco-note", note)
    row = json.loads(table.read_text())["scores"][ENV_ID]
    assert row["expert_policy"]["given_as"] == "--imujoco-policy"
    assert row["expert_how"].endswith("A tiny test SAC.")


def test_a_trainer_checkpoint_is_an_expert(script: ModuleType, table: Path, tmp_path: Path) -> None:
    """A ``.pt`` path is read as a checkpoint of our trainer (the shipped hopper expert is one)."""
    from imitenvs.agents.train import main as train_main

    out = tmp_path / "run"
    train_main(["--algo", "ppo", "--env", ENV_ID, "--num-envs", "2", "--iterations", "1",
                "--num-steps", "8", "--out", str(out), "--logger", "none", "--no-video",
                "--no-progress", "--eval-episodes", "1"])  # fmt: skip
    ckpt = out / "checkpoint_last.pt"
    _measure(script, table, "--imujoco-policy", f"{VARIANT}={ckpt}")
    row = json.loads(table.read_text())["scores"][ENV_ID]
    assert row["expert_how"].startswith("our trainer's PPO checkpoint checkpoint_last.pt")
    assert "16 env steps stored in the file" in row["expert_how"]
    other = out / "other.pt"
    other.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load it as a trainer checkpoint"):
        _measure(script, table, "--imujoco-policy", f"{VARIANT}={other}")


def _error_line(script: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        script.run_main(lambda: script.main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("sac-hopper-massdec_25_nosuchgeom.zip", None, "nosuchgeom"),
        ("sac-hopper-massinc_999_leggeom.zip", None, "not one of the 154 registered"),
        (f"sac-{VARIANT}.zip", b"not a zip", "cannot load it as the SAC policy"),
        ("sac-halfcheetah-massdec_50_torso.zip", None, "cannot load it as the SAC policy"),
    ],
)
def test_bad_zips_are_one_error_line(
    script: ModuleType,
    policy_dir: Path,
    table: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    needle: str,
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    good = (policy_dir / f"sac-{VARIANT}.zip").read_bytes()
    (bad / name).write_bytes(good if content is None else content)
    before = table.read_bytes()
    argv = ["--out", str(table), "--only", "imujoco", "--imujoco-policies", str(bad)]
    line = _error_line(script, argv, capsys)
    assert needle in line and name in line
    assert table.read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--imujoco-policy", "nope"], "VARIANT=PATH"),
        (["--imujoco-policy", f"{VARIANT}=/no/such.zip"], "no file"),
        (["--imujoco-policies", "/no/such/dir"], "not a folder"),
        (["--imujoco-variants", "hopper-massdec_25_leggeom,walker9-x"], "walker9"),
        (["--imujoco-note", f"{VARIANT}=x"], "no policy is given"),
    ],
)
def test_bad_arguments_are_one_error_line(
    script: ModuleType,
    table: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    needle: str,
) -> None:
    argv = ["--out", str(table), "--only", "imujoco", *extra]
    assert needle in _error_line(script, argv, capsys)


def test_zip_for_a_variant_outside_the_measured_ones_is_refused(
    script: ModuleType, policy_dir: Path, table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--out", str(table), "--only", "imujoco", "--imujoco-variants", OTHER,
            "--imujoco-policies", str(policy_dir)]  # fmt: skip
    assert "not measured" in _error_line(script, argv, capsys)


# ----------------------------------------------------------------------------- shipped table
def test_shipped_table_has_a_random_row_for_every_imujoco_id() -> None:
    table = reference_scores()
    for variant in REGISTERED_VARIANTS:
        ref = table[parse_variant(variant).env_id]
        assert "uniform random" in ref.random_how
    cheetah = table[parse_variant("halfcheetah-massdec_50_torso").env_id]
    assert "HalfCheetah episodes never terminate early" in cheetah.random_how


def test_shipped_hopper_suite_has_our_expert() -> None:
    ids = suite_ids("imujoco-hopper")
    assert SHIPPED_EXPERT in ids
    ref = get_reference(SHIPPED_EXPERT)
    assert ref.expert is not None and ref.expert > ref.random + 100
    assert ref.expert_how is not None and "sha256 " in ref.expert_how
    assert get_normalized_score(SHIPPED_EXPERT, ref.expert) == pytest.approx(100.0)
    for env_id in ids:
        assert get_reference(env_id).has_expert


def test_empty_table_suite_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"random": 0.0, "random_how": "r"}
    table = parse_reference_table({"scores": {SHIPPED_EXPERT: row}})
    monkeypatch.setattr(scores_module, "reference_scores", lambda: table)
    assert not table[SHIPPED_EXPERT].has_expert
    with pytest.raises(ValueError, match="suite 'imujoco-hopper' is empty"):
        suite_ids("imujoco-hopper")


def test_parse_reference_table_random_only_rows() -> None:
    table = parse_reference_table({"scores": {"a": {"random": 1.0, "random_how": "r"}}})
    assert (table["a"].expert, table["a"].expert_how) == (None, None)
    with pytest.raises(ValueError, match="'a' has a random reference return"):
        table["a"].normalize(1.0)
    with pytest.raises(ValueError, match="bad row for 'a'"):  # expert without expert_how
        parse_reference_table({"scores": {"a": {"random": 1.0, "random_how": "r", "expert": 2}}})
