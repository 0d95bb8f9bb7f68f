"""RLSP gridworlds: registry ids, published layouts, spaces, rewards, rendering, errors, wrapper.

Expected numbers come from Deep RLSP's spec files (``deep_rlsp/envs/gridworlds/*_spec.py`` at
commit 81941693) and are worked out by hand from the layouts, not read back from the code.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import imitenvs  # noqa: F401  (registers the ids)
from imitenvs.envs.gridworld import (
    PROBLEMS,
    ApplesState,
    BatteriesState,
    RoomState,
    TrainState,
    make_gridworld,
)
from imitenvs.wrappers import OneHotActionWrapper

N, S, E, W, STAY, INTERACT = 0, 1, 2, 3, 4, 5

# id -> (problem, spec, nS, nA, (H, W, C), obs_max, k, T)
IDS = {
    "RoomDefault-v0": ("room", "default", 29, 5, (3, 5, 5), 1, 4, 7),
    "RoomDefaultPixel-v0": ("room", "default_pixel", 29, 5, (3, 5, 5), 1, 4, 7),
    "RoomAlt-v0": ("room", "alt", 29, 5, (3, 5, 5), 1, 4, 7),
    "RoomBad-v0": ("room", "bad", 29, 5, (3, 5, 5), 1, 4, 5),
    "RoomBig-v0": ("room", "big", 199, 5, (10, 10, 5), 1, 7, 20),
    "ApplesDefault-v0": ("apples", "default", 7744, 6, (5, 3, 6), 10, 14, 11),
    "TrainDefault-v0": ("train", "default", 384, 5, (5, 5, 7), 1, 9, 8),
    "BatteriesDefault-v0": ("batteries", "default", 7840, 5, (5, 5, 6), 10, 8, 11),
    "BatteriesEasy-v0": ("batteries", "easy", 7840, 5, (5, 5, 6), 10, 8, 11),
}

# (problem, spec) -> (initial-state features, observed-state features, r_task, r_true)
_APPLES_INIT = [0, 3, 0] + [0, 1] + [0] * 9  # agent at (0, 2): second walkable cell
_APPLES_OBS = [2, 2, 0] + [0] * 5 + [1] + [0] * 5  # agent at (1, 1): sixth walkable cell
FEATURES = {
    ("room", "default"): ([0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [-1, 0, 1, 0]),
    ("room", "default_pixel"): ([0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [-1, 0, 1, 0]),
    ("room", "alt"): ([0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [-1, 0, 1, 0]),
    ("room", "bad"): ([0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, 1]),
    ("room", "big"): ([0] * 7, [0, 0, 0, 1, 0, 0, 0], [0] * 6 + [1], [-1] + [0] * 5 + [1]),
    ("apples", "default"): (_APPLES_INIT, _APPLES_OBS, [0] * 14, [1] + [0] * 13),
    ("train", "default"): (
        [0, 0, 0, 1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 1, 0],
        [0] * 8 + [1],
        [-1, 0, -1, 0, 0, 0, 0, 0, 1],
    ),
    ("batteries", "default"): (
        [2, 0, 1, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 1, 0],
        [0] * 7 + [1],
        [0, -1, 0, 0, 0, 0, 0, 1],
    ),
    ("batteries", "easy"): (
        [2, 0, 1, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 1, 0],
        [0, -1, 0, 0, 0, 0, 0, 1],
        [0, -1, 0, 0, 0, 0, 0, 1],
    ),
}


@pytest.mark.parametrize("name", list(IDS))
def test_registered_ids_have_the_published_sizes(name: str) -> None:
    problem, spec, n_states, n_actions, shape, obs_max, k, horizon = IDS[name]
    env = gymnasium.make(f"imitenvs/{name}")
    u = env.unwrapped
    assert (u.problem, u.spec_name) == (problem, spec)
    assert env.spec.max_episode_steps == 20
    assert env.action_space == gymnasium.spaces.Discrete(n_actions)
    assert u.horizon == horizon and u.mdp.horizon == horizon
    assert u.mdp.n_states == n_states and len(u.state_table.states) == n_states
    assert u.mdp.n_features == k and len(u.feature_names) == k
    assert u.grid(u.get_state()).shape == shape
    assert u.obs_max == obs_max
    if spec == "default_pixel":
        assert env.observation_space == gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    else:
        flat = int(np.prod(shape))
        assert env.observation_space == gymnasium.spaces.Box(0, obs_max, (flat,), np.float32)
    env.close()


@pytest.mark.parametrize(("problem", "spec"), list(FEATURES))
def test_initial_and_observed_state_features_and_rewards(problem: str, spec: str) -> None:
    f_init, f_obs, r_task, r_true = FEATURES[(problem, spec)]
    env = make_gridworld(problem, spec)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["features"], f_init)
    np.testing.assert_array_equal(env.features(env.observed_state), f_obs)
    np.testing.assert_array_equal(env.r_task, r_task)
    np.testing.assert_array_equal(env.r_true, r_true)
    mdp = env.mdp
    np.testing.assert_array_equal(mdp.features[mdp.observed_index], f_obs)
    assert mdp.states[mdp.observed_index] == env.observed_state
    assert mdp.states[int(np.argmax(mdp.initial_distribution))] == env.problem_spec.init_state


def test_published_initial_and_observed_states() -> None:
    room = make_gridworld("room", "default")
    assert room.get_state() == RoomState((2, 2), (True,))
    assert room.observed_state == RoomState((2, 0), (True,))
    assert make_gridworld("room", "alt").get_state() == RoomState((4, 1), (True,))
    assert make_gridworld("room", "bad").observed_state == RoomState((0, 0), (True,))
    assert make_gridworld("room", "big").observed_state == RoomState((0, 7), (True,))
    train = make_gridworld("train", "default")
    assert train.get_state() == TrainState((0, 4), (True,), (2, 1), True)
    assert train.observed_state == TrainState((2, 0), (True,), (2, 2), True)
    apples = make_gridworld("apples", "default")
    assert apples.get_state() == ApplesState((0, 2), N, (True, True, True), (0,), False)
    assert apples.observed_state == ApplesState((1, 1), S, (True, False, True), (2,), False)
    batteries = make_gridworld("batteries", "default")
    assert batteries.get_state() == BatteriesState((0, 4), (2, 1), 8, (True, True), False)
    assert batteries.observed_state == BatteriesState((2, 0), (3, 2), 8, (False, True), False)


def test_room_grid_observation_layers() -> None:
    env = make_gridworld("room", "default")
    obs, _ = env.reset()
    assert obs.dtype == np.float32 and obs.shape == (75,)
    grid = obs.reshape(3, 5, 5)  # (H, W, C) flattened in C order, as Deep RLSP does
    expected = {0: [(2, 2)], 1: [(2, 1)], 2: [], 3: [(1, 1), (3, 1)], 4: [(0, 1), (2, 0)]}
    for channel, cells in expected.items():
        marked = sorted((int(x), int(y)) for y, x in np.argwhere(grid[:, :, channel]))
        assert marked == sorted(cells), channel
    grid_after, *_ = env.step(N)  # onto the vase
    grid_after = grid_after.reshape(3, 5, 5)
    assert grid_after[1, 2, 0] == 1 and grid_after[1, 2, 1] == 0 and grid_after[1, 2, 2] == 1


def test_counting_layers_of_apples_and_batteries() -> None:
    apples = make_gridworld("apples", "default")
    apples.set_state(ApplesState((1, 1), W, (True, False, True), (7,), True))
    grid = apples.grid(apples.get_state())
    assert grid[1, 1, 0] == W + 1 and grid[1, 1, 1] == 1  # facing + 1, carrying
    assert grid[2, 1, 5] == 7 and grid[2, 1, 4] == 1  # bucket count and bucket marker
    assert grid[0, 2, 3] == 1 and grid[0, 0, 2] == 1  # empty tree (2, 0), apple tree (0, 0)
    batteries = make_gridworld("batteries", "default")
    batteries.set_state(BatteriesState((1, 0), (3, 1), 6, (False, True), True))
    grid = batteries.grid(batteries.get_state())
    assert grid[0, 1, 0] == 2 and grid[1, 3, 1] == 6 and grid[:, :, 2].sum() == 0
    assert grid[0, 0, 4] == 1 and grid[4, 4, 3] == 1
    batteries.set_state(BatteriesState((1, 0), (3, 1), 0, (False, True), False))
    grid = batteries.grid(batteries.get_state())
    assert grid[0, 1, 0] == 1 and grid[1, 3, 2] == 1 and grid[:, :, 1].sum() == 0


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_observation_types(problem: str) -> None:
    features_env = make_gridworld(problem, obs_type="features")
    obs, info = features_env.reset()
    np.testing.assert_array_equal(obs, info["features"])
    assert features_env.observation_space.contains(obs)
    index_env = make_gridworld(problem, obs_type="state_index")
    obs, _ = index_env.reset()
    assert index_env.observation_space == gymnasium.spaces.Discrete(index_env.mdp.n_states)
    assert index_env.mdp.states[int(obs)] == index_env.problem_spec.init_state
    obs, *_ = index_env.step(STAY)
    assert index_env.mdp.states[int(obs)] == index_env.get_state()
    pixel_env = make_gridworld(problem, obs_type="pixels")
    obs, _ = pixel_env.reset()
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8


def test_room_default_pixel_observation_follows_the_original_picture() -> None:
    env = gymnasium.make("imitenvs/RoomDefaultPixel-v0")
    obs, _ = env.reset(seed=0)
    # 12-px cells (64 // 5) from the top-left corner on a grey-200 canvas
    np.testing.assert_array_equal(obs[40:, :], 200)
    np.testing.assert_array_equal(obs[24 + 6, 24 + 6], (0, 0, 255))  # agent at (2, 2), blue
    np.testing.assert_array_equal(obs[12 + 6, 24 + 6], (76, 114, 176))  # intact vase (2, 1)
    np.testing.assert_array_equal(obs[12 + 6, 12 + 6], (85, 168, 104))  # carpet (1, 1)
    np.testing.assert_array_equal(obs[0 + 6, 24 + 6], (196, 78, 82))  # goal (2, 0)
    obs, *_ = env.step(N)
    np.testing.assert_array_equal(obs[12 + 6, 24 + 6], (0, 0, 255))  # agent on the vase cell


def test_reward_options_and_info() -> None:
    task = make_gridworld("room", "default")
    true = make_gridworld("room", "default", reward="true")
    custom = make_gridworld("room", "default", reward=np.array([0.0, 2.0, 0.0, 0.0]))
    for env in (task, true, custom):
        env.reset()
    # north onto the vase: features [1, 0, 0, 0]
    _, r_task, *_ = task.step(N)
    _, r_true, _, _, info = true.step(N)
    assert (r_task, r_true) == (0.0, -1.0)
    assert info["reward_task"] == 0.0 and info["reward_true"] == -1.0
    np.testing.assert_array_equal(info["features"], [1, 0, 0, 0])
    # west from (2, 2), then north onto carpet (1, 1): features [0, 1, 0, 0]
    custom.step(W)
    _, r_custom, _, _, info = custom.step(N)
    assert r_custom == 2.0 and info["reward_true"] == 0.0
    listed = make_gridworld("train", reward=[0, 0, 0, 0, 0, 0, 0, 0, 5])
    np.testing.assert_array_equal(listed.reward_weights, [0] * 8 + [5])


def test_never_terminates_and_time_limit_truncates_at_20() -> None:
    env = gymnasium.make("imitenvs/TrainDefault-v0")
    env.reset(seed=0)
    for t in range(1, 21):
        _, _, terminated, truncated, info = env.step(STAY)
        assert not terminated
        assert truncated == (t == 20)
        assert "features" in info
    bare = make_gridworld("train")
    bare.reset()
    assert not any(bare.step(STAY)[2] or bare.step(STAY)[3] for _ in range(100))


def test_reset_from_a_given_state_and_determinism_of_reset() -> None:
    env = make_gridworld("batteries", "default")
    _, info = env.reset(options={"state": env.observed_state})
    assert env.get_state() == env.observed_state
    np.testing.assert_array_equal(info["features"], FEATURES[("batteries", "default")][1])
    env.reset(options={"state": 0})
    assert env.get_state() == env.mdp.states[0]
    firsts = {env.reset(seed=seed)[0].tobytes() for seed in range(5)}
    assert len(firsts) == 1
    for cls in PROBLEMS.values():
        assert cls.stochastic_reset is False


def test_apples_rollouts_are_seeded() -> None:
    def rollout(seed: int) -> list[ApplesState]:
        env = make_gridworld("apples")
        env.reset(seed=seed)
        env.set_state(ApplesState((1, 1), N, (False, False, False), (0,), False))
        return [env.step(STAY) and env.get_state() for _ in range(60)]

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_render_modes() -> None:
    for cls in PROBLEMS.values():
        assert cls.metadata["render_modes"] == ["ansi", "rgb_array"]
    text_env = make_gridworld("room", "default", render_mode="ansi")
    text_env.reset()
    text = text_env.render()
    rows = text.splitlines()
    assert rows[5] == "|   |   |  A|   |   |"  # agent at (2, 2), third grid row
    assert rows[3] == "|G  |C  | V |C  |   |"
    assert "V vase" in text and "C carpet" in text and "G goal" in text
    text_env.step(N)
    assert text_env.render().splitlines()[3] == "|G  |C  | xA|C  |   |"
    apples_text = make_gridworld("apples", render_mode="ansi")
    apples_text.reset()
    assert "B0" in apples_text.render() and " ^ " in apples_text.render()


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_rgb_render_size_and_content(problem: str) -> None:
    env = make_gridworld(problem, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert min(frame.shape[:2]) >= 256
    assert frame.shape[0] >= 64 * env.height and frame.shape[1] >= 64 * env.width
    env.set_state(env.observed_state)
    assert not np.array_equal(frame, env.render())


def test_rgb_render_shows_state_changes() -> None:
    room = make_gridworld("room", render_mode="rgb_array")
    room.reset()
    before = room.render()
    room.step(W)
    room.step(N)
    room.step(E)  # onto the vase from the left: broken, agent on it
    assert room.get_state().vases == (False,)
    after = room.render()
    assert not np.array_equal(before, after)
    apples = make_gridworld("apples", render_mode="rgb_array")
    frames = []
    for count in (0, 7):
        apples.set_state(ApplesState((0, 1), N, (True, True, True), (count,), False))
        frames.append(apples.render())
    assert not np.array_equal(*frames)  # the bucket count is drawn


def test_render_without_mode_returns_none() -> None:
    env = make_gridworld("room")
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_class_docstrings_are_specs() -> None:
    for cls in PROBLEMS.values():
        doc = cls.__doc__ or ""
        for needle in ("Actions", "Observation", "Features", "Reward", "Termination"):
            assert needle in doc, (cls.__name__, needle)
        assert "v0: initial, follows deep-rlsp @81941693" in doc


# ----------------------------------------------------------------------------- bad input
def test_unknown_problem_and_spec() -> None:
    with pytest.raises(ValueError, match=r"problem='kitchen'.*'room', 'apples', 'train'"):
        make_gridworld("kitchen", "default")
    with pytest.raises(ValueError, match=r"'huge'.*'default', 'default_pixel', 'alt', 'bad'"):
        make_gridworld("room", "huge")
    with pytest.raises(ValueError, match=r"'bad'.*'default', 'easy'"):
        make_gridworld("batteries", "bad")


def test_bad_actions() -> None:
    env = make_gridworld("room")
    env.reset()
    for bad in (5, -1, 2.5, "north"):
        with pytest.raises(ValueError, match=r"Discrete\(5\)"):
            env.step(bad)
    apples = make_gridworld("apples")
    apples.reset()
    apples.step(np.int64(INTERACT))
    with pytest.raises(ValueError, match=r"Discrete\(6\)"):
        apples.step(6)


def test_bad_reward_obs_type_render_mode() -> None:
    with pytest.raises(ValueError, match=r"shape \(2,\); expected \(4,\).*broken_vases"):
        make_gridworld("room", reward=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"reward='best'.*'task', 'true'"):
        make_gridworld("room", reward="best")
    with pytest.raises(ValueError, match=r"finite"):
        make_gridworld("room", reward=[0, 0, np.nan, 0])
    with pytest.raises(ValueError, match=r"obs_type='rgb'.*'grid', 'features', 'state_index'"):
        make_gridworld("train", obs_type="rgb")
    with pytest.raises(ValueError, match=r"render_mode='human'.*'ansi', 'rgb_array'"):
        make_gridworld("train", render_mode="human")


def test_bad_states() -> None:
    env = make_gridworld("room")
    with pytest.raises(ValueError, match=r"not a state of room spec 'default'"):
        env.set_state(RoomState((2, 1), (True,)))  # standing on an intact vase
    with pytest.raises(ValueError, match=r"not a state"):
        env.set_state(TrainState((0, 0), (True,), (2, 1), True))
    with pytest.raises(ValueError, match=r"index 29 is out of range.*29 states"):
        env.set_state(29)
    with pytest.raises(ValueError, match=r"not a state"):
        env.reset(options={"state": RoomState((9, 9), (True,))})


# ----------------------------------------------------------------------------- wrapper
def test_one_hot_action_wrapper() -> None:
    env = OneHotActionWrapper(gymnasium.make("imitenvs/RoomDefault-v0"))
    assert env.action_space == gymnasium.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    env.reset(seed=0)
    env.step(np.array([0.0, 0.0, 0.0, 1.0, 0.0]))  # west
    env.step(np.array([3.0, -1.0, 0.5, 2.0, 0.0]))  # argmax 0 = north
    assert env.unwrapped.get_state() == RoomState((1, 1), (True,))
    np.testing.assert_array_equal(env.reverse_action(2), [0, 0, 1, 0, 0])
    assert env.action(env.reverse_action(3)) == 3
    with pytest.raises(ValueError, match=r"shape \(3,\); expected \(5,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="Discrete action space"):
        OneHotActionWrapper(env)  # already a Box action space
    apples = OneHotActionWrapper(make_gridworld("apples"))
    assert apples.action_space.shape == (6,)
