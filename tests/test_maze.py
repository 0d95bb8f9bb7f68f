"""imitenvs/Maze-v0: NEAR's law in free space, wall contacts, pymunk agreement, rewards, resets,
state restore, the paired-observation wrapper and the shortest-path expert."""

from __future__ import annotations

import gymnasium
import numpy as np
import pymunk
import pytest
from pymunk.vec2d import Vec2d

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.data.collect import run_episode
from imitenvs.envs.planar.experts import MazeExpert
from imitenvs.envs.planar.geometry import normalise_target
from imitenvs.envs.planar.maze import MazeEnv
from imitenvs.wrappers import PairedObservation

DT = 0.3 / 100


def near_law(start: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Positions after each action by NEAR's published law in free space: per substep
    acc = 0.1 (100 (u - p) + 20 (0 - v)), v += acc dt, p += v dt, then damping 0 zeroes v."""
    p = np.array(start, dtype=np.float64)
    out = []
    for a in actions:
        u = (np.asarray(a, dtype=np.float64) + 1) * 512 / 2
        for _ in range(100):
            v = np.zeros(2)
            v = v + (100 * (u - p) + 20 * (0 - v)) * 0.1 * DT
            p = p + v * DT
        out.append(p.copy())
    return np.array(out)


class NearPymunkMaze:
    """NEAR's maze scene built directly in pymunk (the reference our integrator replaces)."""

    def __init__(self, start: np.ndarray) -> None:
        space = self.space = pymunk.Space()
        space.gravity, space.damping = (0, 0), 0
        walls = [
            ((5, 506), (5, 5)),
            ((5, 5), (506, 5)),
            ((506, 5), (506, 506)),
            ((5, 506), (506, 506)),
        ]
        space.add(*(pymunk.Segment(space.static_body, a, b, 2) for a, b in walls))
        boxes = [
            [(40, 140), (40, 460), (20, 460), (20, 140)],
            [(100, 140), (100, 380), (120, 380), (120, 140)],
            [(20, 460), (350, 460), (350, 480), (20, 480)],
            [(100, 380), (350, 380), (350, 400), (100, 400)],
        ]
        space.add(*(pymunk.Poly(space.static_body, v) for v in boxes))
        self.agent = pymunk.Body(1, float("inf"))
        space.add(self.agent, pymunk.Circle(self.agent, 15))
        self.agent.position = tuple(start)
        space.step(1 / 100)

    def step(self, action: np.ndarray) -> np.ndarray:
        target = (np.asarray(action, dtype=np.float64) + 1) * 512 / 2
        for _ in range(100):
            acc = 100 * (target - self.agent.position) + 20 * (Vec2d(0, 0) - self.agent.velocity)
            self.agent.velocity += acc * 0.1 * DT
            self.space.step(DT)
        return np.array(self.agent.position)


def replay(env: MazeEnv, actions: np.ndarray) -> np.ndarray:
    return np.array([env.step(a)[0] for a in actions])


def test_free_space_follows_near_law() -> None:
    env = MazeEnv()
    obs, _ = env.reset(options={"state": (200.0, 150.0)})
    actions = np.array([[0.6, 0.1]] * 5 + [[-0.2, 0.3]] * 5 + [[0.0, -0.5]] * 5)
    np.testing.assert_allclose(replay(env, actions), near_law(obs, actions), rtol=0, atol=1e-9)
    # Closed form of the same law: each step keeps (1 - 10 dt^2)^100 of the offset to the target.
    env.reset(options={"state": (200.0, 150.0)})
    target = (np.array([0.6, 0.1]) + 1) * 256
    expected = target + (1 - 10 * DT**2) ** 100 * (np.array([200.0, 150.0]) - target)
    np.testing.assert_allclose(env.step(np.array([0.6, 0.1]))[0], expected, atol=1e-9)


def soft_contact_depth(distance_beyond: float) -> float:
    """Chipmunk's steady penetration when the PD law pushes into a wall: each substep moves
    10 dt^2 d inwards and the bias pushes (1 - 0.9^(60 dt)) of the depth beyond the 0.1 slop out."""
    return 0.1 + 10 * DT**2 * distance_beyond / (1 - (1 - 0.1) ** (60 * DT))


def test_walls_stop_the_agent() -> None:
    env = MazeEnv()
    # Left arena wall: segment x = 5 of radius 2, so the centre stops near x = 22.
    env.reset(options={"state": (70.0, 70.0)})
    xs = replay(env, np.tile(normalise_target(np.array([0.0, 70.0])), (300, 1)))[:, 0]
    assert abs(xs[-1] - xs[-50]) < 1e-6
    assert xs.min() > 22.0 - soft_contact_depth(22.0) - 0.05
    # Maze box x in [100, 120]: from the corridor, pushing right stops at x = 85 (less the
    # solver's soft penetration) and slides nowhere else (frictionless, target straight ahead).
    env.reset(options={"state": (70.0, 300.0)})
    traj = replay(env, np.tile(normalise_target(np.array([512.0, 300.0])), (300, 1)))
    depth = soft_contact_depth(512.0 - 85.0)
    assert 1.0 < depth < 3.0
    assert traj[:, 0].max() < 85.0 + depth + 0.05
    np.testing.assert_allclose(traj[-1, 0], 85.0 + depth, atol=0.05)
    np.testing.assert_allclose(traj[:, 1], 300.0, atol=1e-9)
    # Sliding along a wall towards a target past it keeps the free coordinate moving.
    env.reset(options={"state": (70.0, 300.0)})
    traj = replay(env, np.tile(normalise_target(np.array([512.0, 330.0])), (200, 1)))
    assert traj[-1, 0] < 85.0 + depth + 0.05 and traj[-1, 1] > 320.0


@pytest.mark.parametrize(
    ("seed", "pieces", "atol"),
    [
        (0, [([0.4, 0.2], 200)], 1e-9),  # open space
        (1, [([-1.0, 0.6], 300)], 1e-9),  # into the left wall, sliding down the corridor
        (2, [([-1.0, 0.2], 150), ([-0.9, 1.0], 150)], 1e-9),  # corridor walls
        # Down the corridor past the seam of two boxes (x = 100 at y = 380), then along the
        # bottom corridor: there two nearly parallel contacts meet, whose Gauss-Seidel order
        # pymunk does not expose; agreement stays within 1e-3.
        (4, [([-0.6, -0.3], 200), ([-0.25, 1.0], 200), ([1.0, 0.6], 200)], 1e-3),
    ],
)
def test_matches_pymunk(seed: int, pieces: list, atol: float) -> None:
    actions = np.concatenate([np.tile(a, (n, 1)) for a, n in pieces])
    env = MazeEnv()
    obs, _ = env.reset(seed=seed)
    ref = NearPymunkMaze(obs)
    ours = replay(env, actions)
    theirs = np.array([ref.step(a) for a in actions])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


def test_reset_distribution_and_options() -> None:
    env = MazeEnv()
    starts = np.array([env.reset(seed=s)[0] for s in range(40)])
    assert np.all(starts >= 60) and np.all(starts < 80) and np.all(starts == np.round(starts))
    assert len(np.unique(starts, axis=0)) > 30
    expected = np.random.default_rng(7).integers(60, 80, size=2)
    np.testing.assert_array_equal(env.reset(seed=7)[0], expected)
    np.testing.assert_array_equal(env.reset(options={"state": [100.5, 90.0]})[0], [100.5, 90.0])
    with pytest.raises(ValueError, match="inside"):
        env.reset(options={"state": [600.0, 10.0]})
    with pytest.raises(ValueError, match="render_mode"):
        MazeEnv(render_mode="video")
    with pytest.raises(ValueError, match="action"):
        env.step(np.zeros(3))


def test_goal_reward_and_termination() -> None:
    env = gymnasium.make("imitenvs/Maze-v0")
    env.reset(options={"state": (420.0, 420.0)})
    _, reward, terminated, truncated, info = env.step(
        normalise_target(np.array(env.unwrapped.goal))
    )
    assert terminated and not truncated and info["is_success"]
    assert reward == 1000.0 and info["reward_terms"] == {"goal": 1000.0, "stuck": 0.0}


def test_stuck_penalty_and_time_limit() -> None:
    env = gymnasium.make("imitenvs/Maze-v0")
    obs, _ = env.reset(options={"state": (200.0, 100.0)})
    hold = normalise_target(obs)  # target = own position: the agent never moves
    steps = 0
    while steps < 260:
        steps += 1
        _, reward, terminated, truncated, info = env.step(hold)
        if terminated:
            break
    # NEAR checks `env_steps > 250` before counting the step: the 252nd step ends it.
    assert steps == 252 and reward == -500.0 and info["reward_terms"]["stuck"] == -500.0
    env = gymnasium.make("imitenvs/Maze-v0", quit_if_stuck=False)
    env.reset(options={"state": (200.0, 100.0)})
    steps = 0
    while True:
        steps += 1
        _, _, terminated, truncated, _ = env.step(hold)
        if terminated or truncated:
            break
    assert truncated and not terminated and steps == 650


def test_state_restore_replays_exactly() -> None:
    env = MazeEnv()
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for a in rng.uniform(-1, 1, size=(40, 2)):
        env.step(a)
    state = env.get_state()
    actions = np.concatenate([np.tile([-1.0, -0.4], (60, 1)), rng.uniform(-1, 1, (20, 2))])
    first = replay(env, actions)
    env.reset(seed=99)
    np.testing.assert_array_equal(env.set_state(state), state.position)
    np.testing.assert_array_equal(replay(env, actions), first)
    with pytest.raises(TypeError):
        env.set_state((1.0, 2.0))


def test_paired_observations() -> None:
    env = PairedObservation(gymnasium.make("imitenvs/Maze-v0"), num_obs_steps=2)
    obs0, info = env.reset(seed=0)
    np.testing.assert_allclose(info["amp_obs"], np.concatenate([obs0, obs0]))
    obs1, *_, info = env.step(np.array([0.5, 0.5]))
    obs2, *_, info2 = env.step(np.array([0.5, 0.5]))
    np.testing.assert_allclose(info["amp_obs"], np.concatenate([obs0, obs1]), rtol=1e-6)
    np.testing.assert_allclose(info2["amp_obs"], np.concatenate([obs1, obs2]), rtol=1e-6)
    assert env.paired_observation_space.shape == (4,)
    three = PairedObservation(gymnasium.make("imitenvs/Maze-v0"), num_obs_steps=3)
    three.reset(seed=0)
    assert three.step(np.zeros(2))[4]["amp_obs"].shape == (6,)
    with pytest.raises(ValueError, match="num_obs_steps"):
        PairedObservation(gymnasium.make("imitenvs/Maze-v0"), num_obs_steps=1)


def test_expert_reaches_goal() -> None:
    env = gymnasium.make("imitenvs/Maze-v0")
    expert = MazeExpert()
    results = [run_episode(env, expert, seed) for seed in range(20)]
    successes = sum(r[2] for r in results)
    assert successes >= 19, f"maze expert reached the goal in {successes}/20 episodes"
    assert max(len(r[0]) for r in results) < 250


def test_render_shows_agent() -> None:
    env = MazeEnv(render_mode="rgb_array", render_size=128)
    env.reset(options={"state": (256.0, 256.0)})
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[64, 64], [65, 105, 225])  # RoyalBlue agent
    with pytest.warns(UserWarning, match="render_mode"):
        assert MazeEnv().render() is None
