"""Hand-worked transitions of the RLSP gridworlds on their published layouts.

Each trajectory is worked out on paper from the layout diagrams in Deep RLSP's spec files
(the train and batteries ones retrace Deep RLSP's own unit-test trajectories).
"""

from __future__ import annotations

import numpy as np
import pytest

from imitenvs.envs.gridworld import (
    ApplesState,
    BatteriesState,
    GridworldEnv,
    RoomState,
    TrainState,
    make_gridworld,
)

N, S, E, W, STAY, INTERACT = 0, 1, 2, 3, 4, 5


def run(env: GridworldEnv, steps: list[tuple[int, object]]) -> None:
    """Step ``env`` through ``(action, expected next state)`` pairs."""
    for k, (action, expected) in enumerate(steps):
        env.step(action)
        assert env.get_state() == expected, f"step {k}: action {action}"


# --------------------------------------------------------------------------------- room
def test_room_vase_breaks_when_walked_on_and_stays_broken() -> None:
    env = make_gridworld("room", "default")
    env.reset()
    run(
        env,
        [
            (N, RoomState((2, 1), (False,))),
            (N, RoomState((2, 0), (False,))),
            (S, RoomState((2, 1), (False,))),
            (S, RoomState((2, 2), (False,))),
        ],
    )
    np.testing.assert_array_equal(env.features(env.get_state()), [1, 0, 0, 0])


def test_room_detour_over_carpets_keeps_the_vase() -> None:
    env = make_gridworld("room", "default")
    env.reset()
    run(
        env,
        [
            (W, RoomState((1, 2), (True,))),
            (N, RoomState((1, 1), (True,))),  # carpet
            (N, RoomState((1, 0), (True,))),
            (E, RoomState((2, 0), (True,))),  # goal (2, 0) = the observed state
        ],
    )
    assert env.get_state() == env.observed_state


def test_room_moves_off_the_grid_leave_the_agent_in_place() -> None:
    env = make_gridworld("room", "default")
    env.reset()
    run(env, [(S, RoomState((2, 2), (True,))), (STAY, RoomState((2, 2), (True,)))])
    env.set_state(RoomState((0, 0), (True,)))
    run(env, [(N, RoomState((0, 0), (True,))), (W, RoomState((0, 0), (True,)))])
    env.set_state(RoomState((4, 2), (True,)))
    run(env, [(E, RoomState((4, 2), (True,))), (S, RoomState((4, 2), (True,)))])


def test_room_bad_and_big_layouts() -> None:
    bad = make_gridworld("room", "bad")
    bad.reset()
    run(bad, [(N, RoomState((0, 1), (True,))), (N, RoomState((0, 0), (True,)))])
    assert bad.get_state() == bad.observed_state
    big = make_gridworld("room", "big")
    big.reset()
    run(big, [(S, RoomState((0, 3), (True,))), (S, RoomState((0, 4), (True,)))])
    np.testing.assert_array_equal(big.features(big.get_state()), [0, 0, 1, 0, 0, 0, 0])
    run(big, [(S, RoomState((0, 5), (False,)))])  # the vase at (0, 5)
    big.set_state(RoomState((1, 0), (True,)))
    run(big, [(E, RoomState((2, 0), (True,)))])  # carpet (2, 0)
    np.testing.assert_array_equal(big.features(big.get_state()), [0, 1, 0, 0, 0, 0, 0])


# -------------------------------------------------------------------------------- train
def _train(agent, train, intact=True, vase=True) -> TrainState:
    return TrainState(agent, (vase,), train, intact)


def test_train_loops_and_reaches_the_observed_state() -> None:
    env = make_gridworld("train")
    env.reset()
    run(
        env,
        [
            (N, _train((0, 3), (3, 1))),
            (N, _train((0, 2), (3, 2))),
            (N, _train((0, 1), (2, 2))),
            (E, _train((1, 1), (2, 1))),
            (N, _train((1, 0), (3, 1))),
            (E, _train((2, 0), (3, 2))),
            (STAY, _train((2, 0), (2, 2))),
        ],
    )
    assert env.get_state() == env.observed_state
    run(env, [(STAY, _train((2, 0), (2, 1)))])


def test_train_breaks_when_the_agent_lands_on_its_next_cell() -> None:
    env = make_gridworld("train")
    env.reset()
    run(
        env,
        [
            (E, _train((1, 4), (3, 1))),
            (E, _train((2, 4), (3, 2))),
            (E, _train((3, 4), (2, 2))),
            (N, _train((3, 3), (2, 1))),
            (N, _train((3, 2), (3, 1))),
            (STAY, _train((3, 2), (3, 2), intact=False)),  # the train runs into the agent
            (STAY, _train((3, 2), (3, 2), intact=False)),  # a broken train stays put
            (N, _train((3, 1), (3, 2), intact=False)),
            (W, _train((2, 1), (3, 2), intact=False)),
        ],
    )
    np.testing.assert_array_equal(env.features(env.get_state()), [0, 0, 1, 0, 0, 1, 0, 0, 0])
    assert env.mdp.rewards(env.r_true)[env.mdp.index[env.get_state()]] == -1.0


def test_train_entering_the_cell_the_train_leaves_is_safe() -> None:
    env = make_gridworld("train")
    env.set_state(_train((3, 3), (3, 2)))
    run(env, [(N, _train((3, 2), (2, 2)))])
    env.set_state(_train((2, 3), (3, 2)))
    run(env, [(N, _train((2, 2), (2, 2), intact=False))])  # moved onto the train's next cell


def test_train_vase_breaks() -> None:
    env = make_gridworld("train")
    env.set_state(_train((0, 2), (2, 1)))
    run(env, [(E, _train((1, 2), (3, 1), vase=False)), (E, _train((2, 2), (3, 2), vase=False))])
    np.testing.assert_array_equal(env.features(env.get_state())[:3], [1, 0, 0])


# ---------------------------------------------------------------------------- batteries
def _bat(agent, train, life, batteries=(True, True), carrying=False) -> BatteriesState:
    return BatteriesState(agent, train, life, batteries, carrying)


def test_batteries_pick_up_recharge_and_reach_the_observed_state() -> None:
    env = make_gridworld("batteries")
    env.reset()
    used = (False, True)
    run(
        env,
        [
            (N, _bat((0, 3), (3, 1), 7)),
            (N, _bat((0, 2), (3, 2), 6)),
            (N, _bat((0, 1), (2, 2), 5)),
            (N, _bat((0, 0), (2, 1), 4, used, True)),  # picks up the battery at (0, 0)
            (E, _bat((1, 0), (3, 1), 3, used, True)),
            (E, _bat((2, 0), (3, 2), 2, used, True)),
            (STAY, _bat((2, 0), (2, 2), 1, used, True)),
            (STAY, _bat((2, 0), (2, 1), 0, used, True)),  # dead
            (S, _bat((2, 1), (3, 1), 9, used, False)),  # battery delivered: life 10, then moves
            (N, _bat((2, 0), (3, 2), 8, used, False)),
        ],
    )
    assert env.get_state() == env.observed_state


def test_batteries_dead_train_stops_and_is_penalised_by_r_true() -> None:
    env = make_gridworld("batteries", "default", reward="true")
    env.set_state(_bat((0, 2), (3, 1), 1))
    _, reward, *_ = env.step(STAY)
    assert env.get_state() == _bat((0, 2), (3, 2), 0)
    assert reward == -1.0
    run(env, [(STAY, _bat((0, 2), (3, 2), 0)), (N, _bat((0, 1), (3, 2), 0))])
    easy = make_gridworld("batteries", "easy")
    easy.set_state(_bat((0, 2), (3, 1), 1))
    assert easy.step(STAY)[1] == -1.0
    default = make_gridworld("batteries", "default")
    default.set_state(_bat((0, 2), (3, 1), 1))
    assert default.step(STAY)[1] == 0.0


def test_batteries_no_recharge_without_a_battery_and_carrying_blocks_pickup() -> None:
    env = make_gridworld("batteries")
    env.set_state(_bat((2, 0), (2, 1), 0))  # dead train below, empty hands
    run(env, [(S, _bat((2, 1), (2, 1), 0))])
    env.set_state(_bat((4, 3), (2, 1), 5, (False, True), True))
    run(env, [(S, _bat((4, 4), (3, 1), 4, (False, True), True))])  # battery (4, 4) stays


# ------------------------------------------------------------------------------- apples
def _apples(agent, facing, trees=(True, True, True), bucket=0, carrying=False) -> ApplesState:
    return ApplesState(agent, facing, trees, (bucket,), carrying)


def test_apples_pick_carry_and_put_in_the_bucket() -> None:
    env = make_gridworld("apples")
    env.reset(seed=0)
    # every tree holds an apple before these two steps, so they are deterministic
    run(
        env, [(N, _apples((0, 1), N)), (INTERACT, _apples((0, 1), N, (False, True, True), 0, True))]
    )
    assert env.features(env.get_state())[:3].tolist() == [0, 2, 1]
    # from now on the picked tree (0, 0) may regrow: 0.1 per step
    carried = _apples((1, 1), E, (False, True, True), 0, True)
    assert dict((s, p) for p, s in env.transitions(env.get_state(), E)) == pytest.approx(
        {carried: 0.9, _apples((1, 1), E, (True, True, True), 0, True): 0.1}
    )
    env.set_state(carried)
    env.step(S)  # (1, 2) is the bucket: blocked, now facing it, still carrying
    assert env.get_state().agent == (1, 1) and env.get_state().facing == S
    assert env.get_state().carrying
    env.step(INTERACT)
    assert env.get_state().buckets == (1,) and not env.get_state().carrying
    assert env.features(env.get_state())[0] == 1
    assert env.step(STAY)[4]["reward_true"] == 1.0  # r_true counts apples in the bucket


def test_apples_turn_even_when_blocked_and_stay_keeps_facing() -> None:
    env = make_gridworld("apples")
    env.reset()
    run(
        env,
        [
            (E, _apples((0, 2), E)),  # (1, 2) is the bucket: blocked, but now facing east
            (W, _apples((0, 2), W)),  # off the grid: blocked, facing west
            (STAY, _apples((0, 2), W)),
            (S, _apples((0, 3), S)),
        ],
    )
    env.set_state(_apples((1, 0), E))
    run(env, [(E, _apples((1, 0), E))])  # tree (2, 0) blocks


def test_apples_interact_without_target_and_dropping_elsewhere() -> None:
    env = make_gridworld("apples")
    env.set_state(_apples((0, 1), W))
    run(env, [(INTERACT, _apples((0, 1), W))])  # empty hands, facing the wall
    env.set_state(_apples((0, 1), W, carrying=True))
    run(env, [(INTERACT, _apples((0, 1), W))])  # carried apple dropped and lost
    env.set_state(_apples((0, 1), N, carrying=True))
    run(env, [(INTERACT, _apples((0, 1), N))])  # facing a tree while carrying: dropped


def test_apples_bucket_capacity_caps_the_count() -> None:
    env = make_gridworld("apples")
    assert env.problem_spec.bucket_capacity == 10
    env.set_state(_apples((1, 1), S, bucket=9, carrying=True))
    run(env, [(INTERACT, _apples((1, 1), S, bucket=10))])
    env.set_state(_apples((1, 1), S, bucket=10, carrying=True))
    run(env, [(INTERACT, _apples((1, 1), S, bucket=10))])
    assert env.features(env.get_state())[0] == 10


def test_apples_picked_tree_does_not_regrow_in_the_same_step() -> None:
    env = make_gridworld("apples")
    state = _apples((0, 1), N, (True, False, True))
    outcomes = env.transitions(state, INTERACT)
    assert sorted(p for p, _ in outcomes) == pytest.approx([0.1, 0.9])
    assert all(not s.trees[0] and s.carrying for _, s in outcomes)  # (0, 0) picked, stays bare


def test_apples_regrow_with_probability_one_tenth() -> None:
    env = make_gridworld("apples")
    env.reset(seed=1234)
    bare = _apples((1, 1), N, (False, False, False))
    n = 4000
    grown = np.zeros((n, 3))
    for k in range(n):
        env.set_state(bare)
        env.step(STAY)
        grown[k] = env.get_state().trees
    rates = grown.mean(axis=0)
    # binomial standard error sqrt(0.09 / 4000) = 0.0047; allow 4 of them
    np.testing.assert_allclose(rates, 0.1, atol=0.019)
    assert abs(np.mean(grown.sum(axis=1) == 0) - 0.9**3) < 0.03  # trees grow independently
