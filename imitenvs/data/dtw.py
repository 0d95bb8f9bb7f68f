"""Dynamic time warping: the one DP of imitenvs, and DeepMimic's DTW cost on top of it.

:func:`dtw_table` is the dynamic programme every DTW number of the project comes from: the
DTW pose error of :mod:`imitenvs.agents.evaluation` (through :func:`dtw_cost`) and the
per-state DTW costs of the MILO datasets (:func:`deepmimic_dtw`).

**DeepMimic's DTW cost** (``SceneImitateAMP.cpp`` and ``util/DynamicTimeWarper.cpp`` of the
``imitate_amp`` scene, as used by the AMP/MILO fork ``dhruvsreenivas/amp_extensions``):

- one sample per control step of the simulated character (sequence 0) and of the kinematic
  reference at the same time (sequence 1), plus the final state at the episode's end, so an
  episode of ``T`` steps has ``n = T + 1`` samples in each sequence;
- the feature of a sample (:func:`joint_features`): for each of the ``J`` bodies a 3-vector,
  the root's as ``(0, 0, root height)`` (DeepMimic is y-up: ``(0, root_y, 0)``) and every other
  body's world position minus the root's (world axes, not turned into the heading frame);
- the frame distance (:func:`joint_distances`): the mean over bodies of the Euclidean (not
  squared) distance between corresponding points;
- the DP over an ``n x n`` table: ``C(0, 0) = 0``, every other border cell ``+inf``, and
  ``C(i, j) = d(i, j) + min(C(i-1, j-1), C(i-1, j), C(i, j-1))`` for ``i, j >= 1``: the first
  samples anchor the alignment and their distance is never added. This is :func:`dtw_table`
  over the local costs ``d[1:, 1:]``. The alignment cost is ``C(n-1, n-1)``;
- a remainder penalty ``(buffer_size - n) * 1.0`` for every sample short of the buffer,
  ``buffer_size = ceil(30 Hz * 10 s) + 2 = 302`` (``max_episode_steps + 2``), so a full
  300-step episode pays 1 and an episode that falls early pays for every step it missed;
- the fork's per-state cost path (:func:`backtrack_costs`): walk back from ``(n-1, n-1)``
  to the predecessor of least ``C`` (ties: diagonal, then ``(i-1, j)``, then ``(i, j-1)``),
  attribute ``C(i, j) - C(pred)`` to state ``i``; a step that keeps ``i`` (``(i, j-1)``) adds
  its increment to what the next step that leaves ``i`` attributes; states left before the
  path's start get the self-distance 0. The path sums to the alignment cost. The remainder is
  then spread in proportion (:func:`add_remainder`: ``path += path / sum(path) * remainder``),
  so the path sums to the episode's total DTW cost.

One difference: when the path sums to 0 (a perfect copy) the fork's proportional spread divides
0 by 0 and gives NaN; here the remainder is spread evenly over the states instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROOT_FEATURE_AXIS = 2
"""the axis of the root's height in the root feature (z: MuJoCo is z-up)"""
TERM_STEP_COST = 1.0
"""DeepMimic's ``term_step_cost``: the cost of each sample missing from a full buffer"""


# ------------------------------------------------------------------------------------ DP
def dtw_table(local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DTW table of local costs ``local (T, U)`` or a batch ``(B, T, U)``.

    ``acc[0, 0] = 0``, every other cell of row 0 and column 0 ``+inf``, and for ``1 <= i <= T``,
    ``1 <= j <= U``: ``acc[i, j] = local[i-1, j-1] + min(acc[i-1, j-1], acc[i-1, j],
    acc[i, j-1])``. The DP runs one anti-diagonal at a time, vectorised over the diagonal and
    the batch. Cells depend only on cells above and left of them, so a batch padded to a common
    ``(T, U)`` gives every member's exact table in its top-left corner.

    Returns:
        ``acc`` ``([B,] T+1, U+1)`` float64 and ``steps`` ``([B,] T+1, U+1)`` int64, the
        number of cells on the optimal path to each cell (ties prefer the diagonal step, then
        ``(i-1, j)``).
    """
    local = np.asarray(local, dtype=np.float64)
    single = local.ndim == 2
    if single:
        local = local[None]
    if local.ndim != 3:
        raise ValueError(f"local costs must be (T, U) or (B, T, U), got shape {local.shape}")
    b, t, u = local.shape
    acc = np.full((b, t + 1, u + 1), np.inf)
    acc[:, 0, 0] = 0.0
    steps = np.zeros((b, t + 1, u + 1), dtype=np.int64)
    for k in range(2, t + u + 1):  # cells (i, j), 1-based, with i + j = k
        i = np.arange(max(1, k - u), min(t, k - 1) + 1)
        j = k - i
        candidates = np.stack([acc[:, i - 1, j - 1], acc[:, i - 1, j], acc[:, i, j - 1]])
        lengths = np.stack([steps[:, i - 1, j - 1], steps[:, i - 1, j], steps[:, i, j - 1]])
        best = np.argmin(candidates, axis=0)[None]  # (1, B, cells)
        acc[:, i, j] = local[:, i - 1, j - 1] + np.take_along_axis(candidates, best, 0)[0]
        steps[:, i, j] = np.take_along_axis(lengths, best, 0)[0] + 1
    return (acc[0], steps[0]) if single else (acc, steps)


def dtw_cost(local: np.ndarray) -> tuple[float, int]:
    """Classic DTW over a local cost matrix ``local (T, U)`` (steps: diagonal, down, right).

    Returns:
        the summed local cost along the optimal path from ``(0, 0)`` to ``(T-1, U-1)``, and
        that path's length in cells (ties prefer the diagonal step); from :func:`dtw_table`.
    """
    acc, steps = dtw_table(local)
    return float(acc[-1, -1]), int(steps[-1, -1])


def backtrack_costs(acc: np.ndarray, lengths: Any) -> np.ndarray:
    """The fork's per-state costs (``CalcIndexBuffer``) of batched DeepMimic DTW tables.

    Args:
        acc: ``(B, N, N)`` tables of the DeepMimic DP (``C`` of the module docstring:
            :func:`dtw_table` of ``d[:, 1:, 1:]``), padded to ``N`` samples.
        lengths: ``(B,)`` samples ``n_b >= 1`` of each sequence pair (both sequences of a
            pair have ``n_b`` samples).

    Returns:
        ``(B, N)`` float64: entry ``[b, i]`` is the cost attributed to state ``i < n_b``
        (0 beyond ``n_b``); row ``b`` sums to ``C(n_b - 1, n_b - 1)``. The walk back runs for
        all pairs at once, at most ``2 N`` vectorised steps.
    """
    acc = np.asarray(acc, dtype=np.float64)
    b_count, n_max = acc.shape[0], acc.shape[1]
    n = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if len(n) != b_count or np.any(n < 1) or np.any(n > n_max):
        raise ValueError(f"lengths must be {b_count} integers in [1, {n_max}], got {n.tolist()}")
    rows = np.arange(b_count)
    i, j = n - 1, n - 1
    running = np.zeros(b_count)
    path = np.zeros((b_count, n_max))
    active = (i >= 1) & (j >= 1)
    while active.any():
        here = acc[rows, i, j]
        c_diag = acc[rows, np.maximum(i - 1, 0), np.maximum(j - 1, 0)]
        c_up = acc[rows, np.maximum(i - 1, 0), j]
        c_left = acc[rows, i, np.maximum(j - 1, 0)]
        diag = (c_diag <= c_up) & (c_diag <= c_left)
        up = ~diag & (c_up <= c_left)
        pred = np.where(diag, c_diag, np.where(up, c_up, c_left))
        running = np.where(active, running + (here - pred), running)
        leaves = active & (diag | up)  # this step leaves row i: attribute to state i
        path[rows[leaves], i[leaves]] = running[leaves]
        running[leaves] = 0.0
        j = np.where(active & (diag | ~up), j - 1, j)
        i = np.where(leaves, i - 1, i)
        active = (i >= 1) & (j >= 1)
    return path  # states 0..i at the path's start keep their self-distance 0


def add_remainder(paths: np.ndarray, lengths: Any, remainder: Any) -> np.ndarray:
    """``paths (B, N)`` (zero beyond each ``lengths[b]``) plus ``remainder (B,)`` spread over
    the first ``lengths[b]`` states in proportion to the path (``AddRemainderCost``), or
    evenly where a path sums to 0."""
    paths = np.asarray(paths, dtype=np.float64)
    n = np.asarray(lengths, dtype=np.int64).reshape(-1, 1)
    inside = np.arange(paths.shape[1])[None, :] < n
    total = paths.sum(axis=1, keepdims=True)
    even = inside / n
    share = np.where(total > 0, paths / np.where(total > 0, total, 1.0), even)
    return paths + share * np.asarray(remainder, dtype=np.float64).reshape(-1, 1)


# ---------------------------------------------------------------------- DeepMimic features
def joint_features(body_pos: Any) -> np.ndarray:
    """DeepMimic's ``BuildTimeWarpData``: ``(..., J, 3)`` body positions (world, the root
    first) -> ``(..., J, 3)`` float64: the root as ``(0, 0, root height)``, every other body
    relative to the root (world axes)."""
    pos = np.asarray(body_pos, dtype=np.float64)
    if pos.ndim < 2 or pos.shape[-1] != 3 or pos.shape[-2] < 1:
        raise ValueError(f"body positions must be (..., J, 3), got shape {pos.shape}")
    out = pos - pos[..., :1, :]
    out[..., 0, :] = 0.0
    out[..., 0, ROOT_FEATURE_AXIS] = pos[..., 0, ROOT_FEATURE_AXIS]
    return out


def joint_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(B, T, U)`` mean over bodies of the Euclidean distance between ``a (B, T, J, 3)`` and
    ``b (B, U, J, 3)`` (``TimeWarpCost``), one body at a time to bound the memory."""
    if a.ndim != 4 or b.ndim != 4 or a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"features must be (B, T, J, 3) and (B, U, J, 3): {a.shape}, {b.shape}")
    out = np.zeros((a.shape[0], a.shape[1], b.shape[1]))
    for body in range(a.shape[2]):
        diff = a[:, :, None, body, :] - b[:, None, :, body, :]
        out += np.sqrt(np.einsum("btuk,btuk->btu", diff, diff))
    return out / a.shape[2]


def deepmimic_dtw(
    sim: np.ndarray, ref: np.ndarray, lengths: Any, buffer_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """DeepMimic's episode DTW cost and the fork's per-state cost path, for a batch.

    Args:
        sim: ``(B, N, J, 3)`` :func:`joint_features` of the simulated character, padded.
        ref: ``(B, N, J, 3)`` the same of the reference at the same times.
        lengths: ``(B,)`` samples ``n_b`` of each episode (``T_b + 1``; ``2 <= n_b <= N``).
        buffer_size: DeepMimic's buffer (``max_episode_steps + 2``); each missing sample
            costs :data:`TERM_STEP_COST`.

    Returns:
        ``(B,)`` total costs (alignment + remainder) and ``(B, N)`` per-state paths (the
        first ``n_b`` entries of row ``b``, zero beyond), each summing to its total.
    """
    n = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if np.any(n < 2) or np.any(n > min(sim.shape[1], buffer_size)):
        raise ValueError(
            f"episode lengths need 2 <= n <= {min(sim.shape[1], buffer_size)} samples, "
            f"got {n.tolist()}"
        )
    d = joint_distances(np.asarray(sim, np.float64), np.asarray(ref, np.float64))
    acc, _ = dtw_table(d[:, 1:, 1:])
    remainder = (buffer_size - n) * TERM_STEP_COST
    paths = add_remainder(backtrack_costs(acc, n), n, remainder)
    totals = acc[np.arange(len(n)), n - 1, n - 1] + remainder
    return totals, paths
