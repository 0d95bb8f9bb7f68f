"""``python -m imitenvs``: see :mod:`imitenvs.cli`."""

import sys

from imitenvs.cli import main

sys.exit(main())
