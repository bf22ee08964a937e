"""The simulator is a guest of the engine: no engine module imports it, not even lazily.

Its presets, credential source and ``sim`` command reach the engine by entry point only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mantik_jupyter
from mantik_jupyter import registry

PACKAGE = Path(mantik_jupyter.__file__).parent
GUEST = "mantik_jupyter.sim"


def module_of(path: Path) -> str:
    """The dotted name of a file of the package (a package's is its ``__init__``'s)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if path.name == "__init__.py" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module (and imported name) ``source`` imports anywhere, as absolute names."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def test_no_engine_module_imports_the_simulator():
    engine = [p for p in PACKAGE.rglob("*.py") if not module_of(p).startswith(GUEST)]
    assert len(engine) > 20 and PACKAGE / "sites.py" in engine
    offenders = {}
    for path in engine:
        found = imported(path.read_text(encoding="utf-8"), module_of(path),
                         path.name == "__init__.py")
        bad = sorted(n for n in found if n == GUEST or n.startswith(GUEST + "."))
        if bad:
            offenders[module_of(path)] = bad
    assert offenders == {}


def test_the_scan_sees_relative_absolute_and_lazy_imports():
    lazy = "def f():\n    from .sim.config import SimConfig\n"
    assert "mantik_jupyter.sim.config" in imported(lazy, "mantik_jupyter.credentials")
    assert "mantik_jupyter.sim" in imported("from .. import sim\n",
                                            "mantik_jupyter.backends.remote")
    assert "mantik_jupyter.sim" in imported("from . import sim\n", "mantik_jupyter", True)
    assert "mantik_jupyter.sim.cli" in imported("import mantik_jupyter.sim.cli\n", "x.y")


def test_the_simulator_arrives_by_entry_point():
    assert "sim" in registry.names(registry.SITE_PRESETS)
    assert "simulator" in registry.names(registry.CREDENTIAL_SOURCES)
    assert "sim" in registry.names(registry.COMMANDS)
