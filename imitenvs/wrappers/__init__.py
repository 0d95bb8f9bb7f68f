"""Wrappers usable with any imitenvs environment."""

from imitenvs.wrappers.one_hot_action import OneHotActionWrapper

__all__ = ["OneHotActionWrapper"]
