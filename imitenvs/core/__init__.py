"""Small pieces shared by every family: errors and argument checks."""

from imitenvs.core.checks import check_choice, check_discrete_action, check_positive_int

__all__ = ["check_choice", "check_discrete_action", "check_positive_int"]
