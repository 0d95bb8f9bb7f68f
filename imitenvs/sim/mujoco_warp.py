"""GPU backend: MuJoCo Warp steps every world's substeps on a CUDA device (or warp's CPU device).

The model is put on the device once and one ``mujoco_warp.Data`` holds all ``N`` worlds. The
state tensors (:mod:`imitenvs.sim.base`) are zero-copy ``wp.to_torch`` views of its arrays, so
with ``device="cuda"`` nothing leaves the GPU: controls are copied into the ``ctrl`` view, the
substeps run as one CUDA graph launch, and the divergence mask is computed by torch on device.

**dtype.** MuJoCo Warp computes in float32; every tensor of this backend is float32 (the CPU
backend's are float64). Task code must follow the tensors' dtype.

**Stepping.** A control step of ``k`` substeps runs ``mjw.step2`` then ``mjw.step1`` ``k``
times (RK4 models: ``k`` times ``mjw.step``, then ``mjw.step1``). As with the CPU backend's
persistent ``mujoco.batch`` (``stage=mjSTAGE_VEL``), positions, velocities and everything
derived from them (``xpos``, ``xquat``, ``subtree_com``, ``geom_xpos``, position and velocity
sensors) describe the *new* state when :meth:`MujocoWarpBackend.step` returns, at no extra
cost. Acceleration-stage sensors (touch, force, ...) keep the values of the last substep, as
in MuJoCo. On CUDA the loop of ``k`` substeps is captured once per ``k`` into a CUDA graph
(the solver's iteration loop is a conditional node inside it, CUDA >= 12.4) and launched on
torch's current stream afterwards. On warp's CPU device warp's CPU graphs replay the same
captured launches (the same results as the plain Python loop, bitwise; 10x faster at N = 4 and
2x at N = 64 on 2 cores, where Python's launch overhead dominates). ``graphs=False`` runs the
launches one by one (for debugging).

**Equivalence with the CPU backend.** Both run MuJoCo's Newton solver on the same model; MuJoCo
Warp raises the solver tolerance to at least 1e-6 for float32. From the same states under the
same PD targets (the humanoid standing on its feet, random targets of +-0.2 rad, 10 control
steps of 4 substeps, up to 16 foot-floor contacts per world), ``qpos`` of the two backends
agree to 1e-4 (m, rad) and ``qvel`` to 2e-3 (``tests/test_warp_backend.py`` checks these
bounds; observed: 6e-6 and 2e-4). Two things end the agreement: longer horizons of violent
motion, where contacts amplify float32 round-off (1e-2 after 10 control steps of random
targets of +-0.3 rad around the stand pose), and collisions between the character's own
limbs: MuJoCo Warp's box-box collider makes fewer contacts than MuJoCo's (1 where MuJoCo
makes 2 to 6 for the two foot boxes pressed into each other), so trajectories part within a
control step when the feet touch. Do not expect the same trajectories over whole episodes.

**Buffers.** Contacts and constraint rows live in preallocated buffers. Their sizes follow
:func:`constraint_capacity`: the worst case of the model (every collidable geom pair at its
collider's maximum number of contacts, pairs without a dedicated collider at
``mjMAXCONPAIR``; every limit, friction loss and equality row), so they do not overflow.
``nconmax``/``njmax`` may be set lower to save memory and time; a world whose contacts or
constraints overflowed has been simulated with some of them dropped, so
:meth:`MujocoWarpBackend.step` reports it as diverged (until it is reset), MuJoCo Warp prints
which size to raise, and :meth:`MujocoWarpBackend.overflow_report` counts the worlds. Contacts
share one pool of ``nconmax * N``; when the pool overflows every world is flagged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import mujoco
import numpy as np
import torch

from imitenvs.core.checks import check_positive_int

_STATE_FIELDS = ("qpos", "qvel", "ctrl", "act", "qacc_warmstart")
_OUTPUT_FIELDS = ("xpos", "xquat", "subtree_com", "sensordata")
# Per-world fields a reset clears besides qpos/qvel (what mj_resetData zeroes and steps carry).
_CLEARED_FIELDS = (
    "ctrl",
    "act",
    "act_dot",
    "qacc",
    "qacc_warmstart",
    "qfrc_applied",
    "xfrc_applied",
    "time",
    "overflow",
)
# Overflows of the preallocated buffers (contacts or constraints dropped): the world's physics
# is wrong. Solver and line-search iteration limits are not among them.
_CAPACITY_OVERFLOWS = ("NEFC", "NJMAX_NNZ", "BROADPHASE", "NARROWPHASE", "CCD", "HFIELD", "NVMAX")
_INSTALL_HINT = 'the "warp" backend needs MuJoCo Warp: pip install "imitenvs[gpu]"'

_G = mujoco.mjtGeom
# Most contacts MuJoCo Warp's collider makes for one geom pair; other pairs: mjMAXCONPAIR.
_PAIR_CONTACTS = {
    (_G.mjGEOM_PLANE, _G.mjGEOM_PLANE): 0,
    (_G.mjGEOM_PLANE, _G.mjGEOM_HFIELD): 0,
    (_G.mjGEOM_PLANE, _G.mjGEOM_SPHERE): 1,
    (_G.mjGEOM_PLANE, _G.mjGEOM_CAPSULE): 2,
    (_G.mjGEOM_PLANE, _G.mjGEOM_ELLIPSOID): 1,
    (_G.mjGEOM_PLANE, _G.mjGEOM_CYLINDER): 4,
    (_G.mjGEOM_PLANE, _G.mjGEOM_BOX): 8,
    (_G.mjGEOM_PLANE, _G.mjGEOM_MESH): 4,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_SPHERE): 1,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_CAPSULE): 1,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_CYLINDER): 1,
    (_G.mjGEOM_SPHERE, _G.mjGEOM_BOX): 1,
    (_G.mjGEOM_CAPSULE, _G.mjGEOM_CAPSULE): 2,
    (_G.mjGEOM_CAPSULE, _G.mjGEOM_BOX): 2,
    (_G.mjGEOM_BOX, _G.mjGEOM_BOX): 8,
}
_EQUALITY_ROWS = {int(mujoco.mjtEq.mjEQ_CONNECT): 3, int(mujoco.mjtEq.mjEQ_WELD): 6}


def _import_warp() -> tuple[ModuleType, ModuleType]:
    """``(warp, mujoco_warp)``, or an ImportError that says how to install them."""
    try:
        import mujoco_warp
        import warp
    except ImportError as exc:
        raise ImportError(f"{_INSTALL_HINT} ({exc})") from exc
    return warp, mujoco_warp


@functools.cache
def _keep_columns_kernel() -> Any:
    """Warp kernel ``out[w, c] = saved[w, c]`` where ``keep[c]`` (graph-capturable on CUDA and
    CPU, unlike strided ``wp.copy``)."""
    import warp as wp

    @wp.kernel(module="unique", enable_backward=False)
    def keep_columns(
        keep: wp.array(dtype=wp.int32),
        saved: wp.array2d(dtype=wp.float32),
        out: wp.array2d(dtype=wp.float32),
    ):
        world, column = wp.tid()
        if keep[column] != 0:
            out[world, column] = saved[world, column]

    return keep_columns


def _pair_contact_table() -> np.ndarray:
    """``(ntype, ntype)`` most contacts per geom-type pair (symmetric)."""
    ntype = int(mujoco.mjtGeom.mjNGEOMTYPES)
    table = np.full((ntype, ntype), mujoco.mjMAXCONPAIR, dtype=np.int64)
    for (a, b), n in _PAIR_CONTACTS.items():
        table[int(a), int(b)] = table[int(b), int(a)] = n
    return table


def _contact_rows(condim: np.ndarray, cone: int) -> np.ndarray:
    """Constraint rows of one contact of dimension ``condim`` (pyramidal or elliptic cone)."""
    if cone == mujoco.mjtCone.mjCONE_ELLIPTIC:
        return condim
    return np.where(condim == 1, 1, 2 * (condim - 1))


def _collidable_pairs(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geom pairs MuJoCo's collision filter can pass: ``(geom1, geom2, condim)``, each ``(P,)``.

    contype/conaffinity, different weld bodies, no parent-child pair (unless the parent filter
    is disabled), no ``<exclude>``d body pair; plus every explicit ``<pair>``.
    """
    g1, g2 = np.triu_indices(model.ngeom, 1)
    ct, ca = model.geom_contype, model.geom_conaffinity
    ok = ((ct[g1] & ca[g2]) | (ct[g2] & ca[g1])) != 0
    body1, body2 = model.geom_bodyid[g1], model.geom_bodyid[g2]
    weld1, weld2 = model.body_weldid[body1], model.body_weldid[body2]
    ok &= weld1 != weld2
    if not model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_FILTERPARENT:
        parent1 = model.body_weldid[model.body_parentid[weld1]]
        parent2 = model.body_weldid[model.body_parentid[weld2]]
        related = (weld1 == parent2) | (weld2 == parent1)
        ok &= ~((weld1 != 0) & (weld2 != 0) & related)
    low, high = np.minimum(body1, body2), np.maximum(body1, body2)
    ok &= ~np.isin((low << 16) + high, model.exclude_signature)
    condim = np.maximum(model.geom_condim[g1], model.geom_condim[g2])
    return (
        np.concatenate([g1[ok], model.pair_geom1]),
        np.concatenate([g2[ok], model.pair_geom2]),
        np.concatenate([condim[ok], model.pair_dim]),
    )


def constraint_capacity(model: mujoco.MjModel) -> tuple[int, int]:
    """Worst-case ``(contacts, constraint rows)`` of one world of ``model``.

    Contacts: every collidable geom pair (:func:`_collidable_pairs`) at the most contacts
    MuJoCo Warp's collider makes for its geom types (e.g. plane-capsule 2, plane-box 8,
    box-box 8, meshes and others ``mjMAXCONPAIR``). Rows: each contact's rows for its
    dimension and the friction cone, two per limited hinge/slide joint and tendon, one per
    limited ball joint, one per DoF or tendon with friction loss, and each equality's rows. The
    AMP humanoid gives 66 contacts and 320 rows.
    """
    g1, g2, condim = _collidable_pairs(model)
    per_pair = _pair_contact_table()[model.geom_type[g1], model.geom_type[g2]]
    contacts = int(per_pair.sum())
    rows = int((per_pair * _contact_rows(condim, int(model.opt.cone))).sum())
    limited = model.jnt_limited.astype(bool)
    ball = model.jnt_type == mujoco.mjtJoint.mjJNT_BALL
    rows += int(2 * (limited & ~ball).sum() + (limited & ball).sum())
    rows += int(2 * model.tendon_limited.astype(bool).sum())
    rows += int((model.dof_frictionloss > 0).sum() + (model.tendon_frictionloss > 0).sum())
    rows += sum(_EQUALITY_ROWS.get(int(t), 1) for t in model.eq_type)
    rows += int(model.nflexedge) if (model.eq_type == mujoco.mjtEq.mjEQ_FLEX).any() else 0
    return max(contacts, 1), max(rows, 1)


def _overflow_mask(mjw: ModuleType, names: Sequence[str]) -> int:
    """Bitmask of the ``mujoco_warp.OverflowType`` flags ``names``."""
    return functools.reduce(int.__or__, (int(mjw.OverflowType[n]) for n in names), 0)


def _warp_device(wp: ModuleType, device: str | torch.device) -> Any:
    """The warp device for ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:<i>"``), or a clear error."""
    name = str(device)
    if name.startswith("cuda"):
        if not wp.is_cuda_available():
            raise RuntimeError(
                f"device={name!r}: MuJoCo Warp finds no CUDA device on this machine; use "
                "backend='cpu' (MuJoCo on CPU threads) or device='cpu' (MuJoCo Warp on its CPU "
                "device, for tests)"
            )
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={name!r}: this torch build has no CUDA; install a CUDA build of torch "
                "to share MuJoCo Warp's GPU arrays, or use backend='cpu'"
            )
    try:
        return wp.get_device(name)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={name!r} is not a warp device; use 'cpu', 'cuda' or 'cuda:<index>'"
        ) from exc


def _put_model(mjw: ModuleType, model: mujoco.MjModel) -> Any:
    """``mjw.put_model(model)``; a feature MuJoCo Warp lacks becomes a ValueError naming it."""
    try:
        return mjw.put_model(model)
    except (NotImplementedError, ValueError) as exc:
        raise ValueError(
            f"MuJoCo Warp cannot simulate this model: {exc} MuJoCo Warp implements a GPU subset "
            "of MuJoCo (Newton and CG solvers, no PGS; no plugins; noslip not with the discrete "
            "integrator; ...): change the model's <option>/elements or use backend='cpu'"
        ) from exc


class MujocoWarpBackend:
    """``num_worlds`` worlds of ``model`` in MuJoCo Warp (see the module docstring).

    Args:
        model: the compiled model (put on the device once).
        num_worlds: number of worlds N (> 0).
        device: ``"cuda"``, ``"cuda:<index>"`` or ``"cpu"`` (warp's CPU device: tests).
        outputs: extra per-world ``mujoco_warp.Data`` arrays to expose as tensor attributes,
            e.g. ``("geom_xpos", "geom_xmat")``; matrices are flattened like MuJoCo's
            (``geom_xmat``: ``(N, ngeom, 9)``, row-major).
        nconmax: contacts per world (pooled over worlds); default from
            :func:`constraint_capacity`.
        njmax: constraint rows per world; default from :func:`constraint_capacity`.
        graphs: capture the substep loop (and the reset's forward pass) into graphs and
            replay them (default; CUDA graphs, or warp's CPU graphs on its CPU device).
            ``False`` launches every kernel from Python (same results, slower; debugging).

    Attributes:
        overflow: ``(N,)`` int32 view of MuJoCo Warp's per-world overflow bitmask
            (``mujoco_warp.OverflowType``), cleared when a world is reset.

    Raises:
        ImportError: MuJoCo Warp is not installed.
        RuntimeError: a CUDA device is asked for and there is none.
        ValueError: the model uses a feature MuJoCo Warp lacks, or an unknown output field.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        num_worlds: int,
        *,
        device: str | torch.device = "cuda",
        outputs: Sequence[str] = (),
        nconmax: int | None = None,
        njmax: int | None = None,
        graphs: bool = True,
    ) -> None:
        self._wp, self._mjw = _import_warp()
        self.model = model
        self.num_worlds = check_positive_int("num_worlds", num_worlds)
        self._device = _warp_device(self._wp, device)
        self.device = torch.device(self._wp.device_to_torch(self._device))
        self.graphs = bool(graphs)
        worst_contacts, worst_rows = constraint_capacity(model)
        self.nconmax = worst_contacts if nconmax is None else check_positive_int("nconmax", nconmax)
        self.njmax = worst_rows if njmax is None else check_positive_int("njmax", njmax)
        with self._wp.ScopedDevice(self._device):
            self._model = _put_model(self._mjw, model)
            self._data = self._mjw.make_data(
                model, nworld=self.num_worlds, nconmax=self.nconmax, njmax=self.njmax
            )
        self._wp.synchronize_device(self._device)  # later work runs on torch's stream
        self._configure_options()
        extra = tuple(n for n in outputs if n not in _STATE_FIELDS + _OUTPUT_FIELDS)
        self._bind(_STATE_FIELDS + _OUTPUT_FIELDS + extra + ("overflow",))
        self._cleared = [self._view(name) for name in _CLEARED_FIELDS]  # all exist in Data
        self._capacity_mask = _overflow_mask(self._mjw, _CAPACITY_OVERFLOWS)
        acc = self._acc_sensor_columns()
        self._acc_columns = self._wp.array(acc, device=self._device) if acc.any() else None
        self._sensor_copy = self._wp.zeros_like(self._data.sensordata) if acc.any() else None
        self._graphs: dict[tuple, Any] = {}
        self._streams: dict[int, Any] = {}  # torch stream handle -> warp stream
        self._run(("forward",), self._forward)

    # ---- set-up -----------------------------------------------------------------------------
    def _configure_options(self) -> None:
        """Print (and flag) only buffer overflows; no conditional graph nodes where CUDA lacks
        them (the solver then runs its full iteration count)."""
        opt = self._model.opt
        opt.warn_overflow = _overflow_mask(self._mjw, _CAPACITY_OVERFLOWS)
        if self._device.is_cuda and not self._wp.is_conditional_graph_supported():
            opt.graph_conditional = False

    def _view(self, name: str) -> torch.Tensor | None:
        """Zero-copy torch view of the per-world ``Data`` array ``name`` (matrices flattened
        like MuJoCo's), or None when ``Data`` has no such per-world array."""
        array = getattr(self._data, name, None)
        if not isinstance(array, self._wp.array) or array.shape[:1] != (self.num_worlds,):
            return None
        tensor = self._wp.to_torch(array, requires_grad=False)
        if self._wp.types.type_is_matrix(array.dtype):
            tensor = tensor.flatten(-2)  # (N, k, 3, 3) -> (N, k, 9), still a view
        return tensor

    def _bind(self, names: Sequence[str]) -> None:
        views = {name: self._view(name) for name in names}
        unknown = [name for name, view in views.items() if view is None]
        if unknown:
            raise ValueError(
                f"unknown MuJoCo Warp output fields {unknown}; outputs name per-world arrays of "
                "mujoco_warp.Data, e.g. 'geom_xpos', 'geom_xmat', 'cfrc_ext', 'site_xpos'"
            )
        for name, view in views.items():
            setattr(self, name, view)

    def _acc_sensor_columns(self) -> np.ndarray:
        """``(nsensordata,)`` int32, 1 in the columns written by acceleration-stage sensors."""
        m = self.model
        columns = np.zeros(m.nsensordata, dtype=np.int32)
        for s in np.flatnonzero(m.sensor_needstage == mujoco.mjtStage.mjSTAGE_ACC):
            columns[m.sensor_adr[s] : m.sensor_adr[s] + m.sensor_dim[s]] = 1
        return columns

    # ---- the protocol -----------------------------------------------------------------------
    def set_state(self, ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """See :meth:`imitenvs.sim.base.PhysicsBackend.set_state`.

        Runs ``mjw.forward`` on every world: the other worlds' positions, velocities and what
        derives from them are recomputed to the same values, and their next steps are unchanged
        (their ``qacc`` and acceleration sensors are recomputed at their current state).
        """
        ids = ids.to(self.device, torch.int64)
        if ids.numel() == 0:
            return
        self.qpos[ids] = qpos.to(self.qpos)
        self.qvel[ids] = qvel.to(self.qvel)
        for tensor in self._cleared:
            tensor[ids] = 0
        self._run(("forward",), self._forward)

    def step(self, ctrl: torch.Tensor, nsubsteps: int) -> torch.Tensor:
        """See :meth:`imitenvs.sim.base.PhysicsBackend.step`; the mask is on :attr:`device`.

        A world is diverged when its ``qpos``/``qvel`` is not finite or one of its contact or
        constraint buffers overflowed since its last reset.
        """
        nsubsteps = check_positive_int("nsubsteps", nsubsteps)
        self.ctrl.copy_(ctrl)
        self._run(("step", nsubsteps), functools.partial(self._substeps, nsubsteps))
        finite = torch.isfinite(self.qpos).all(1) & torch.isfinite(self.qvel).all(1)
        return ~finite | ((self.overflow & self._capacity_mask) != 0)

    def overflow_report(self) -> dict[str, int]:
        """``{overflow name: number of worlds}`` of the buffer overflows since the worlds' last
        resets (copies the masks to the host); empty when nothing overflowed."""
        flags = self.overflow.cpu().numpy()
        counts = {
            n: int((flags & _overflow_mask(self._mjw, [n]) != 0).sum()) for n in _CAPACITY_OVERFLOWS
        }
        return {name: count for name, count in counts.items() if count}

    # ---- warp work --------------------------------------------------------------------------
    def _run(self, key: tuple, body: Callable[[], None]) -> None:
        """Run ``body`` (warp launches): with :attr:`graphs`, as a graph captured on first use
        and replayed, on CUDA on torch's current stream so that it is ordered with torch's
        work; else directly."""
        wp = self._wp
        if not self.graphs:
            with wp.ScopedDevice(self._device):
                body()
            return
        graph = self._graphs.get(key)
        if graph is None:
            with wp.ScopedDevice(self._device), wp.ScopedCapture(device=self._device) as capture:
                body()
            graph = self._graphs[key] = capture.graph
        wp.capture_launch(graph, stream=self._torch_stream() if self._device.is_cuda else None)

    def _torch_stream(self) -> Any:
        """Torch's current stream on :attr:`device`, as a warp stream (made once per stream)."""
        stream = torch.cuda.current_stream(self.device)
        if stream.cuda_stream not in self._streams:
            self._streams[stream.cuda_stream] = self._wp.stream_from_torch(stream)
        return self._streams[stream.cuda_stream]

    def _forward(self) -> None:
        self._mjw.forward(self._model, self._data)

    def _substeps(self, nsubsteps: int) -> None:
        """``nsubsteps`` physics steps ending with the new state's position and velocity
        stages; acceleration sensors keep the last substep's values (``step1`` zeroes them)."""
        mjw, m, d = self._mjw, self._model, self._data
        split = m.opt.integrator != mujoco.mjtIntegrator.mjINT_RK4  # step2 has no RK4
        for i in range(nsubsteps):
            if not split:
                mjw.step(m, d)
                continue
            if i:
                mjw.step1(m, d)
            mjw.step2(m, d)
        if self._sensor_copy is None:
            mjw.step1(m, d)
            return
        self._wp.copy(self._sensor_copy, d.sensordata)
        mjw.step1(m, d)
        self._wp.launch(
            _keep_columns_kernel(),
            dim=d.sensordata.shape,
            inputs=[self._acc_columns, self._sensor_copy],
            outputs=[d.sensordata],
        )
