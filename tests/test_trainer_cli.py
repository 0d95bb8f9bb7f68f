"""The one trainer, ``python -m imitenvs.agents.train``: one iteration of every algorithm at toy
size, train -> test round trips, argument files, logs and plot_log, and each bad input as one
``error:`` line with exit code 2."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imitenvs.agents import train
from imitenvs.agents.logs import read_log
from imitenvs.agents.plot_log import main as plot_log_main
from imitenvs.core.scripts import run_main

TINY = ["--iterations", "1", "--num-envs", "2", "--num-steps", "4", "--no-progress",
        "--eval-episodes", "1", "--no-video", "--pose-error-every", "0"]  # fmt: skip
RUNS = {  # run name: algorithm and the fastest env it supports
    "ppo": ["--algo", "ppo", "--env", "Pendulum-v1"],
    "awr": ["--algo", "awr", "--env", "Pendulum-v1", "--num-envs", "1"],
    "awr_humanoid": ["--algo", "awr", "--env", "imitenvs/HumanoidImitate-v0"],
    "amp": ["--algo", "amp", "--env", "imitenvs/Maze-v0"],
    "near": ["--algo", "near", "--env", "imitenvs/Maze-v0", "--energy-iterations", "5"],
    "deepmimic": ["--algo", "deepmimic", "--env", "imitenvs/HumanoidImitate-v0"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """One iteration of every algorithm: ``{name: {"out": folder, "summary": ...}}``."""
    out = {}
    for name, extra in RUNS.items():
        folder = tmp_path_factory.mktemp(name)
        logger = ["--logger", "none"] if name == "ppo" else []
        argv = [*TINY, *extra, *logger, "--out", str(folder)]
        out[name] = {"out": folder, "summary": train.main(argv)}
    return out


def _error_line(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """The one ``error:`` line of the trainer on ``argv`` (exit code 2)."""
    with pytest.raises(SystemExit) as exit_info:
        run_main(lambda: train.main(argv))
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_one_iteration_then_test_mode(
    name: str, runs: dict[str, dict], capsys: pytest.CaptureFixture
) -> None:
    run, algo = runs[name], RUNS[name][1]
    summary, folder = run["summary"], run["out"]
    assert summary["algo"] == algo and summary["iterations"] == 1
    assert summary["env_steps"] == 4 * (1 if name == "awr" else 2)
    checkpoint = folder / "checkpoint_last.pt"
    assert checkpoint.is_file()
    log = read_log(folder / "log.txt")
    assert log["Iteration"].tolist() == [1.0] and log["Samples"].tolist() == [summary["env_steps"]]
    assert "reward/total" in log
    events = list(folder.glob("events.out.tfevents.*"))
    assert (len(events) == 0) if name == "ppo" else (len(events) == 1)  # --logger none / tb
    capsys.readouterr()
    result = train.main(["--algo", algo, "--mode", "test", "--model-file", str(checkpoint),
                         "--episodes", "1", "--no-progress"])  # fmt: skip
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(result))
    assert result["env"] == RUNS[name][3] and result["episodes"] == 1
    assert result["iteration"] == 1 and "return" in result
    if "Humanoid" in result["env"]:
        assert result["pose_error"]["policy"]["dtw_pose_rmse"]["mean"] > 0.0


def test_test_mode_records_a_video(runs: dict[str, dict], tmp_path: Path) -> None:
    checkpoint = runs["deepmimic"]["out"] / "checkpoint_last.pt"
    video = tmp_path / "walk.gif"
    argv = ["--algo", "deepmimic", "--mode", "test", "--model-file", str(checkpoint),
            "--episodes", "1", "--video", str(video), "--no-progress"]  # fmt: skip
    result = train.main(argv)
    assert result["video"] == str(video) and video.stat().st_size > 0


def test_test_mode_refuses_another_algorithm_or_env(
    runs: dict[str, dict], capsys: pytest.CaptureFixture
) -> None:
    awr = str(runs["awr"]["out"] / "checkpoint_last.pt")
    line = _error_line(["--algo", "amp", "--mode", "test", "--model-file", awr], capsys)
    assert "trained with --algo awr, not amp" in line
    line = _error_line(["--algo", "awr", "--mode", "test", "--model-file", awr,
                        "--env", "imitenvs/Maze-v0"], capsys)  # fmt: skip
    assert "was trained on 'Pendulum-v1', not on 'imitenvs/Maze-v0'" in line
    amp = str(runs["amp"]["out"] / "checkpoint_last.pt")
    line = _error_line(["--algo", "near", "--mode", "test", "--model-file", amp], capsys)
    assert "--algo amp" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--algo", "nope"], "unknown algorithm 'nope'; choose one of ppo"),
        ([], "--algo is required"),
        (["--algo", "ppo", "--mode", "test"], "--mode test needs --model-file"),
        (["--algo", "ppo", "--mode", "play"], "--mode must be train or test"),
        (["--algo", "ppo", "--logger", "csv"], "logger='csv' is invalid"),
        (["--arg-file", "/no/such/args.txt"], "no argument file at /no/such/args.txt"),
        (["--algo", "ppo", "--mode", "test", "--model-file", "/no/ckpt.pt"], "/no/ckpt.pt"),
        (["--algo", "deepmimic", "--env", "imitenvs/HumanoidAMP-v0"], "tracks a reference clip"),
        (["--algo", "amp", "--env", "Pendulum-v1"], "--algo amp has presets for the"),
        (["--algo", "ppo", "--env", "imitenvs/Nope-v0"], "unknown env id 'imitenvs/Nope-v0'"),
        (["--algo", "awr", "--env", "NoSuchEnv-v9"], "unknown env id 'NoSuchEnv-v9'"),
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    line = _error_line([*argv, "--out", str(tmp_path)], capsys)
    assert message in line, line


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_wandb_without_the_package_is_one_error_line(capsys: pytest.CaptureFixture) -> None:
    line = _error_line(["--algo", "ppo", "--logger", "wandb"], capsys)
    assert "needs the wandb package" in line


def test_arg_file_reads_mimickit_tokens_and_the_command_line_wins(tmp_path: Path) -> None:
    args_file = tmp_path / "args.txt"
    args_file.write_text(
        "# AWR on the pendulum\n--algo awr   --env Pendulum-v1\n"
        "--num_envs 4  # MimicKit's spelling\n\n--seed 7\n"
    )
    args = train.parse_args(["--arg-file", str(args_file), "--seed", "3"])
    assert (args.algo, args.env, args.num_envs, args.seed) == ("awr", "Pendulum-v1", 4, 3)
    nested = tmp_path / "nested.txt"
    nested.write_text(f"--arg-file {args_file}\n")
    with pytest.raises(ValueError, match="cannot name another --arg-file"):
        train.parse_args(["--arg-file", str(nested)])


def test_plot_log_draws_the_curves(runs: dict[str, dict], tmp_path: Path) -> None:
    logs = [str(runs[a]["out"] / "log.txt") for a in ("awr", "ppo")]
    out = plot_log_main([*logs, "--y", "reward/total,Wall_Time", "--out", str(tmp_path / "c.png")])
    assert out.stat().st_size > 0
    with pytest.raises(ValueError, match="no column"):
        plot_log_main([logs[0], "--y", "nope", "--out", str(tmp_path / "d.png")])


def test_the_module_runs_as_a_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "imitenvs.agents.train", "--algo", "sac"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown algorithm 'sac'")
