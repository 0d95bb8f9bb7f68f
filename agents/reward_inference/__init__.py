"""Reward inference: what did the human want, given the state they left the world in?

- :mod:`.tabular` — finite-horizon soft (Boltzmann) and hard value iteration, state
  occupancies, feature expectations and exact policy evaluation on a gridworld's
  :class:`~imitenvs.envs.gridworld.TabularMDP`.
- :mod:`.rlsp` — RLSP (Shah et al., ICLR 2019): the exact gradient of ``log P(s_obs | theta)``,
  MAP gradient ascent under a Gaussian / Laplace / flat prior, and the MCMC posterior sampler.
- :mod:`.side_effects` — the paper's baselines: the deviation penalty and relative reachability.
- :mod:`.experiment` — one run of the paper's protocol (infer, combine with the task reward,
  plan for the evaluation horizon, score the true reward) and the Table 1 grid.

``docs/rlsp.md`` has the maths and the measured table.
"""
