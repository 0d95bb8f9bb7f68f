"""Adversarial style rewards: a discriminator (and, for skills, an encoder) turns motion data
into the reward that the PPO core (:mod:`imitenvs.agents.ppo`) maximises.

* :mod:`imitenvs.agents.adversarial.add`: ADD, the adversarial differential discriminator, for
  motion tracking (it judges the difference between the character and its reference).
* :mod:`imitenvs.agents.adversarial.ase`: ASE, adversarial skill embeddings (a
  latent-conditioned policy, a discriminator, an encoder and a diversity objective).

AMP (:mod:`imitenvs.agents.amp`) and NEAR (:mod:`imitenvs.agents.near`) belong to the same
family. Each method is a style module that the runner (:mod:`imitenvs.agents.runner`) calls
after every rollout; its maths lives in importable, unit-tested functions.
"""
