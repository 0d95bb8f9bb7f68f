"""Offline model-based imitation: learn a dynamics model from logged data, optimise in it.

- :mod:`.dynamics` — the dynamics ensemble (MAD-normalised MLPs predicting ``Δs``, optional
  DenseNet connections), its discrepancy and threshold.
- :mod:`.mmd_cost` — random Fourier features, the closed-form MMD cost and MILO's pessimism.
- :mod:`.model_env` — the learned model as a batched gymnasium vector env.
- :mod:`.npg` — the Gaussian MLP policy, value fit, GAE, natural policy gradient and BC.
- :mod:`.milo` — MILO (Chang et al. 2021): data, training loop, evaluation, BC baselines.
"""
