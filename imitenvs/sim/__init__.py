"""Batched MuJoCo physics behind one small protocol (:class:`imitenvs.sim.base.PhysicsBackend`).

- :class:`imitenvs.sim.mujoco_cpu.MujocoCpuBackend`: the embedded default, ``mujoco.batch`` —
  every substep of every world in C threads.
"""

from imitenvs.sim.base import PhysicsBackend, make_backend

__all__ = ["PhysicsBackend", "make_backend"]
