"""Environment families, one subpackage each; their ids are listed in ``imitenvs.registry``."""
