"""Adversarial style rewards: a discriminator (and, for skills, an encoder) turns motion data
into the reward that the PPO core (:mod:`imitenvs.agents.onpolicy`) maximises.

* :mod:`imitenvs.agents.adversarial.add`: ADD, the adversarial differential discriminator, for
  motion tracking (it judges the difference between the character and its reference).
* :mod:`imitenvs.agents.adversarial.ase`: ASE, adversarial skill embeddings (a
  latent-conditioned policy, a discriminator, an encoder and a diversity objective).
* :mod:`imitenvs.agents.adversarial.amp`: AMP, the adversarial motion prior (discriminator,
  gradient penalty, replay buffer, style reward).
* :mod:`imitenvs.agents.adversarial.near`: NEAR, a noise-conditioned energy model as the
  style reward (denoising score matching, annealed energy reward).

Each method is a style module that the runner (:mod:`imitenvs.agents.onpolicy.runner`)
calls after every rollout; its maths lives in importable, unit-tested functions.
"""
