"""The project's own small CliMetLab dataset: a generated 2 m temperature field as NetCDF.

``cml.load_dataset("mantik-demo-t2m", year=2020)`` (entry point ``climetlab.datasets``)
needs no outside network, so the example notebook, the demo and the tests stage and read
a dataset exactly as they would a MAELSTROM one. The field is a plain function of its
arguments (no randomness), so a test can compute the values a run must read. CliMetLab,
numpy and xarray are imported only by CliMetLab's plugin loader or a test, never by the
engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from climetlab import Dataset, load_source
from climetlab.core.caching import cache_file

NAME = "mantik-demo-t2m"


def temperature(year: int, days: int = 8) -> xr.Dataset:
    """``t2m`` (kelvin) on a 10 x 20 grid for ``days`` days of ``year``: a latitude gradient,
    a daily wave and a yearly offset, so a linear fit has something to learn."""
    lat = np.linspace(-45.0, 45.0, 10)
    lon = np.linspace(0.0, 342.0, 20)
    day = np.arange(days, dtype=float)
    field = (288.0 + 0.01 * (year - 2000) - 0.2 * np.abs(lat)[None, :, None]
             + 2.0 * np.sin(2 * np.pi * day / 7)[:, None, None]
             + 0.5 * np.cos(np.radians(lon))[None, None, :])
    return xr.Dataset({"t2m": (("time", "lat", "lon"), field, {"units": "K"})},
                      coords={"time": day, "lat": lat, "lon": lon})


def write(target: str, args: dict[str, Any]) -> None:
    """Write the field for ``args`` (year, days) to the NetCDF file ``target``."""
    temperature(args["year"], args["days"]).to_netcdf(target)


class DemoTemperature(Dataset):
    """The generated field, cached by CliMetLab like any downloaded file."""

    name = NAME
    home_page = "https://github.com/mantik-ai"
    licence = "BSD-3-Clause"

    def __init__(self, year: int = 2020, days: int = 8):
        args = {"year": int(year), "days": int(days)}
        self.source = load_source("file", cache_file(NAME, write, args, extension=".nc"))
