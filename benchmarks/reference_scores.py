"""Measure the reference scores of `imitenvs bench` into assets/benchmark/reference_scores.json.

For each id two returns, each recorded with how it was measured:

- ``random``: uniform random actions (``RandomPolicy``);
- ``expert``: the best policy we ship or can compute.

Gridworlds (RLSP, tabular, 20 steps): both are *exact* expected returns from the initial state
by finite-horizon dynamic programming on the env's tabular MDP with its default (task) reward:
the optimal policy (``max`` over actions) and the uniform random policy (``mean`` over
actions). A Monte-Carlo mean of random episodes is stored beside the exact value as a check.

Planar: random = mean over ``--random-episodes`` episodes (env seeds 2000, 2001, ...); expert =
mean over ``--expert-episodes`` episodes of the scripted experts ``MazeExpert`` /
``PushTExpert`` (env seeds 1000, 1001, ..., the seeds of ``benchmarks/pusht_expert.py``).
Failed expert episodes are counted (the expert is not filtered to its successes).

Humanoid walk (task ``imitenvs/HumanoidImitate-v0@walk``): the env kwargs are those the shipped
DeepMimic walk policy (``pretrained:deepmimic_walk``) is evaluated with (its run's kwargs with
the training-only pose termination off, ``agents.evaluation.evaluation_kwargs``); random = mean
over ``--humanoid-random-episodes`` episodes of uniform random actions (env seeds 2000, ...);
expert = mean over ``--humanoid-expert-episodes`` episodes of that policy's mean action (env
seeds 1000, ...), one torch thread. ``--only humanoid-walk`` measures just this row and updates
it in an existing table. Example::

    python benchmarks/reference_scores.py --out assets/benchmark/reference_scores.json
    python benchmarks/reference_scores.py --only humanoid-walk

iMuJoCo (every registered ``imitenvs/iMuJoCo-<variant>-v0`` id, or those of
``--imujoco-variants``): random = mean over ``--imujoco-random-episodes`` episodes of uniform
random actions (env seeds 2000, ...; HalfCheetah variants never terminate, so their 1000-step
episodes are fewer: ``--imujoco-halfcheetah-random-episodes``); expert = only for a variant
whose policy is given (an SB3 SAC zip, or a ``.pt`` checkpoint of our trainer), mean over
``--imujoco-expert-episodes`` episodes of its deterministic (mean) action (env seeds 1000,
...), one torch thread. Zips come from
``--imujoco-policies DIR`` (files ``sac-<variant>.zip``, the names of the original Zenodo
``policies/`` folder, see ``python -m imitenvs data download imujoco``) and
``--imujoco-policy VARIANT=PATH`` (repeatable, e.g. a zip or checkpoint of ours; it wins over
DIR). They
are loaded without unpickling (``imitenvs.envs.imujoco.policies.load_policy``), every one before
anything is measured; ``expert_how`` names the file, its sha256 and the training steps stored
in it (``--imujoco-note VARIANT=TEXT`` appends a sentence on its origin). An id without a zip keeps
only its random row, or the expert of its row in ``--out`` if it has one. ``--only imujoco``
updates just these rows::

    python benchmarks/reference_scores.py --only imujoco \
        --imujoco-policy hopper-massdec_25_footgeom=runs/ppo_hopper/checkpoint_last.pt
    python benchmarks/reference_scores.py --only imujoco --imujoco-policies imujoco/policies
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import imitenvs
from imitenvs.bench.evaluation import RandomPolicy, evaluate_policy, summarise
from imitenvs.core.files import atomic_write_json
from imitenvs.core.scripts import run_main
from imitenvs.envs.imujoco.grid import REGISTERED_VARIANTS, parse_variant
from imitenvs.envs.planar.experts import make_expert

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "benchmark" / "reference_scores.json"


def dp_returns(env_id: str) -> tuple[float, float, int]:
    """Exact (optimal, uniform random) expected returns of a gridworld id, and its horizon."""
    entry = imitenvs.get_entry(env_id)
    env = gymnasium.make(env_id)
    task = env.unwrapped
    mdp = task.mdp
    horizon = int(entry.max_episode_steps)
    reward = mdp.features @ np.asarray(task.reward_weights, dtype=np.float64)
    p = mdp.transition_matrix
    v_opt = np.zeros(mdp.n_states)
    v_rand = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v_opt = (p @ (reward + v_opt)).reshape(mdp.n_states, mdp.n_actions).max(axis=1)
        v_rand = (p @ (reward + v_rand)).reshape(mdp.n_states, mdp.n_actions).mean(axis=1)
    start = mdp.initial_distribution
    env.close()
    return float(start @ v_opt), float(start @ v_rand), horizon


def gridworld_row(env_id: str, mc_episodes: int) -> dict[str, Any]:
    expert, random_exact, horizon = dp_returns(env_id)
    env = gymnasium.make(env_id)
    seeds = list(range(2000, 2000 + mc_episodes))
    mc = summarise(evaluate_policy(env_id, RandomPolicy(env.action_space, 0), seeds))
    env.close()
    how_dp = f"exact expected return over {horizon} steps by finite-horizon dynamic programming"
    return {
        "random": random_exact,
        "expert": expert,
        "random_how": f"uniform random policy, {how_dp} (Monte-Carlo check: {mc['mean']:.4f} "
        f"± {mc['sem']:.4f} over {mc_episodes} episodes)",
        "expert_how": f"optimal policy for the env's default reward, {how_dp}",
        "random_monte_carlo": mc,
    }


def planar_row(env_id: str, task: str, random_episodes: int, expert_episodes: int) -> dict:
    env = gymnasium.make(env_id)
    policy = RandomPolicy(env.action_space, 0)
    env.close()
    rand = summarise(evaluate_policy(env_id, policy, range(2000, 2000 + random_episodes)))
    start = time.perf_counter()
    expert = summarise(
        evaluate_policy(env_id, make_expert(task), range(1000, 1000 + expert_episodes))
    )
    seconds = time.perf_counter() - start
    name = type(make_expert(task)).__name__
    return {
        "random": rand["mean"],
        "expert": expert["mean"],
        "random_how": f"uniform random actions, mean of {random_episodes} episodes "
        f"(env seeds 2000..{2000 + random_episodes - 1}), sem {rand['sem']:.3f}",
        "expert_how": f"scripted {name} (imitenvs.envs.planar.experts), mean of "
        f"{expert_episodes} episodes incl. failures (env seeds 1000..{1000 + expert_episodes - 1}),"
        f" sem {expert['sem']:.3f}; {seconds / expert_episodes:.2f} s per episode",
        "random_stats": rand,
        "expert_stats": expert,
    }


HUMANOID_WALK = "imitenvs/HumanoidImitate-v0@walk"
HUMANOID_WALK_POLICY = "deepmimic_walk"


def humanoid_walk_row(random_episodes: int, expert_episodes: int) -> dict[str, Any]:
    import torch

    from imitenvs.agents.evaluation import evaluation_kwargs, load_policy_with_meta
    from imitenvs.bench.algos import pretrained_policy

    torch.set_num_threads(1)
    _, run, meta = load_policy_with_meta(f"pretrained:{HUMANOID_WALK_POLICY}")
    env_id, kwargs = run.env_id, evaluation_kwargs(run.env_kwargs)
    env = gymnasium.make(env_id, **kwargs)
    policy = RandomPolicy(env.action_space, 0)
    env.close()
    rand = summarise(evaluate_policy(env_id, policy, range(2000, 2000 + random_episodes), kwargs))
    start = time.perf_counter()
    expert_fn = pretrained_policy(HUMANOID_WALK_POLICY, env_id, kwargs)
    expert = summarise(
        evaluate_policy(env_id, expert_fn, range(1000, 1000 + expert_episodes), kwargs)
    )
    seconds = time.perf_counter() - start
    return {
        "env_id": env_id,
        "env_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "random": rand["mean"],
        "expert": expert["mean"],
        "random_how": f"uniform random actions, mean of {random_episodes} episodes "
        f"(env seeds 2000..{2000 + random_episodes - 1}), sem {rand['sem']:.3f}",
        "expert_how": f"shipped DeepMimic PPO policy pretrained:{HUMANOID_WALK_POLICY} "
        f"(iteration {meta['iteration']}, {meta['env_steps']} env steps), deterministic mean "
        f"action, mean of {expert_episodes} episodes incl. falls (env seeds "
        f"1000..{1000 + expert_episodes - 1}), sem {expert['sem']:.3f}; "
        f"{seconds / expert_episodes:.2f} s per episode on one CPU thread",
        "random_stats": rand,
        "expert_stats": expert,
    }


IMUJOCO_PREFIX = "imitenvs/iMuJoCo-"
IMUJOCO_EXPERT_KEYS = ("expert", "expert_how", "expert_stats", "expert_policy")


@dataclass(frozen=True)
class ImujocoPolicy:
    """A SAC zip given for one variant, and how it was given."""

    variant: str
    path: Path
    given_as: str
    note: str = ""


def _registered_variant(name: str, source: str) -> str:
    """``name`` if it is a registered iMuJoCo variant, else one ValueError naming ``source``."""
    try:
        parse_variant(name)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    if name not in REGISTERED_VARIANTS:
        raise ValueError(
            f"{source}: {name!r} is a well-formed iMuJoCo variant name but not one of the 154 "
            "registered ones (python -m imitenvs list --family imujoco)"
        )
    return name


def imujoco_policies(
    policy_dir: Path | None,
    policies: list[str] | tuple[str, ...] = (),
    notes: list[str] | tuple[str, ...] = (),
) -> dict[str, ImujocoPolicy]:
    """Variant -> zip from ``--imujoco-policies DIR`` and ``--imujoco-policy VARIANT=PATH``;
    ``--imujoco-note VARIANT=TEXT`` adds a sentence on where a zip comes from.

    Raises:
        ValueError: ``DIR`` is not a folder or holds no ``sac-<variant>.zip``, a file or
            ``VARIANT`` names no registered variant, a ``VARIANT=PATH`` is malformed, or a
            variant is given twice with ``--imujoco-policy``.
        FileNotFoundError: a ``PATH`` does not exist.
    """
    found: dict[str, ImujocoPolicy] = {}
    if policy_dir is not None:
        if not policy_dir.is_dir():
            raise ValueError(f"--imujoco-policies {policy_dir}: not a folder")
        zips = sorted(policy_dir.glob("sac-*.zip"))
        if not zips:
            raise ValueError(f"--imujoco-policies {policy_dir}: no sac-<variant>.zip in it")
        for path in zips:
            variant = _registered_variant(path.name[4:-4], f"--imujoco-policies {path}")
            found[variant] = ImujocoPolicy(variant, path, "--imujoco-policies")
    given: set[str] = set()
    for spec in policies:
        name, sep, text = spec.partition("=")
        if not sep or not name or not text:
            raise ValueError(f"--imujoco-policy must be VARIANT=PATH, got {spec!r}")
        variant = _registered_variant(name, f"--imujoco-policy {spec}")
        if variant in given:
            raise ValueError(f"--imujoco-policy {spec}: {variant} is given twice")
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"--imujoco-policy {spec}: no file {path}")
        given.add(variant)
        found[variant] = ImujocoPolicy(variant, path, "--imujoco-policy")
    for spec in notes:
        name, sep, text = spec.partition("=")
        if not sep or not name or not text.strip():
            raise ValueError(f"--imujoco-note must be VARIANT=TEXT, got {spec!r}")
        if name not in found:
            raise ValueError(f"--imujoco-note {spec!r}: no policy is given for {name!r}")
        found[name] = replace(found[name], note=text.strip())
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _algo(policy: ImujocoPolicy) -> str:
    """``imitenvs`` for a checkpoint of our trainer (``.pt``), else ``sac`` (an SB3 zip)."""
    return "imitenvs" if policy.path.suffix == ".pt" else "sac"


def _load_sac(policy: ImujocoPolicy) -> Any:
    """The policy of ``policy`` in its variant's env: an SB3 SAC zip, or a ``.pt`` checkpoint
    of our trainer; one ValueError line naming the file."""
    from imitenvs.envs.imujoco.policies import load_policy

    env = gymnasium.make(parse_variant(policy.variant).env_id)
    algo = _algo(policy)
    try:
        return load_policy(policy.path, env=env, algo=algo)
    except (ValueError, OSError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "a trainer checkpoint" if algo == "imitenvs" else "the SAC policy"
        raise ValueError(
            f"{policy.given_as} {policy.path}: cannot load it as {kind} of "
            f"{policy.variant}: {first}"
        ) from None
    finally:
        env.close()


def imujoco_random(
    env_id: str, episodes: int, cheetah_episodes: int
) -> tuple[dict[str, float | int], str]:
    """Uniform random actions in an iMuJoCo id: its stats and ``random_how``."""
    cheetah = env_id.startswith(IMUJOCO_PREFIX + "halfcheetah-")
    n = cheetah_episodes if cheetah else episodes
    env = gymnasium.make(env_id)
    policy = RandomPolicy(env.action_space, 0)
    env.close()
    stats = summarise(evaluate_policy(env_id, policy, range(2000, 2000 + n)))
    how = (
        f"uniform random actions (action space seeded 0), mean of {n} episodes (env seeds "
        f"2000..{2000 + n - 1}), sem {stats['sem']:.3f}"
    )
    if cheetah:
        how += (
            "; HalfCheetah episodes never terminate early (1000 steps each), so fewer "
            f"episodes than the {episodes} of the Hopper and Walker2d ids"
        )
    return stats, how


def imujoco_expert(policy: ImujocoPolicy, episodes: int) -> dict[str, Any]:
    """The expert part of a row: the zip's deterministic action for ``episodes`` episodes."""
    import torch

    from imitenvs.envs.imujoco.policies import as_policy

    torch.set_num_threads(1)
    env_id = parse_variant(policy.variant).env_id
    model = _load_sac(policy)
    sha = _sha256(policy.path)
    start = time.perf_counter()
    stats = summarise(evaluate_policy(env_id, as_policy(model, True), range(1000, 1000 + episodes)))
    seconds = time.perf_counter() - start
    if _algo(policy) == "imitenvs":
        from imitenvs.agents.evaluation import load_policy_with_meta

        steps = load_policy_with_meta(policy.path)[2]["env_steps"]
        what = f"our trainer's PPO checkpoint {policy.path.name} (sha256 {sha}; {steps} env steps"
    else:
        steps = int(model.num_timesteps)
        what = f"SB3 SAC policy {policy.path.name} (sha256 {sha}; {steps} training steps"
    return {
        "expert": stats["mean"],
        "expert_how": f"{what} stored in the file; given as {policy.given_as}), deterministic "
        "(mean) action, "
        f"mean of {episodes} episodes incl. falls (env seeds 1000..{1000 + episodes - 1}), "
        f"sem {stats['sem']:.3f}; {seconds / episodes:.2f} s per episode on one CPU thread"
        + (f". {policy.note}" if policy.note else ""),
        "expert_stats": stats,
        "expert_policy": {
            "file": policy.path.name,
            "sha256": sha,
            "num_timesteps": steps,
            "given_as": policy.given_as,
        },
    }


def imujoco_rows(
    variants: tuple[str, ...],
    policies: dict[str, ImujocoPolicy],
    random_episodes: int,
    cheetah_random_episodes: int,
    expert_episodes: int,
    previous: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Rows of the iMuJoCo ids of ``variants``: random always, expert where a zip is given
    (or kept from the ``previous`` table's row of that id when none is).

    Every zip is loaded before anything is measured, so a bad one fails at once.

    Raises:
        ValueError: a zip for a variant outside ``variants``, or a zip that does not load.
    """
    for n, flag in (
        (random_episodes, "--imujoco-random-episodes"),
        (cheetah_random_episodes, "--imujoco-halfcheetah-random-episodes"),
        (expert_episodes, "--imujoco-expert-episodes"),
    ):
        if n < 1:
            raise ValueError(f"{flag} must be >= 1, got {n}")
    outside = sorted(set(policies) - set(variants))
    if outside:
        raise ValueError(
            f"policies given for variants not measured (not in --imujoco-variants): {outside}"
        )
    import torch

    torch.set_num_threads(1)
    for policy in policies.values():
        _load_sac(policy)
    previous = previous or {}
    rows: dict[str, dict[str, Any]] = {}
    for variant in variants:
        env_id = parse_variant(variant).env_id
        stats, how = imujoco_random(env_id, random_episodes, cheetah_random_episodes)
        row: dict[str, Any] = {
            "variant": variant,
            "random": stats["mean"],
            "random_how": how,
            "random_stats": stats,
        }
        old = previous.get(env_id)
        if variant in policies:
            row.update(imujoco_expert(policies[variant], expert_episodes))
        elif isinstance(old, dict) and old.get("expert") is not None:
            row.update({k: old[k] for k in IMUJOCO_EXPERT_KEYS if k in old})
        rows[env_id] = row
        expert = f"expert {row['expert']:.2f}" if "expert" in row else "no expert"
        print(env_id, f"random {row['random']:.2f}", expert, flush=True)
    return rows


def _variants(text: str | None) -> tuple[str, ...]:
    if text is None:
        return REGISTERED_VARIANTS
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--imujoco-variants is empty")
    return tuple(dict.fromkeys(_registered_variant(n, "--imujoco-variants") for n in names))


def _imujoco_command(args: argparse.Namespace) -> str:
    parts = [
        f"--imujoco-random-episodes {args.imujoco_random_episodes}",
        f"--imujoco-halfcheetah-random-episodes {args.imujoco_halfcheetah_random_episodes}",
        f"--imujoco-expert-episodes {args.imujoco_expert_episodes}",
    ]
    if args.imujoco_variants is not None:
        parts.append(f"--imujoco-variants {args.imujoco_variants}")
    if args.imujoco_policies is not None:
        parts.append(f"--imujoco-policies {args.imujoco_policies}")
    parts += [f"--imujoco-policy {spec}" for spec in args.imujoco_policy or ()]
    parts += [f"--imujoco-note {json.dumps(spec)}" for spec in args.imujoco_note or ()]
    return " ".join(parts)


def _imujoco_inputs(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, ImujocoPolicy]]:
    """The variants and zips of the command line, checked (every zip loaded once)."""
    variants = _variants(args.imujoco_variants)
    policies = imujoco_policies(
        args.imujoco_policies, args.imujoco_policy or (), args.imujoco_note or ()
    )
    for policy in policies.values():
        _load_sac(policy)
    return variants, policies


def _measure_imujoco(
    args: argparse.Namespace,
    inputs: tuple[tuple[str, ...], dict[str, ImujocoPolicy]],
    previous: dict[str, Any],
) -> dict[str, Any]:
    variants, policies = inputs
    return imujoco_rows(
        variants,
        policies,
        args.imujoco_random_episodes,
        args.imujoco_halfcheetah_random_episodes,
        args.imujoco_expert_episodes,
        previous,
    )


def _read_table(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
        if not isinstance(document["scores"], dict):
            raise TypeError("'scores' is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the reference table {path}: {exc}") from None
    return document


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--random-episodes", type=int, default=100)
    parser.add_argument("--expert-episodes", type=int, default=30)
    parser.add_argument("--mc-episodes", type=int, default=200)
    parser.add_argument("--humanoid-random-episodes", type=int, default=20)
    parser.add_argument("--humanoid-expert-episodes", type=int, default=10)
    parser.add_argument("--imujoco-random-episodes", type=int, default=50)
    parser.add_argument("--imujoco-halfcheetah-random-episodes", type=int, default=10)
    parser.add_argument("--imujoco-expert-episodes", type=int, default=20)
    parser.add_argument(
        "--imujoco-variants", help="comma-separated variant names (default: all 154)"
    )
    parser.add_argument(
        "--imujoco-policies", type=Path, metavar="DIR", help="folder of sac-<variant>.zip files"
    )
    parser.add_argument(
        "--imujoco-policy",
        action="append",
        metavar="VARIANT=PATH",
        help="an SB3 SAC zip for one variant (repeatable; wins over --imujoco-policies)",
    )
    parser.add_argument(
        "--imujoco-note",
        action="append",
        metavar="VARIANT=TEXT",
        help="a sentence on where that variant's zip comes from, appended to its expert_how",
    )
    parser.add_argument(
        "--only",
        choices=["humanoid-walk", "imujoco"],
        help="measure only these rows; update them in --out",
    )
    args = parser.parse_args(argv)
    if args.only == "imujoco":
        document = _read_table(args.out)
        scores = document["scores"]
        scores.update(_measure_imujoco(args, _imujoco_inputs(args), scores))
        document["measured_with_imujoco"] = (
            f"python benchmarks/reference_scores.py --only imujoco {_imujoco_command(args)}"
        )
        atomic_write_json(args.out, document)
        print(f"wrote {args.out}")
        return
    if args.only == "humanoid-walk":
        document = _read_table(args.out)
        scores = document["scores"]
        scores[HUMANOID_WALK] = humanoid_walk_row(
            args.humanoid_random_episodes, args.humanoid_expert_episodes
        )
        document["measured_with_" + args.only] = (
            f"python benchmarks/reference_scores.py --only {args.only} "
            f"--humanoid-random-episodes {args.humanoid_random_episodes} "
            f"--humanoid-expert-episodes {args.humanoid_expert_episodes}"
        )
        atomic_write_json(args.out, document)
        print(HUMANOID_WALK, scores[HUMANOID_WALK]["random"], scores[HUMANOID_WALK]["expert"])
        print(f"wrote {args.out}")
        return
    previous = _read_table(args.out)["scores"] if args.out.is_file() else {}
    imujoco_inputs = _imujoco_inputs(args)  # bad zips fail before anything is measured
    scores: dict[str, Any] = {}
    excluded: dict[str, str] = {}
    for env_id in imitenvs.list_envs("gridworld"):
        row = gridworld_row(env_id, args.mc_episodes)
        print(env_id, row["random"], row["expert"], flush=True)
        if abs(row["expert"] - row["random"]) < 1e-9:  # e.g. a zero task reward
            excluded[env_id] = (
                f"expert and random returns are equal ({row['expert']}): no score scale"
            )
        else:
            scores[env_id] = row
    for env_id, task in (("imitenvs/Maze-v0", "maze"), ("imitenvs/PushT-v0", "pusht")):
        scores[env_id] = planar_row(env_id, task, args.random_episodes, args.expert_episodes)
        print(env_id, scores[env_id]["random"], scores[env_id]["expert"], flush=True)
    scores[HUMANOID_WALK] = humanoid_walk_row(
        args.humanoid_random_episodes, args.humanoid_expert_episodes
    )
    print(HUMANOID_WALK, scores[HUMANOID_WALK]["random"], scores[HUMANOID_WALK]["expert"])
    scores.update(_measure_imujoco(args, imujoco_inputs, previous))
    document = {
        "format": "imitenvs-reference-scores",
        "format_version": 1,
        "measured_with": "python benchmarks/reference_scores.py "
        f"--random-episodes {args.random_episodes} --expert-episodes {args.expert_episodes} "
        f"--mc-episodes {args.mc_episodes} "
        f"--humanoid-random-episodes {args.humanoid_random_episodes} "
        f"--humanoid-expert-episodes {args.humanoid_expert_episodes} " + _imujoco_command(args),
        "imitenvs_version": imitenvs.__version__,
        "python": platform.python_version(),
        "return": "undiscounted sum of the env's reward over one episode of the registered length",
        "scores": scores,
        "excluded": excluded,
    }
    atomic_write_json(args.out, document)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_main(main)
