"""Kinematic skeletons and batched forward kinematics (numpy or torch).

A :class:`Skeleton` is a tree of bodies in topological order (every parent before its
children), each with a fixed offset from its parent's origin in the parent's frame. A pose is
the root position plus one local rotation per body: ``local_rot[..., 0, :]`` is the root's
rotation in the world, ``local_rot[..., j, :]`` body ``j``'s rotation relative to its parent.
Quaternions are xyzw (see :mod:`imitenvs.motion.quat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from imitenvs.motion._xp import asarray, namespace
from imitenvs.motion.quat import quat_mul, quat_rotate

Array = Any  # numpy.ndarray or torch.Tensor


@dataclass(frozen=True, eq=False)
class Skeleton:
    """Body names, parent indices and local offsets of a kinematic tree.

    Attributes:
        names: ``J`` body names; body 0 is the root.
        parents: ``(J,)`` int parent index per body, ``-1`` for the root, ``parents[j] < j``.
        offsets: ``(J, 3)`` position of each body's origin in its parent's frame (metres);
            the root's offset is its rest position and is ignored by forward kinematics.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        offsets = np.asarray(self.offsets, dtype=np.float64)
        names = tuple(str(n) for n in self.names)
        num = len(names)
        if parents.shape != (num,) or offsets.shape != (num, 3):
            raise ValueError(
                f"skeleton with {num} names needs parents of shape ({num},) and offsets of "
                f"shape ({num}, 3), got {parents.shape} and {offsets.shape}"
            )
        if num == 0 or parents[0] != -1:
            raise ValueError(f"body 0 must be the root (parent -1), got parents {parents.tolist()}")
        bad = [j for j in range(1, num) if not 0 <= parents[j] < j]
        if bad:
            raise ValueError(
                f"parents must precede children; bad bodies: {[names[j] for j in bad]}"
            )
        if len(set(names)) != num:
            raise ValueError(f"body names must be unique, got {names}")
        parents.setflags(write=False)
        offsets.setflags(write=False)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "offsets", offsets)

    @property
    def num_bodies(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of body ``name``; ``KeyError`` naming the known bodies otherwise."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown body {name!r}; bodies: {', '.join(self.names)}") from None

    def matches(self, other: Skeleton, atol: float = 1e-4) -> bool:
        """Same names and parents, and non-root offsets equal within ``atol`` metres."""
        return (
            self.names == other.names
            and np.array_equal(self.parents, other.parents)
            and np.allclose(self.offsets[1:], other.offsets[1:], atol=atol)
        )


def forward_kinematics(
    skeleton: Skeleton, root_pos: Array, local_rot: Array
) -> tuple[Array, Array]:
    """World positions and rotations of every body.

    Args:
        skeleton: the tree (offsets are converted to the array kind of ``root_pos``).
        root_pos: ``(..., 3)`` root positions.
        local_rot: ``(..., J, 4)`` xyzw local rotations (index 0: root rotation in the world).

    Returns:
        ``(global_pos (..., J, 3), global_rot (..., J, 4))``.
    """
    xp = namespace(root_pos, local_rot)
    offsets = asarray(skeleton.offsets, root_pos)
    positions = [root_pos]
    rotations = [local_rot[..., 0, :]]
    for j in range(1, skeleton.num_bodies):
        p = int(skeleton.parents[j])
        positions.append(positions[p] + quat_rotate(rotations[p], offsets[j]))
        rotations.append(quat_mul(rotations[p], local_rot[..., j, :]))
    return xp.stack(positions, axis=-2), xp.stack(rotations, axis=-2)
