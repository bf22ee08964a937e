"""``%load_ext mantik_jupyter`` is the same as ``%load_ext mantik_magics``."""

from __future__ import annotations

import subprocess
import sys

CODE = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "mantik_jupyter")
magics = shell.magics_manager.magics
print(sorted(n for n in {**magics["line"], **magics["cell"]} if n.startswith("mantik_")))
"""


def test_load_ext_mantik_jupyter_registers_the_magics():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         check=True).stdout
    for name in ("mantik_submit", "mantik_runs", "mantik_logs", "mantik_cancel", "mantik_sites"):
        assert f"'{name}'" in out, out
