"""CPU backend: ``mujoco.batch.Batch`` steps all worlds' substeps in C threads.

No Python loop over worlds or substeps: one :meth:`MujocoCpuBackend.step` call is one
``Batch.step(nstep=k)`` call, which releases the GIL and runs on ``nthread`` threads. State
tensors are zero-copy torch views of the batch's buffers (see :mod:`imitenvs.sim.base`).
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import mujoco.batch
import numpy as np
import torch

from imitenvs.core.checks import check_positive_int

_STATE_FIELDS = ("qpos", "qvel", "ctrl", "qacc_warmstart")
_OUTPUT_FIELDS = ("xpos", "xquat", "subtree_com", "sensordata")
# Warnings that mean the simulation went bad (MuJoCo resets such a world on its own).
_DIVERGENCE_WARNINGS = [
    int(w)
    for w in (
        mujoco.mjtWarning.mjWARN_BADQACC,
        mujoco.mjtWarning.mjWARN_BADQPOS,
        mujoco.mjtWarning.mjWARN_BADQVEL,
    )
]


def _view(array: np.ndarray) -> torch.Tensor:
    """Zero-copy torch view of a batch buffer (outputs are refilled in place every call)."""
    if not array.flags.writeable:
        array.flags.writeable = True  # torch needs a writable buffer; we never write outputs
    return torch.from_numpy(array)


class MujocoCpuBackend:
    """``num_worlds`` worlds of ``model`` on a ``mujoco.batch`` thread pool.

    Args:
        model: the compiled model (the batch keeps its own copy of the data, not the model).
        num_worlds: number of worlds N (> 0).
        nthread: C threads; 0 uses every CPU.
        outputs: extra MjData output fields (``mujoco.batch.DATA_FIELDS``) to bind as tensor
            attributes, e.g. ``("geom_xpos", "geom_xmat")``; each is copied after every call.
    """

    device = torch.device("cpu")

    def __init__(
        self,
        model: mujoco.MjModel,
        num_worlds: int,
        *,
        nthread: int = 0,
        outputs: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.num_worlds = check_positive_int("num_worlds", num_worlds)
        extra = tuple(n for n in outputs if n not in _STATE_FIELDS + _OUTPUT_FIELDS)
        unknown = sorted(set(extra) - mujoco.batch.DATA_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown MjData output fields {unknown}; see mujoco.batch.DATA_FIELDS"
            )
        self._batch = mujoco.batch.Batch(model, self.num_worlds, nthread=nthread, persistent=True)
        for name in _STATE_FIELDS + _OUTPUT_FIELDS + extra:
            setattr(self, name, _view(self._batch.bind(name)))
        self._warnings = np.zeros(self.num_worlds, dtype=np.int64)
        self._batch.forward()

    @property
    def nthread(self) -> int:
        return int(self._batch.nthread)

    def set_state(self, ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """See :meth:`imitenvs.sim.base.PhysicsBackend.set_state`."""
        idx = ids.cpu().numpy()
        if idx.size == 0:
            return
        self._batch.reset(idx, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[ids] = qpos.to(self.qpos)
        self.qvel[ids] = qvel.to(self.qvel)
        self._batch.forward(idx, stage=mujoco.mjtStage.mjSTAGE_VEL)
        self._warnings[idx] = self._warning_counts()[idx]

    def step(self, ctrl: torch.Tensor, nsubsteps: int) -> torch.Tensor:
        """See :meth:`imitenvs.sim.base.PhysicsBackend.step`."""
        self.ctrl.copy_(ctrl)
        failed = np.zeros(self.num_worlds, dtype=bool)
        try:
            self._batch.step(nstep=nsubsteps, stage=mujoco.mjtStage.mjSTAGE_VEL)
        except mujoco.batch.SimulationError as exc:
            failed[exc.ids] = True
        counts = self._warning_counts()
        failed |= counts > self._warnings
        self._warnings = counts
        failed |= ~np.isfinite(self._batch.bind("qpos")).all(axis=1)
        failed |= ~np.isfinite(self._batch.bind("qvel")).all(axis=1)
        return torch.from_numpy(failed)

    def _warning_counts(self) -> np.ndarray:
        """``(N,)`` total count of the divergence warnings of each world (``warning[..., 1]``
        is mjWarningStat.number)."""
        return self._batch.warning[:, _DIVERGENCE_WARNINGS, 1].sum(axis=1).astype(np.int64)
