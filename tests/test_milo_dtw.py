"""The one DTW DP (imitenvs.data.dtw) against brute force, and DeepMimic's backtracked
per-state cost on a hand-worked example."""

from __future__ import annotations

import numpy as np
import pytest

from imitenvs.agents.evaluation import dtw_distance
from imitenvs.data.dtw import (
    add_remainder,
    backtrack_costs,
    deepmimic_dtw,
    dtw_cost,
    dtw_table,
    joint_distances,
    joint_features,
)


def monotone_paths(t: int, u: int) -> list[list[tuple[int, int]]]:
    """Every path of cells from (0, 0) to (t-1, u-1) with steps (1,1), (1,0), (0,1)."""
    out = []

    def walk(path: list[tuple[int, int]]) -> None:
        i, j = path[-1]
        if (i, j) == (t - 1, u - 1):
            out.append(list(path))
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < t and j + dj < u:
                path.append((i + di, j + dj))
                walk(path)
                path.pop()

    walk([(0, 0)])
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 3), (4, 2), (5, 4)])
def test_dtw_cost_is_the_cheapest_monotone_path(shape: tuple[int, int]) -> None:
    local = np.random.default_rng(sum(shape)).random(shape)
    best = min(sum(local[c] for c in p) for p in monotone_paths(*shape))
    cost, length = dtw_cost(local)
    assert cost == pytest.approx(best)
    assert max(shape) <= length <= sum(shape) - 1


def test_batched_table_equals_each_padded_member() -> None:
    rng = np.random.default_rng(0)
    batch = rng.random((3, 6, 6))
    acc, steps = dtw_table(batch)
    for k in range(3):
        one, one_steps = dtw_table(batch[k, :4, :4])  # a shorter member, padded in the batch
        np.testing.assert_allclose(acc[k, :5, :5], one)
        np.testing.assert_array_equal(steps[k, :5, :5], one_steps)


def test_dtw_distance_still_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((4, 2)), rng.random((3, 2))
    sq = ((a[:, None] - b[None]) ** 2).sum(-1)
    best = min(sum(sq[c] for c in p) for p in monotone_paths(4, 3))
    assert dtw_distance(a, b) == pytest.approx(np.sqrt(best))


def test_backtrack_hand_worked_example() -> None:
    """n = 4 samples, local costs d[1:, 1:] below. C (0-based, C00 = 0, borders inf):
    C11=1 C12=2 C13=3 / C21=10 C22=10 C23=3 / C31=19 C32=19 C33=4. Walk back from (3,3):
    up to (2,3) [state 3: 4-3 = 1], diagonal to (1,2) [state 2: 3-2 = 1], left to (1,1)
    [running 2-1 = 1], diagonal to (0,0) [state 1: 1 + 1-0 = 2]; state 0 keeps 0."""
    local = np.array([[1.0, 1.0, 1.0], [9.0, 9.0, 1.0], [9.0, 9.0, 1.0]])
    acc, _ = dtw_table(local)
    expected_c = [[0, np.inf, np.inf, np.inf], [np.inf, 1, 2, 3], [np.inf, 10, 10, 3]]
    np.testing.assert_array_equal(acc[:3], expected_c)
    assert acc[3, 3] == 4.0
    path = backtrack_costs(acc[None], [4])
    np.testing.assert_array_equal(path, [[0.0, 2.0, 1.0, 1.0]])
    # buffer of 6 samples: remainder 2, spread in proportion -> [0, 3, 1.5, 1.5]
    np.testing.assert_allclose(add_remainder(path, [4], [2.0]), [[0.0, 3.0, 1.5, 1.5]])
    # a zero path (perfect copy) gets the remainder evenly instead of the fork's 0/0
    np.testing.assert_allclose(add_remainder(np.zeros((1, 3)), [2], [1.0]), [[0.5, 0.5, 0.0]])


@pytest.mark.parametrize("n", [2, 3, 5])
def test_backtrack_equals_row_sums_of_the_brute_force_path(n: int) -> None:
    """With distinct random costs the optimal path is unique; the fork's per-state cost of
    state i is then the sum of d(i, j) over the path's cells in row i (d(0, 0) excluded)."""
    rng = np.random.default_rng(n)
    d = rng.random((n, n))
    inner = d[1:, 1:]
    paths = monotone_paths(n - 1, n - 1)
    best = min(paths, key=lambda p: sum(inner[c] for c in p))
    rows = np.zeros(n)
    for i, j in best:
        rows[i + 1] += inner[i, j]
    acc, _ = dtw_table(inner)
    np.testing.assert_allclose(backtrack_costs(acc[None], [n])[0], rows)


def test_deepmimic_dtw_features_distances_and_padding() -> None:
    rng = np.random.default_rng(2)
    body = rng.normal(size=(2, 5, 3, 3))  # (B, N, J, 3)
    feats = joint_features(body)
    np.testing.assert_allclose(feats[..., 0, :2], 0.0)
    np.testing.assert_allclose(feats[..., 0, 2], body[..., 0, 2])
    np.testing.assert_allclose(feats[..., 1:, :], body[..., 1:, :] - body[..., :1, :])
    ref = joint_features(rng.normal(size=(2, 5, 3, 3)))
    d = joint_distances(feats, ref)
    manual = np.linalg.norm(feats[0, 1] - ref[0, 3], axis=-1).mean()
    assert d[0, 1, 3] == pytest.approx(manual)
    totals, paths = deepmimic_dtw(feats, ref, [5, 3], buffer_size=7)
    for k, n in enumerate([5, 3]):
        inner = joint_distances(feats[k : k + 1, :n], ref[k : k + 1, :n])[0, 1:, 1:]
        best = min(sum(inner[c] for c in p) for p in monotone_paths(n - 1, n - 1))
        assert totals[k] == pytest.approx(best + (7 - n))
        assert paths[k].sum() == pytest.approx(totals[k])
        assert np.all(paths[k, n:] == 0.0)
    # identical sequences: alignment 0, the remainder spread evenly
    same_totals, same_paths = deepmimic_dtw(feats, feats, [5, 5], buffer_size=7)
    np.testing.assert_allclose(same_totals, [2.0, 2.0])
    np.testing.assert_allclose(same_paths, 0.4)


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="lengths must be"):
        backtrack_costs(np.zeros((1, 3, 3)), [4])
    with pytest.raises(ValueError, match="2 <= n"):
        deepmimic_dtw(np.zeros((1, 3, 2, 3)), np.zeros((1, 3, 2, 3)), [1], 5)
    with pytest.raises(ValueError, match=r"\(..., J, 3\)"):
        joint_features(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="local costs"):
        dtw_table(np.zeros(3))
