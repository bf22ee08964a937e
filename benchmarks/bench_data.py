"""Data figures: the engine, the server extension and the magics stay free of CliMetLab.

CliMetLab with its ECMWF libraries, xarray and dask is heavy; only the staging step and the
job's kernel import it, on the site. Here: what the engine, server and magics cost to
import, and what they cost to plan a run with ``Data`` (validate it, make its staging
files and job lines), as ratios to ``import climetlab`` in the same run, and how many of
CliMetLab's modules either pulls in (goal: none).
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.bench_magics import timed_in_fresh_python
from benchmarks.common import figure

FACES = "import mantik_jupyter.service, mantik_jupyter.server, mantik_magics"
PLAN = ("from mantik_jupyter import data\n"
        "from mantik_jupyter.spec import RunSpec\n"
        "spec = RunSpec.from_config({'Data': [{'Dataset': 'maelstrom-ens10', 'Args': "
        "{'date': '2017-08-01'}}, {'Source': 'url', 'Args': {'url': 'https://x.org/a.nc'}}]})\n"
        "data.files(spec, '/scratch/cml'); data.job_lines('/scratch/cml', stage=True)\n"
        "data.login_command(spec, '/scratch/cml')\n")
HEAVY = ("climetlab", "xarray", "dask", "netCDF4", "eccodes", "cfgrib", "pandas")


def main() -> None:
    climetlab = timed_in_fresh_python("", "import climetlab", repeat=3)
    faces = timed_in_fresh_python("", FACES)
    plan = timed_in_fresh_python(FACES, PLAN)
    loaded = subprocess.run(
        [sys.executable, "-c", f"{FACES}\n{PLAN}import sys\n"
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    figure("import engine + server extension + magics (s)", faces, "s",
           f"import climetlab took {climetlab:.2f} s")
    figure("  as a ratio to import climetlab (same run)", faces / climetlab, "x")
    figure("planning a run with Data after that (s)", plan, "s",
           "validate Data, staging files, job lines, login command")
    figure("  as a ratio to import climetlab (same run)", plan / climetlab, "x")
    figure("  CliMetLab's modules imported by all of it", len(loaded.split(",")) if loaded
           else 0, "count", loaded or f"(none of {', '.join(HEAVY)})")
