"""The on-policy core: PPO and the runner every PPO-based method extends.

* :mod:`imitenvs.agents.onpolicy.storage`: preallocated ``(T, N, ...)`` rollout storage and GAE
  with time-out bootstrapping.
* :mod:`imitenvs.agents.onpolicy.ppo`: PPO's config, losses, actor-critic and update.
* :mod:`imitenvs.agents.onpolicy.runner`: the training loop (rollout, style modules such as AMP
  and NEAR, update, logs, checkpoints, the run-folder lock).
"""
