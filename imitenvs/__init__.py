"""imitenvs: imitation-learning benchmark environments, demonstrations and baselines.

``import imitenvs`` registers every environment under the ``imitenvs/`` namespace::

    import gymnasium as gym
    import imitenvs

    env = gym.make("imitenvs/RoomDefault-v0")
    imitenvs.list_envs(family="gridworld")
"""

from imitenvs.bench.scores import get_normalized_score
from imitenvs.registry import (
    families,
    get_entry,
    list_envs,
    make_aec,
    make_parallel,
    register_all,
)

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "families",
    "get_entry",
    "get_normalized_score",
    "list_envs",
    "make_aec",
    "make_parallel",
    "register_all",
]

register_all()
