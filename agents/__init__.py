"""Compact reference agents (installed as ``imitenvs.agents``)."""
