"""Wrappers usable with any imitenvs environment."""

from imitenvs.wrappers.one_hot_action import OneHotActionWrapper
from imitenvs.wrappers.paired_obs import PairedObservation as PairedObservation
from imitenvs.wrappers.reset_to_state import ResetToState

__all__ = ["OneHotActionWrapper", "ResetToState"]
