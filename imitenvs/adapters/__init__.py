"""Adapters from imitenvs envs to other libraries' interfaces (SB3, imitation, ...)."""
