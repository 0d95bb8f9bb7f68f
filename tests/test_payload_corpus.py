"""A corpus of malicious files, one per container we read, through every loader and CLI.

Each payload is a pickle whose loading would create a marker file (the stand-in for any code
an attacker could run). For every loader and every command line that reads such a file, the
test asserts that the marker never appears and that the refusal is one clear error line that
names the file (a CLI exits with code 2 and an ``error:`` line, not a traceback).
"""

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
import torch

REPO = Path(__file__).resolve().parents[1]


class Touch:
    """Unpickling this creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def _object_array(value: Any) -> np.ndarray:
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr


# ------------------------------------------------------------------------- the corpus
def runner_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"format": "imitenvs.runner.checkpoint", "run": {}, "x": Touch(marker)}, path)
    return path


def policy_file(path: Path, marker: Path) -> Path:
    torch.save({"format": "imitenvs.policy", "model": Touch(marker)}, path)
    return path


def energy_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"format": "imitenvs.near.energy", "state": Touch(marker)}, path)
    return path


def sb3_zip(path: Path, marker: Path) -> Path:
    blob = base64.b64encode(pickle.dumps(Touch(marker))).decode()
    data = {"gamma": 0.99, "evil": {":type:": "<class 'x'>", ":serialized:": blob}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        buffer = io.BytesIO()
        torch.save({"w": Touch(marker)}, buffer)
        zf.writestr("policy.pth", buffer.getvalue())
    return path


def mimickit_pkl(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"loop_mode": 0, "fps": 30, "frames": Touch(marker)}))
    return path


def amp_npy(path: Path, marker: Path) -> Path:
    np.save(path, _object_array({"rotation": Touch(marker)}), allow_pickle=True)
    return path


def demo_npz(path: Path, marker: Path) -> Path:
    meta = json.dumps({"format": "imitenvs-demos", "format_version": 1})
    np.savez(path, states=_object_array(Touch(marker)), episode_ends=np.array([1]),
             metadata=np.array(meta))  # fmt: skip
    return path


def clip_npz(path: Path, marker: Path) -> Path:
    np.savez(path, format_version=np.array(1), root_pos=_object_array(Touch(marker)))
    return path


def imujoco_npz(path: Path, marker: Path) -> Path:
    np.savez(path, data=_object_array(Touch(marker)))
    return path


def zarr_store(path: Path, marker: Path) -> Path:
    import numcodecs
    import zarr

    root = zarr.open_group(str(path), mode="w")
    root.create_dataset("meta/episode_ends", data=np.array([2], dtype=np.int64))
    evil = root.create_dataset("data/state", shape=(2,), dtype=object,
                               object_codec=numcodecs.Pickle())  # fmt: skip
    evil[:] = np.array([Touch(marker), Touch(marker)], dtype=object)
    return path


def motion_yaml(path: Path, marker: Path) -> Path:
    path.write_text(f"motions: !!python/object/apply:pathlib.Path.touch [{str(marker)!r}]\n")
    return path


CORPUS: dict[str, tuple[str, Callable[[Path, Path], Path]]] = {
    "runner_checkpoint": ("checkpoint.pt", runner_checkpoint),
    "policy_file": ("policy.pt", policy_file),
    "energy_checkpoint": ("energy.pt", energy_checkpoint),
    "sb3_zip": ("sac.zip", sb3_zip),
    "mimickit_pkl": ("clip.pkl", mimickit_pkl),
    "amp_npy": ("clip.npy", amp_npy),
    "demo_npz": ("demos.npz", demo_npz),
    "clip_npz": ("clip.npz", clip_npz),
    "imujoco_npz": ("hopper.npz", imujoco_npz),
    "motion_yaml": ("motions.yaml", motion_yaml),
    "zarr_store": ("demos.zarr", zarr_store),
}


# ------------------------------------------------------------------------------ loaders
def _load_runner(path: Path) -> None:
    from imitenvs.agents.evaluation import load_policy

    load_policy(path)


def _resume_runner(path: Path) -> None:
    from imitenvs.agents.onpolicy.ppo import PPOConfig
    from imitenvs.agents.onpolicy.runner import RunConfig, Runner

    runner = Runner(RunConfig(env_id="imitenvs/Maze-v0", num_envs=1, progress=False),
                    PPOConfig(num_steps=2, num_minibatches=1, epochs=1))  # fmt: skip
    try:
        runner.load(path)
    finally:
        runner.close()


def _load_energy(path: Path) -> None:
    from imitenvs.agents.adversarial.near import load_energy

    load_energy(path)


def _load_sb3(path: Path) -> None:
    from imitenvs.envs.imujoco.policies import load_policy

    load_policy(path, env=gymnasium.make("imitenvs/iMuJoCo-hopper-massdec_25_leggeom-v0"))


def _read_motion(path: Path) -> None:
    from imitenvs.motion.formats import read_motion

    read_motion(path)


def _make_humanoid(path: Path) -> None:
    gymnasium.make("imitenvs/HumanoidAMP-v0", motion_file=str(path))


def _load_demos(path: Path) -> None:
    from imitenvs.data.demos import DemoDataset

    DemoDataset.load(path)


def _load_imujoco(path: Path) -> None:
    from imitenvs.envs.imujoco.dataset import load_npz

    load_npz(path, "Hopper-v3")


def _load_zarr(path: Path) -> None:
    from imitenvs.data.zarr_demos import read_zarr_demos

    read_zarr_demos(path)


def _load_motion_dataset(path: Path) -> None:
    from imitenvs.motion.dataset import read_dataset

    read_dataset(path)


LOADERS: list[tuple[str, Callable[[Path], None]]] = [
    ("runner_checkpoint", _load_runner),
    ("runner_checkpoint", _resume_runner),
    ("policy_file", _load_runner),
    ("energy_checkpoint", _load_energy),
    ("sb3_zip", _load_sb3),
    ("mimickit_pkl", _read_motion),
    ("mimickit_pkl", _make_humanoid),
    ("amp_npy", _read_motion),
    ("amp_npy", _make_humanoid),
    ("demo_npz", _load_demos),
    ("clip_npz", _read_motion),
    ("clip_npz", _make_humanoid),
    ("imujoco_npz", _load_imujoco),
    ("motion_yaml", _load_motion_dataset),
    ("motion_yaml", _make_humanoid),
    ("zarr_store", _load_zarr),
]


def _make(kind: str, tmp_path: Path) -> tuple[Path, Path]:
    name, make = CORPUS[kind]
    marker = tmp_path / "PWNED"
    return make(tmp_path / name, marker), marker


@pytest.mark.parametrize(("kind", "load"), LOADERS, ids=[f"{k}-{f.__name__}" for k, f in LOADERS])
def test_loader_refuses_payload(tmp_path: Path, kind: str, load: Callable[[Path], None]) -> None:
    path, marker = _make(kind, tmp_path)
    with pytest.raises((ValueError, OSError)) as err:
        load(path)
    message = str(err.value)
    assert not marker.exists(), "the payload ran"
    assert path.name in message, message
    assert "\n" not in message.strip(), message


# --------------------------------------------------------------------------------- CLIs
def _script(name: str) -> list[str]:
    return [sys.executable, str(REPO / name)]


MODULE = [sys.executable, "-m", "imitenvs"]
MAZE_RUN = ["--env", "imitenvs/Maze-v0", "--out"]
CLIS: list[tuple[str, Callable[[Path, Path], list[str]]]] = [
    ("runner_checkpoint", lambda p, t: [*_script("examples/evaluate.py"), str(p)]),
    ("runner_checkpoint", lambda p, t: [*_script("examples/train_amp.py"), *MAZE_RUN,
                                        str(t / "run"), "--resume", str(p)]),
    ("runner_checkpoint", lambda p, t: [*MODULE, "play", "imitenvs/HumanoidImitate-v0",
                                        "--policy", str(p), "--out", str(t / "v.gif")]),
    ("policy_file", lambda p, t: [*_script("examples/evaluate.py"), str(p)]),
    ("energy_checkpoint", lambda p, t: [*_script("examples/train_near_maze.py"), "--out",
                                        str(t / "run"), "--energy", str(p)]),
    ("sb3_zip", lambda p, t: [*MODULE, "data", "evaluate", str(p), "hopper-massdec_25_leggeom"]),
    ("mimickit_pkl", lambda p, t: [*MODULE, "motions", "convert", str(p), str(t / "o.npz")]),
    ("amp_npy", lambda p, t: [*MODULE, "motions", "info", str(p)]),
    ("clip_npz", lambda p, t: [*MODULE, "motions", "info", str(p)]),
    ("motion_yaml", lambda p, t: [*MODULE, "motions", "info", str(p)]),
    ("demo_npz", lambda p, t: [*MODULE, "data", "info", str(p)]),
    ("zarr_store", lambda p, t: [*MODULE, "data", "info", str(p)]),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "argv"), CLIS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CLIS)])
def test_cli_refuses_payload_with_one_error_line(
    tmp_path: Path, kind: str, argv: Callable[[Path, Path], list[str]]
) -> None:
    path, marker = _make(kind, tmp_path)
    proc = subprocess.run(argv(path, tmp_path), capture_output=True, text=True, check=False,
                          cwd=tmp_path, timeout=300)  # fmt: skip
    assert not marker.exists(), "the payload ran"
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and path.name in last, last
