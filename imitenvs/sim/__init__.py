"""Batched MuJoCo physics behind one small protocol (:class:`imitenvs.sim.base.PhysicsBackend`).

- :class:`imitenvs.sim.mujoco_cpu.MujocoCpuBackend`: the embedded default, ``mujoco.batch`` —
  every substep of every world in C threads.
- :class:`imitenvs.sim.mujoco_warp.MujocoWarpBackend`: MuJoCo Warp on a GPU (or warp's CPU
  device), zero-copy torch tensors, substeps as one CUDA graph (``pip install "imitenvs[gpu]"``).
"""

from imitenvs.sim.base import PhysicsBackend, make_backend

__all__ = ["PhysicsBackend", "make_backend"]
