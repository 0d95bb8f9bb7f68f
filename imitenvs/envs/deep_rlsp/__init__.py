"""Deep RLSP's MuJoCo tasks ("Learning What To Do by Simulating the Past", Lindner et al. 2021).

``imitenvs/HalfCheetah-FW-v0``, ``imitenvs/HalfCheetah-BW-v0``, ``imitenvs/Hopper-FW-v0`` and
``imitenvs/Hopper-FW-Penalty-v0``: gymnasium's v5 HalfCheetah and Hopper models with the
original's rewards and its remaining-time observation feature. The classes live in
:mod:`imitenvs.envs.deep_rlsp.locomotion`; resetting any MuJoCo env to a state or an
observation is :class:`imitenvs.wrappers.ResetToState`. See ``docs/deep_rlsp_envs.md``.
"""
