"""Deep RLSP's one-hot action interface for discrete envs (``OneHotActionSpaceWrapper``)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces


class OneHotActionWrapper(gymnasium.ActionWrapper):
    """Expose a ``Discrete(n)`` env through a continuous ``Box(-inf, inf, (n,))`` action.

    The env receives ``argmax(action)`` (ties go to the lowest index), so one-hot vectors,
    logits and scores all work; :meth:`reverse_action` gives the float32 one-hot vector of a
    discrete action. This is the action interface of the original Deep RLSP gym ids.
    """

    def __init__(self, env: gymnasium.Env) -> None:
        if not isinstance(env.action_space, spaces.Discrete):
            raise ValueError(
                f"OneHotActionWrapper needs a Discrete action space, got {env.action_space}"
            )
        super().__init__(env)
        self.n_actions = int(env.action_space.n)
        self._start = int(env.action_space.start)
        self.action_space = spaces.Box(-np.inf, np.inf, shape=(self.n_actions,), dtype=np.float32)

    def action(self, action: Any) -> int:
        """``argmax`` of a length-``n`` vector, shifted by the wrapped space's ``start``.

        Raises:
            ValueError: ``action`` does not have shape ``(n,)`` or is not finite.
        """
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != (self.n_actions,):
            raise ValueError(
                f"one-hot action has shape {arr.shape}; expected ({self.n_actions},), one score "
                f"per discrete action"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"one-hot action must be finite, got {arr.tolist()}")
        return self._start + int(np.argmax(arr))

    def reverse_action(self, action: int) -> np.ndarray:
        """The one-hot float32 vector (shape ``(n,)``) of discrete ``action``."""
        one_hot = np.zeros(self.n_actions, dtype=np.float32)
        one_hot[int(action) - self._start] = 1.0
        return one_hot
