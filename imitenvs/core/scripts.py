"""Import a script (an example or a benchmark) as a module, for reuse by other scripts and tests.

Examples and benchmarks are plain scripts, not a package; :func:`load_script` gives one script's
functions and presets to another without copying them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from imitenvs.core.files import InUseError

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, InUseError)
"""errors that mean bad input (a wrong value, a corrupt or missing file, a busy folder): a
script reports them as one ``error:`` line and exit code 2, not as a traceback"""


def load_script(path: str | Path) -> ModuleType:
    """Import the Python file ``path`` as the module named after its stem.

    The module is registered in ``sys.modules`` under that name (its dataclasses look their
    module up there) and is loaded once: later calls return the same module.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no script at {path}")
    loaded = sys.modules.get(path.stem)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[path.stem]
        raise
    return module


def run_main(main: Callable[[], Any]) -> None:
    """Run a script's ``main()``; a :data:`USER_ERRORS` exception becomes one ``error: ...``
    line on stderr and exit code 2 (other exceptions keep their traceback)."""
    try:
        main()
    except USER_ERRORS as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
