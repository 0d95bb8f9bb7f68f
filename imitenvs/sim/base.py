"""The physics-backend protocol every batched task is written against.

A backend holds ``N`` worlds of one MuJoCo model. Everything it exposes is a torch tensor on
``backend.device`` with the world axis first, so task code (observations, rewards, resets) is
written once and runs on every backend. The tensors are zero-copy views of the simulator's own
buffers; they change in place after :meth:`PhysicsBackend.step` and
:meth:`PhysicsBackend.set_state` (copy what must outlive a step).

==========  ======================  =======  ===============================================
backend     class                   dtype    devices
==========  ======================  =======  ===============================================
``"cpu"``   ``MujocoCpuBackend``    float64  ``cpu``: ``mujoco.batch``, C threads
``"warp"``  ``MujocoWarpBackend``   float32  ``cuda``, ``cuda:<i>``; ``cpu`` (warp's CPU
                                             device, for tests)
==========  ======================  =======  ===============================================

Task code must follow the tensors' dtype and device (``x.to(backend.qpos)``), never assume one.

Quaternions follow MuJoCo: ``xquat`` is **wxyz**. Task code converts at this boundary.

=================  =====================  ==================================================
attribute          shape                  meaning
=================  =====================  ==================================================
``qpos``           ``(N, nq)``            generalised positions (free joint: pos, quat wxyz)
``qvel``           ``(N, nv)``            generalised velocities (free joint: world linear,
                                          body-frame angular)
``xpos``           ``(N, nbody, 3)``      body frame positions, world
``xquat``          ``(N, nbody, 4)``      body frame orientations, world, wxyz
``subtree_com``    ``(N, nbody, 3)``      centre of mass of each body's subtree
``sensordata``     ``(N, nsensordata)``   sensor outputs (touch, force, ...)
=================  =====================  ==================================================

A task that needs more of MuJoCo's outputs names them when it builds the backend
(``make_backend(..., outputs=("geom_xpos", "cfrc_ext"))``); each becomes an attribute of the same
kind, ``(N, ...)``, refreshed by every call. Only fields a backend can provide are accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import mujoco
import torch

from imitenvs.core.checks import check_choice

BACKENDS = ("cpu", "warp")


@runtime_checkable
class PhysicsBackend(Protocol):
    """N worlds of one model; see the module docstring for the state tensors."""

    model: mujoco.MjModel
    num_worlds: int
    device: torch.device
    qpos: torch.Tensor
    qvel: torch.Tensor
    xpos: torch.Tensor
    xquat: torch.Tensor
    subtree_com: torch.Tensor
    sensordata: torch.Tensor

    def set_state(self, ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Put worlds ``ids`` (``(k,)`` int64) at ``qpos`` ``(k, nq)``, ``qvel`` ``(k, nv)``;
        zero their controls and warm starts and recompute their derived quantities."""
        ...

    def step(self, ctrl: torch.Tensor, nsubsteps: int) -> torch.Tensor:
        """Apply ``ctrl`` ``(N, nu)`` and advance every world ``nsubsteps`` physics steps.

        Returns:
            ``(N,)`` bool: worlds whose physics diverged during this call (NaN/inf state, a
            MuJoCo error or warning). Their state is undefined until the caller resets them.
        """
        ...


def make_backend(
    name: str,
    model: mujoco.MjModel,
    num_worlds: int,
    *,
    nthread: int = 0,
    outputs: Sequence[str] = (),
    device: str | torch.device | None = None,
) -> PhysicsBackend:
    """Build backend ``name`` (one of :data:`BACKENDS`) for ``num_worlds`` worlds of ``model``.

    Args:
        nthread: C threads of the ``"cpu"`` backend (0: every CPU); must stay 0 for ``"warp"``.
        outputs: extra MjData output fields to expose as ``(N, ...)`` tensor attributes.
        device: where the physics runs. ``"cpu"`` backend: only ``"cpu"``; ``"warp"``:
            ``"cuda"``, ``"cuda:<i>"`` or ``"cpu"``. None: the backend's default (``"cpu"`` /
            ``"cuda"``).

    Raises:
        ValueError: an unknown backend, or an option the backend does not have.
        ImportError: ``"warp"`` without MuJoCo Warp installed.
        RuntimeError: ``"warp"`` on a CUDA device that this machine does not have.
    """
    check_choice("backend", name, BACKENDS)
    if name == "warp":
        if nthread:
            raise ValueError(
                f"nthread={nthread!r} sets the cpu backend's threads; the warp backend has none"
            )
        from imitenvs.sim.mujoco_warp import MujocoWarpBackend

        return MujocoWarpBackend(
            model, num_worlds, device="cuda" if device is None else device, outputs=outputs
        )
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(
            f"the cpu backend runs on device='cpu', got device={str(device)!r}; use "
            "backend='warp' to simulate on a GPU"
        )
    from imitenvs.sim.mujoco_cpu import MujocoCpuBackend

    return MujocoCpuBackend(model, num_worlds, nthread=nthread, outputs=outputs)
