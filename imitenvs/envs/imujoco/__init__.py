"""iMuJoCo: 154 variants of Hopper, HalfCheetah and Walker2d, their data and policies.

Importing this package stays light (no MuJoCo); the env classes live in
:mod:`imitenvs.envs.imujoco.env`, the model generator in :mod:`imitenvs.envs.imujoco.mjcf`.
"""

from imitenvs.envs.imujoco.grid import (
    REGISTERED_VARIANTS,
    ROBOTS,
    Variant,
    parse_variant,
    variants_of,
)

__all__ = ["REGISTERED_VARIANTS", "ROBOTS", "Variant", "parse_variant", "variants_of"]
