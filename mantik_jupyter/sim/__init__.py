"""A local HPC site for tests, the demo and teaching: UNICORE and FirecREST over a real Slurm.

``Simulator`` is imported lazily so that ``mantik_jupyter.sim.cli`` stays cheap to import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Simulator", "FaultRule"]


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from .simulator import Simulator

        return Simulator
    if name == "FaultRule":
        from .faults import FaultRule

        return FaultRule
    raise AttributeError(name)
