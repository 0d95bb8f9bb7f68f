"""NEAR's 2-D CPU tasks: ``imitenvs/Maze-v0`` and ``imitenvs/PushT-v0`` (see ``docs/planar.md``).

The maze runs on our own integrator of NEAR's pymunk law (numpy only); PushT runs on pymunk 6
and shapely, imported lazily (``pip install "imitenvs[planar]"``). Import the env classes from
their modules (:mod:`imitenvs.envs.planar.maze`, :mod:`imitenvs.envs.planar.pusht`).
"""
