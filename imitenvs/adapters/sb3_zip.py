"""Read and write Stable-Baselines3 model zips without ever unpickling anything.

``stable_baselines3.<ALGO>.load`` cloudpickle-loads every ``:serialized:`` field of a zip's
``data`` JSON, so a crafted zip runs code the moment it is loaded. :func:`load_sb3_zip` reads
the zip itself instead:

* ``data`` is parsed as JSON; a field SB3 stored as ``{":type:", ":serialized:", <attr>...}``
  is **never** decoded. Only the serialized fields SB3 itself writes for the supported
  algorithms (:data:`IGNORED_SERIALIZED`) are accepted; they are dropped and rebuilt from
  plain values (spaces from the env or from the plain ``_shape``/``low``/``high``/``dtype``
  attributes SB3 writes beside a ``Box``, constant schedules from plain numbers, the policy
  class from the algorithm's ``"MlpPolicy"``). Any other serialized field is a
  :class:`ValueError` naming the file and the field; nothing is executed.
* Plain hyper-parameters are taken only from :data:`PLAIN_FIELDS`, type-checked;
  ``policy_kwargs`` only with known keys, classes (activation, optimizer) only by name.
* The ``.pth`` members are read with ``torch.load(weights_only=True)``: tensors and plain
  data only.

:func:`save_sb3_zip` and :class:`AtomicCheckpointCallback` write zips atomically (a temporary
sibling renamed over the target), so a kill during a save never leaves a torn zip.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CheckpointCallback
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.utils import get_device

from imitenvs.core.checks import check_choice
from imitenvs.core.files import atomic_writer

logger = logging.getLogger(__name__)

ALGORITHMS = ("sac", "td3", "ddpg", "ppo", "a2c")
"""SB3 algorithms :func:`load_sb3_zip` rebuilds (each with its ``"MlpPolicy"``)."""

SERIALIZED = ":serialized:"
TYPE = ":type:"

IGNORED_SERIALIZED = frozenset(
    {
        # rebuilt from the env, or from the plain Box attributes beside them
        "observation_space",
        "action_space",
        # classes: "MlpPolicy" and SB3's default buffers; train_freq: the algorithm default
        "policy_class",
        "replay_buffer_class",
        "rollout_buffer_class",
        "train_freq",
        # schedules: constants from plain numbers (learning_rate only when a callable)
        "lr_schedule",
        "learning_rate",
        "clip_range",
        "clip_range_vf",
        # rollout state, reset before training anyway (SB3 1.x also wrote _last_dones)
        "_last_obs",
        "_last_episode_starts",
        "_last_original_obs",
        "_last_dones",
        "ep_info_buffer",
        "ep_success_buffer",
        # exploration noise object (TD3/DDPG): not used by predict, dropped
        "action_noise",
        # a numpy float32 in SB3 1.x SAC zips: recomputed as -prod(action shape)
        "target_entropy",
        # a dict holding a class (activation_fn, optimizer_class): rebuilt by name, see below
        "policy_kwargs",
    }
)
"""The serialized fields SB3 writes for SAC/TD3/DDPG/PPO/A2C (2.x and the 1.x iMuJoCo zips).

They are accepted and ignored (never decoded); every other serialized field is refused."""

_NUM = (int, float)
PLAIN_FIELDS: dict[str, tuple[type, ...]] = {
    # BaseAlgorithm
    "verbose": (int,),
    "num_timesteps": (int,),
    "_total_timesteps": (int,),
    "_num_timesteps_at_start": (int,),
    "seed": (int, type(None)),
    "_episode_num": (int,),
    "use_sde": (bool,),
    "sde_sample_freq": (int,),
    "_current_progress_remaining": _NUM,
    "_stats_window_size": (int,),
    "_n_updates": (int,),
    "gamma": _NUM,
    # off-policy (SAC, TD3, DDPG)
    "buffer_size": (int,),
    "batch_size": (int,),
    "learning_starts": (int,),
    "tau": _NUM,
    "gradient_steps": (int,),
    "optimize_memory_usage": (bool,),
    "n_steps": (int,),
    "use_sde_at_warmup": (bool,),
    "target_update_interval": (int,),
    "ent_coef": (str, *_NUM),
    "target_entropy": (str, *_NUM),
    "policy_delay": (int,),
    "target_noise_clip": _NUM,
    "target_policy_noise": _NUM,
    # on-policy (PPO, A2C)
    "gae_lambda": _NUM,
    "vf_coef": _NUM,
    "max_grad_norm": _NUM,
    "n_epochs": (int,),
    "normalize_advantage": (bool,),
    "target_kl": (*_NUM, type(None)),
}
"""Plain ``data`` fields copied onto the model (when the algorithm has the attribute)."""

_BUFFER_KWARGS = {"handle_timeout_termination": (bool,), "n_steps": (int,), "gamma": _NUM}
_KWARG_TYPES: dict[str, tuple[type, ...]] = {
    "n_critics": (int,),
    "use_sde": (bool,),
    "log_std_init": _NUM,
    "share_features_extractor": (bool,),
    "ortho_init": (bool,),
    "squash_output": (bool,),
    "use_expln": (bool,),
    "clip_mean": _NUM,
    "full_std": (bool,),
    "normalize_images": (bool,),
}
_KNOWN_CLASSES: dict[str, dict[str, type]] = {
    "activation_fn": {
        str(c): c
        for c in (
            torch.nn.ReLU,
            torch.nn.Tanh,
            torch.nn.ELU,
            torch.nn.LeakyReLU,
            torch.nn.SiLU,
            torch.nn.GELU,
            torch.nn.Sigmoid,
            torch.nn.Softplus,
        )
    },
    "optimizer_class": {
        str(c): c
        for c in (torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.SGD)
    }
    | {str(RMSpropTFLike): RMSpropTFLike},
    "features_extractor_class": {str(FlattenExtractor): FlattenExtractor},
}
_CONSTANT_SCHEDULE = re.compile(r"^ConstantSchedule\(val=([-+0-9.eE]+|inf|nan)\)$")
_SCHEDULE_DEFAULTS = {"clip_range": 0.2, "clip_range_vf": None}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_serialized(value: Any) -> bool:
    """Whether a ``data`` value is an SB3 cloudpickle entry (``{":serialized:": ...}``)."""
    return isinstance(value, dict) and SERIALIZED in value


def _attributes(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The plain attributes SB3 wrote beside a serialized value (never the payload)."""
    return {k: v for k, v in entry.items() if not k.startswith(":")}


# ------------------------------------------------------------------------------- reading
def read_zip_data(path: str | Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, as stored: serialized entries stay undecoded strings.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a zip, no ``data`` member, or ``data`` is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read("data")
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a zip file (expected an SB3 model zip)") from None
    except KeyError:
        raise ValueError(f"{path}: no 'data' member (not an SB3 model zip)") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: its 'data' is not JSON ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: its 'data' is a {type(data).__name__}, expected an object")
    return data


def check_serialized_fields(data: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a ``data`` dict holding a serialized field outside :data:`IGNORED_SERIALIZED`.

    Raises:
        ValueError: one line naming the file, the field and its ``:type:``.
    """
    for key, value in data.items():
        if is_serialized(value) and key not in IGNORED_SERIALIZED:
            raise ValueError(
                f"{path}: refused: field {key!r} holds a pickled object "
                f"(type {value.get(TYPE, '?')}) that SB3 does not write; it is never decoded"
            )


def _read_weights(archive: zipfile.ZipFile, member: str, path: Path, device: Any) -> Any:
    try:
        raw = archive.read(member)
        return torch.load(io.BytesIO(raw), map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path}: {member} refused: it holds objects other than tensors and plain data "
            f"({_first_line(exc)})"
        ) from None
    except (RuntimeError, EOFError, OSError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{path}: {member} is not a readable torch file ({_first_line(exc)})"
        ) from None


# ------------------------------------------------------------------------------- spaces
def stored_shape(entry: Any) -> tuple[int, ...] | None:
    """The shape SB3 wrote beside a serialized space (``_shape``, or ``shape`` in old gym)."""
    if not isinstance(entry, dict):
        return None
    shape = entry.get("_shape", entry.get("shape"))
    if isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape):
        return tuple(shape)
    return None


def _parse_bound(text: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(text, str):
        if "..." in text:
            raise ValueError("bound printed with '...'")
        values = [float(t) for t in text.replace("[", " ").replace("]", " ").split()]
    elif isinstance(text, int | float | list):
        values = np.asarray(text, dtype=float).reshape(-1).tolist()
    else:
        raise ValueError(f"bound is a {type(text).__name__}")
    array = np.asarray(values, dtype=float)
    if array.size == 1:
        return np.full(shape, array[0])
    return array.reshape(shape)


def box_from_attributes(entry: Any, field: str, path: str | Path) -> gymnasium.spaces.Box:
    """Rebuild a ``Box`` from the plain attributes SB3 wrote beside its pickle.

    Raises:
        ValueError: not a Box, or its attributes are missing/unreadable; asks for ``env=``.
    """
    kind = entry.get(TYPE, "?") if isinstance(entry, dict) else type(entry).__name__
    problem = f"{path}: cannot rebuild its {field} ({kind}) without the env; pass env="
    shape = stored_shape(entry)
    if shape is None or "spaces.box.Box" not in str(kind):
        raise ValueError(problem)
    try:
        dtype = np.dtype(str(entry["dtype"]))
        if dtype.kind not in "fiu":
            raise ValueError(f"dtype {dtype}")
        low, high = _parse_bound(entry["low"], shape), _parse_bound(entry["high"], shape)
        return gymnasium.spaces.Box(low.astype(dtype), high.astype(dtype), shape, dtype)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{problem} ({_first_line(exc)})") from None


def _spaces(
    data: Mapping[str, Any], env: gymnasium.Env | None, path: Path
) -> tuple[gymnasium.Space, gymnasium.Space]:
    """The env's spaces (checked against the stored shapes), or spaces rebuilt from ``data``."""
    if env is None:
        return tuple(  # type: ignore[return-value]
            box_from_attributes(data.get(k), k, path) for k in ("observation_space", "action_space")
        )
    for key, what in (("observation_space", "observations"), ("action_space", "actions")):
        stored, given = stored_shape(data.get(key)), getattr(env, key).shape
        if stored is not None and given is not None and stored != tuple(given):
            raise ValueError(
                f"{path} expects {what} of shape {stored}, the env gives {tuple(given)}"
            )
    return env.observation_space, env.action_space


# ------------------------------------------------------------------------ plain settings
def _check_type(value: Any, types: tuple[type, ...], what: str, path: Path) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = "/".join(t.__name__ for t in types)
        raise ValueError(f"{path}: {what} must be {names}, found {type(value).__name__}")
    return value


def _net_arch(value: Any, path: Path) -> list[int] | dict[str, list[int]]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]  # SB3 < 1.8 format [dict(pi=..., vf=...)]
    layers = value.values() if isinstance(value, dict) else [value]
    ok = isinstance(value, list | dict) and all(
        isinstance(sizes, list) and all(type(n) is int and n > 0 for n in sizes) for sizes in layers
    )
    if not ok or (isinstance(value, dict) and not set(value) <= {"pi", "vf", "qf"}):
        raise ValueError(f"{path}: policy_kwargs net_arch {value!r} is not a list of sizes")
    return value


def _plain_dict(value: Any, what: str, path: Path) -> dict[str, Any]:
    plain = (bool, int, float, str, type(None))
    if not isinstance(value, dict) or not all(
        isinstance(v, plain) or (isinstance(v, list) and all(isinstance(x, _NUM) for x in v))
        for v in value.values()
    ):
        raise ValueError(f"{path}: {what} must be a dict of plain values, found {value!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}


def policy_kwargs_from(entry: Any, path: str | Path) -> dict[str, Any]:
    """``policy_kwargs`` from plain JSON, or from the attributes beside a serialized dict.

    Classes (``activation_fn``, ``optimizer_class``, ``features_extractor_class``) are looked
    up by their printed name among known torch/SB3 classes.

    Raises:
        ValueError: an unknown key, a wrongly typed value or an unknown class.
    """
    path = Path(path)
    if entry is None:
        return {}
    if is_serialized(entry):
        if "dict" not in str(entry.get(TYPE)):
            raise ValueError(f"{path}: policy_kwargs is a pickled {entry.get(TYPE)}, not a dict")
        entry = _attributes(entry)
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: policy_kwargs is a {type(entry).__name__}, not a dict")
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "device" or (key == "sde_net_arch" and value is None):
            continue  # SB3 drops the device; sde_net_arch was removed (always None for us)
        if key == "net_arch":
            kwargs[key] = _net_arch(value, path)
        elif key in _KNOWN_CLASSES:
            known = _KNOWN_CLASSES[key]
            by_name = {c.__name__: c for c in known.values()}
            if not isinstance(value, str) or (value not in known and value not in by_name):
                raise ValueError(
                    f"{path}: policy_kwargs {key}={value!r} is not one of "
                    f"{', '.join(sorted(by_name))}; refusing to load it"
                )
            kwargs[key] = known.get(value) or by_name[value]
        elif key in ("optimizer_kwargs", "features_extractor_kwargs"):
            kwargs[key] = _plain_dict(value, f"policy_kwargs {key}", path)
        elif key in _KWARG_TYPES:
            kwargs[key] = _check_type(value, _KWARG_TYPES[key], f"policy_kwargs {key}", path)
        else:
            raise ValueError(f"{path}: policy_kwargs has an unknown key {key!r}; refusing it")
    return kwargs


def _buffer_kwargs(value: Any, what: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {what} must be a dict, found {type(value).__name__}")
    kwargs = {}
    for key, item in value.items():
        if key not in _BUFFER_KWARGS:
            logger.warning("%s: ignoring %s[%r] (not a known plain setting)", path, what, key)
            continue
        kwargs[key] = _check_type(item, _BUFFER_KWARGS[key], f"{what}[{key!r}]", path)
    return kwargs


def schedule_constant(entry: Any) -> float | None:
    """The constant value of a stored schedule: a plain number, or ``ConstantSchedule(val=x)``
    printed beside a serialized ``FloatSchedule``; ``None`` if it is not a known constant."""
    if isinstance(entry, int | float) and not isinstance(entry, bool):
        return float(entry)
    if is_serialized(entry):
        for attribute in ("value_schedule", "val"):
            value = entry.get(attribute)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            match = _CONSTANT_SCHEDULE.match(value) if isinstance(value, str) else None
            if match:
                return float(match.group(1))
    return None


def _schedules(data: Mapping[str, Any], model: BaseAlgorithm, path: Path, training: bool) -> None:
    """Set ``learning_rate`` (and PPO's clip ranges) to constants from plain numbers."""
    rate = schedule_constant(data.get("learning_rate"))
    if rate is None:
        rate = schedule_constant(data.get("lr_schedule"))
    if rate is None and training:
        raise ValueError(f"{path}: its learning-rate schedule is not a constant; cannot resume")
    model.learning_rate = 0.0 if rate is None else rate
    for key, default in _SCHEDULE_DEFAULTS.items():
        if not hasattr(model, key) or key not in data:
            continue
        value = data[key]
        constant = None if value is None else schedule_constant(value)
        if value is not None and constant is None:
            if training:
                raise ValueError(f"{path}: its {key} is not a constant; cannot resume")
            constant = default
        setattr(model, key, constant)


def _apply_plain_fields(
    data: Mapping[str, Any], model: BaseAlgorithm, path: Path, training: bool
) -> None:
    """Copy the accepted plain settings onto a model built with ``_init_setup_model=False``."""
    handled = {"policy_kwargs", "replay_buffer_kwargs", "rollout_buffer_kwargs"}
    for key, value in data.items():
        if key in PLAIN_FIELDS and not is_serialized(value):
            if hasattr(model, key):
                setattr(model, key, _check_type(value, PLAIN_FIELDS[key], f"field {key!r}", path))
        elif not is_serialized(value) and key not in handled:
            logger.debug("%s: ignoring plain field %r", path, key)
    for key in ("replay_buffer_kwargs", "rollout_buffer_kwargs"):
        if key in data and hasattr(model, key):
            setattr(model, key, _buffer_kwargs(data[key], key, path))
    if getattr(model, "target_entropy", None) == "auto" or is_serialized(
        data.get("target_entropy")
    ):  # SAC's "auto" (SB3 1.x pickled it as a numpy float32), computed without an env
        model.target_entropy = float(-np.prod(model.action_space.shape))
    model.policy_kwargs = {
        **model.policy_kwargs,
        **policy_kwargs_from(data.get("policy_kwargs"), path),
    }
    if not training and hasattr(model, "buffer_size"):
        model.buffer_size, model.optimize_memory_usage = 1, False  # predict only: tiny buffer
    _schedules(data, model, path, training)


# ------------------------------------------------------------------------------- weights
def _load_weights(
    archive: zipfile.ZipFile, model: BaseAlgorithm, path: Path, training: bool
) -> None:
    """``policy.pth`` (and, to train, optimizers and ``pytorch_variables.pth``), strictly."""
    state_dicts, variables = model._get_torch_save_params()
    names = set(archive.namelist())
    if "policy.pth" not in names:
        raise ValueError(f"{path}: no policy.pth (not an SB3 model zip)")
    for name in state_dicts if training else ["policy"]:
        if f"{name}.pth" not in names:
            logger.warning("%s: no %s.pth; %s starts fresh", path, name, name)
            continue
        state = _read_weights(archive, f"{name}.pth", path, model.device)
        if not isinstance(state, dict):
            raise ValueError(f"{path}: {name}.pth holds a {type(state).__name__}, not weights")
        target = model
        for part in name.split("."):
            target = getattr(target, part)
        try:
            target.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"cannot load {path} as an SB3 {type(model).__name__} model: {name}.pth does "
                f"not fit ({_first_line(exc)})"
            ) from None
    if training and variables and "pytorch_variables.pth" in names:
        stored = _read_weights(archive, "pytorch_variables.pth", path, model.device)
        for name in variables:
            value = stored.get(name) if isinstance(stored, dict) else None
            current = getattr(model, name, None)
            if isinstance(value, torch.Tensor) and isinstance(current, torch.Tensor):
                if value.shape != current.shape:
                    raise ValueError(f"{path}: pytorch_variables {name} has the wrong shape")
                current.data = value.data.to(current.device)


def load_sb3_zip(
    path: str | Path,
    algo: str = "sac",
    env: gymnasium.Env | None = None,
    device: str = "cpu",
    training: bool = False,
) -> BaseAlgorithm:
    """Load an SB3 model zip like ``<ALGO>.load`` does, but without unpickling anything.

    Args:
        path: The zip.
        algo: One of :data:`ALGORITHMS`.
        env: The env the model acts in; its spaces are used (their shapes must match the
            stored ones). ``None``: ``Box`` spaces are rebuilt from the stored attributes.
        device: Torch device.
        training: Also load the optimizer states and torch variables and keep the replay
            buffer size, to resume training; otherwise the replay buffer holds one step.

    Returns:
        The model; ``num_timesteps`` and the other plain settings are the stored ones.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a refused field or ``.pth``, an unreadable zip, or weights that do not
            fit the algorithm's ``MlpPolicy``; one line naming the file.
    """
    check_choice("algo", algo, ALGORITHMS)
    path = Path(path)
    data = read_zip_data(path)
    check_serialized_fields(data, path)
    observation_space, action_space = _spaces(data, env, path)
    cls = getattr(stable_baselines3, algo.upper())
    device = get_device(device)
    model = cls(policy="MlpPolicy", env=env, device=device, _init_setup_model=False)
    if env is None:
        model.observation_space, model.action_space = observation_space, action_space
        n_envs = data.get("n_envs", 1)
        model.n_envs = n_envs if type(n_envs) is int and n_envs > 0 else 1
    _apply_plain_fields(data, model, path, training)
    try:
        model._setup_model()
    except (AssertionError, AttributeError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(
            f"cannot load {path} as an SB3 {algo.upper()} model: {_first_line(exc)}"
        ) from None
    with zipfile.ZipFile(path) as archive:
        _load_weights(archive, model, path, training)
    if model.use_sde:
        model.policy.reset_noise()
    logger.info("loaded %s (%s, step %d)", path, algo.upper(), model.num_timesteps)
    return model


# ------------------------------------------------------------------------------- writing
def save_sb3_zip(model: BaseAlgorithm, path: str | Path) -> Path:
    """``model.save`` into a temporary sibling, renamed over ``path`` (``.zip`` added)."""
    path = Path(path)
    if path.suffix != ".zip":
        path = path.with_name(path.name + ".zip")
    with atomic_writer(path) as out:
        model.save(out)
    return path


class AtomicCheckpointCallback(CheckpointCallback):
    """SB3's ``CheckpointCallback`` whose model zips are written with :func:`save_sb3_zip`.

    Saving replay buffers or ``VecNormalize`` statistics is not supported (pickles).
    """

    def _init_callback(self) -> None:
        if self.save_replay_buffer or self.save_vecnormalize:
            raise ValueError("AtomicCheckpointCallback saves model zips only")
        super()._init_callback()

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            saved = save_sb3_zip(self.model, self._checkpoint_path(extension="zip"))
            logger.debug("checkpoint %s", saved)
        return True
