"""imitenvs.core.scripts: examples and benchmarks import each other without copies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imitenvs.core.scripts import load_script


def test_load_script_imports_once_and_registers_the_module(tmp_path: Path) -> None:
    script = tmp_path / "tiny_script_for_test.py"
    script.write_text("import itertools\nCOUNTER = itertools.count()\nFIRST = next(COUNTER)\n")
    module = load_script(script)
    assert module.FIRST == 0 and module.__name__ == "tiny_script_for_test"
    assert load_script(script) is module


def test_load_script_reports_a_missing_file_and_leaves_no_broken_module(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no script at"):
        load_script(tmp_path / "absent.py")
    broken = tmp_path / "broken_script_for_test.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        load_script(broken)
    assert "broken_script_for_test" not in sys.modules
