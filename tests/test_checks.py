"""Argument checks shared by every family."""

import numpy as np
import pytest

from imitenvs.core import check_choice, check_discrete_action, check_positive_int


def test_check_choice_names_value_and_options() -> None:
    assert check_choice("mode", "a", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match=r"mode='c' is not allowed; choose one of: 'a', 'b'"):
        check_choice("mode", "c", ["a", "b"])


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "4", None])
def test_check_positive_int_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        check_positive_int("num_envs", bad)


def test_check_positive_int_accepts_numpy() -> None:
    assert check_positive_int("n", np.int64(3)) == 3


@pytest.mark.parametrize("good", [0, 4, np.int64(2), np.array(3), np.array([1])])
def test_check_discrete_action_accepts(good: object) -> None:
    assert 0 <= check_discrete_action(good, 5) < 5


@pytest.mark.parametrize("bad", [5, -1, 2.0, np.array([1, 2]), "1", None])
def test_check_discrete_action_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r"outside the action space Discrete\(5\)"):
        check_discrete_action(bad, 5)
