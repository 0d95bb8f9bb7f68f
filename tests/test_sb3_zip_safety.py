"""SB3 model zips are read without unpickling: crafted zips are refused and never run code."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import stable_baselines3
import torch

from imitenvs.adapters import sb3_zip
from imitenvs.adapters.sb3_zip import (
    IGNORED_SERIALIZED,
    box_from_attributes,
    load_sb3_zip,
    policy_kwargs_from,
    save_sb3_zip,
)
from imitenvs.envs.imujoco import policies
from imitenvs.envs.imujoco.collect import train_expert
from imitenvs.envs.imujoco.policies import as_policy, load_policy

VARIANT = "hopper-massdec_25_leggeom"
ENV_ID = f"imitenvs/iMuJoCo-{VARIANT}-v0"


class _Touch:
    """Unpickling this creates ``marker``: the stand-in for any code a payload could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def _blob(marker: Path) -> str:
    return base64.b64encode(pickle.dumps(_Touch(marker))).decode()


def _payload_entry(marker: Path, **attributes: Any) -> dict[str, Any]:
    return {":type:": "<class 'Payload'>", ":serialized:": _blob(marker), **attributes}


def _craft(
    src: Path,
    dst: Path,
    edit: Callable[[dict[str, Any]], None] | None = None,
    members: dict[str, bytes] | None = None,
) -> Path:
    """Copy an SB3 zip, editing its ``data`` JSON and replacing members."""
    with zipfile.ZipFile(src) as inp, zipfile.ZipFile(dst, "w") as out:
        for name in inp.namelist():
            content = inp.read(name)
            if name == "data" and edit is not None:
                data = json.loads(content)
                edit(data)
                content = json.dumps(data).encode()
            out.writestr(name, (members or {}).get(name, content))
    return dst


@pytest.fixture(scope="module")
def sac_zip(tmp_path_factory, single_thread) -> Path:
    """A small SAC saved after a few updates (so rollout state is pickled too)."""
    env = gymnasium.make(ENV_ID)
    model = stable_baselines3.SAC(
        "MlpPolicy", env, learning_starts=10, batch_size=16, buffer_size=200, device="cpu",
        seed=0, policy_kwargs={"net_arch": [16, 16]},
    )  # fmt: skip
    model.learn(30)
    path = tmp_path_factory.mktemp("sac") / "sac.zip"
    model.save(path)
    return path


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PWNED"


def _same_actions(a: Any, b: Any, env: gymnasium.Env) -> None:
    for seed in range(3):
        obs = env.reset(seed=seed)[0]
        np.testing.assert_array_equal(as_policy(a)(obs), as_policy(b)(obs))


def test_own_sac_zip_loads_like_sb3(sac_zip) -> None:
    env = gymnasium.make(ENV_ID)
    reference = stable_baselines3.SAC.load(sac_zip, device="cpu")
    with_env, without_env = load_policy(sac_zip, env=env), load_policy(sac_zip)
    for model in (with_env, without_env):
        _same_actions(model, reference, env)
        assert model.num_timesteps == reference.num_timesteps == 30
        assert not model.policy.training and model.replay_buffer.buffer_size == 1
    assert without_env.observation_space == reference.observation_space
    assert without_env.action_space == reference.action_space


@pytest.mark.parametrize("algo", sb3_zip.ALGORITHMS)
def test_every_algorithm_writes_only_allowed_fields_and_loads(algo, tmp_path) -> None:
    assert (*sb3_zip.ALGORITHMS, "imitenvs") == policies.ALGORITHMS  # + our trainer
    env = gymnasium.make("Pendulum-v1")
    kwargs = {"net_arch": [8], "activation_fn": torch.nn.Tanh}
    model = getattr(stable_baselines3, algo.upper())("MlpPolicy", env, policy_kwargs=kwargs)
    model.save(tmp_path / "m.zip")
    data = sb3_zip.read_zip_data(tmp_path / "m.zip")
    assert {k for k, v in data.items() if sb3_zip.is_serialized(v)} <= IGNORED_SERIALIZED
    ours = load_sb3_zip(tmp_path / "m.zip", algo, env=None)
    reference = model.load(tmp_path / "m.zip", device="cpu")
    assert ours.policy_kwargs["activation_fn"] is torch.nn.Tanh
    _same_actions(ours, reference, env)


def test_extra_serialized_field_is_refused_and_never_decoded(sac_zip, tmp_path, marker) -> None:
    def add(data: dict[str, Any]) -> None:
        data["evil"] = _payload_entry(marker)

    crafted = _craft(sac_zip, tmp_path / "crafted.zip", add)
    with pytest.raises(ValueError, match=r"crafted\.zip.*'evil'.*Payload"):
        load_policy(crafted, env=gymnasium.make(ENV_ID))
    with pytest.raises(ValueError, match="'evil'"):
        load_sb3_zip(crafted)
    assert not marker.exists()


def test_pickled_policy_kwargs_with_unknown_class_is_refused(sac_zip, tmp_path, marker) -> None:
    def swap(data: dict[str, Any]) -> None:
        data["policy_kwargs"] = _payload_entry(
            marker, activation_fn="<class 'os.system'>", net_arch=[16, 16]
        ) | {":type:": "<class 'dict'>"}

    crafted = _craft(sac_zip, tmp_path / "kwargs.zip", swap)
    with pytest.raises(ValueError, match=r"activation_fn=.<class 'os\.system'>. is not one of"):
        load_policy(crafted, env=gymnasium.make(ENV_ID))
    assert not marker.exists()
    with pytest.raises(ValueError, match="unknown key 'evil'"):
        policy_kwargs_from({"net_arch": [4], "evil": 1}, "x.zip")
    with pytest.raises(ValueError, match="pickled <class 'Payload'>, not a dict"):
        policy_kwargs_from(_payload_entry(marker), "x.zip")


PLACES = ("observation_space", "action_space", "policy_class", "lr_schedule", "_last_obs",
          "train_freq", "replay_buffer_class", "ep_info_buffer")  # fmt: skip


def test_payload_in_an_allowed_field_is_ignored(sac_zip, tmp_path, marker) -> None:
    def poison(data: dict[str, Any]) -> None:
        for key in PLACES:
            data[key][":serialized:"] = _blob(marker)
        data["target_entropy"] = _payload_entry(marker)  # SB3 1.x: a pickled numpy float32

    crafted = _craft(sac_zip, tmp_path / "poisoned.zip", poison)
    env = gymnasium.make(ENV_ID)
    original = load_policy(sac_zip, env=env)
    _same_actions(load_policy(crafted, env=env), original, env)
    without_env = load_policy(crafted)  # Box rebuilt from plain attributes
    _same_actions(without_env, original, env)
    assert without_env.target_entropy == original.target_entropy == -3.0
    assert not marker.exists()


def test_spaces_without_plain_box_attributes_need_the_env(sac_zip, tmp_path, marker) -> None:
    def strip(data: dict[str, Any]) -> None:
        data["observation_space"] = _payload_entry(marker)

    crafted = _craft(sac_zip, tmp_path / "bare.zip", strip)
    with pytest.raises(ValueError, match=r"observation_space .*pass env="):
        load_policy(crafted)
    load_policy(crafted, env=gymnasium.make(ENV_ID))
    assert not marker.exists()
    box = {":type:": "<class 'gymnasium.spaces.box.Box'>", "_shape": [2], "dtype": "float32",
           "low": "[-inf  0.]", "high": "[inf 1.5]"}  # fmt: skip
    space = box_from_attributes(box, "observation_space", "x.zip")
    low, high = np.array([-np.inf, 0], np.float32), np.array([np.inf, 1.5], np.float32)
    assert space == gymnasium.spaces.Box(low, high)


def test_policy_pth_payload_is_refused(sac_zip, tmp_path, marker) -> None:
    buffer = io.BytesIO()
    torch.save({"actor.mu.weight": _Touch(marker)}, buffer)
    crafted = _craft(sac_zip, tmp_path / "pth.zip", members={"policy.pth": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"pth\.zip: policy\.pth refused"):
        load_policy(crafted, env=gymnasium.make(ENV_ID))
    assert not marker.exists()


def test_evaluate_command_refuses_crafted_zip_with_one_line(sac_zip, tmp_path, marker) -> None:
    crafted = _craft(sac_zip, tmp_path / "cli.zip", lambda d: d.update(evil=_payload_entry(marker)))
    argv = [sys.executable, "-m", "imitenvs", "data", "evaluate", str(crafted),
            VARIANT, "--episodes", "1", "--max-episode-steps", "5"]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode != 0, run.stdout
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'evil'" in lines[0], lines
    assert "return" not in run.stdout
    assert not marker.exists()


def test_resume_from_checkpoint_and_refuse_crafted_one(tmp_path, marker, single_thread) -> None:
    out = train_expert(VARIANT, 120, tmp_path / "sac", checkpoint_every=60, progress=False)
    folder = tmp_path / "sac_checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["sac_120_steps.zip", "sac_60_steps.zip"]
    checkpoint = folder / "sac_120_steps.zip"
    env = gymnasium.make(ENV_ID)
    ours = load_sb3_zip(checkpoint, env=env, training=True)
    reference = stable_baselines3.SAC.load(checkpoint, env=env, device="cpu")
    assert ours.num_timesteps == reference.num_timesteps == 120
    assert ours.replay_buffer.buffer_size == reference.replay_buffer.buffer_size == 120
    torch.testing.assert_close(ours.log_ent_coef, reference.log_ent_coef)
    for name in ("actor.optimizer", "critic.optimizer", "ent_coef_optimizer"):
        a, b = (m.get_parameters()[name]["state"] for m in (ours, reference))
        torch.testing.assert_close(a, b)

    resumed = train_expert(VARIANT, 10, tmp_path / "resumed", resume=checkpoint, progress=False)
    assert load_policy(resumed).num_timesteps == 130
    assert out.is_file() and not list(tmp_path.glob(".*.tmp"))

    crafted = _craft(
        checkpoint, tmp_path / "bad.zip", lambda d: d.update(evil=_payload_entry(marker))
    )
    with pytest.raises(ValueError, match="'evil'"):
        train_expert(VARIANT, 10, tmp_path / "again", resume=crafted, progress=False)
    assert not marker.exists() and not (tmp_path / "again.zip").exists()


def test_failed_save_keeps_the_previous_zip(sac_zip, tmp_path) -> None:
    model = load_policy(sac_zip)
    target = save_sb3_zip(model, tmp_path / "model")
    assert target.name == "model.zip"
    before = target.read_bytes()

    def broken(out: Any) -> None:
        out.write(b"half a zip")
        raise OSError("disk full")

    model.save = broken
    with pytest.raises(OSError, match="disk full"):
        save_sb3_zip(model, target)
    assert target.read_bytes() == before and sorted(tmp_path.iterdir()) == [target]
