"""Bad input to the magics: one clear line naming what is wrong, no traceback, no run."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_notebook
from kernels import Kernel, kernel_env

from mantik_jupyter.service import RunService

TWIN_CELL = "%%mantik_submit\nName: twin\n"
CASES = {
    "malformed YAML": ("%%mantik_submit --notebook ok.ipynb\nResources:\n  Runtime: 1h\n"
                       "  Nodes: : 2\n", "malformed YAML at line 4, column 10"),
    "unknown config key": ("%%mantik_submit --notebook ok.ipynb\nResource: {Nodes: 1}\n",
                           "unknown key 'Resource'"),
    "bad runtime": ("%%mantik_submit --notebook ok.ipynb\nResources: {Runtime: 1x}\n",
                    "Resources.Runtime: '1x' is not a duration"),
    "unknown parameter": ("%mantik_submit --notebook ok.ipynb -p epoch=3",
                          "unknown parameter 'epoch'; the notebook's parameters are: epochs"),
    "wrong parameter type": ("%mantik_submit --notebook ok.ipynb -p epochs=many",
                             "parameter 'epochs' expects int, got 'many'"),
    "parameter without value": ("%mantik_submit --notebook ok.ipynb -p epochs",
                                "parameter 'epochs' must look like NAME=VALUE"),
    "unknown site": ("%mantik_submit --notebook ok.ipynb --site juwels-typo",
                     "unknown site 'juwels-typo'; known sites: "),
    "missing notebook": ("%mantik_submit --notebook nope.ipynb", "does not exist"),
    "missing config file": ("%mantik_submit --notebook ok.ipynb --config nope.yaml",
                            "cannot read config file '{cwd}/nope.yaml'"),
    "config twice": ("%%mantik_submit --notebook ok.ipynb --config run.yaml\nResources: {}\n",
                     "either as the cell body or with --config, not both"),
    "no notebook holds the cell": ("%%mantik_submit\nName: lonely\n",
                                   "no notebook in {cwd} holds this cell"),
    "two notebooks hold the cell": (TWIN_CELL, "2 notebooks in {cwd} hold this cell "
                                               "(a.ipynb, b.ipynb); choose one with --notebook"),
    "sweep value of the wrong type": ("%mantik_submit --notebook ok.ipynb --sweep epochs=1,many",
                                      "Sweep point 1 (epochs='many'): parameter 'epochs' "
                                      "expects int, got 'many'"),
    "sweep in the config over an unknown parameter": (
        "%%mantik_submit --notebook ok.ipynb\nSweep: {Grid: {epoch: [1, 2]}}\n",
        "unknown parameter 'epoch'"),
    "sweep flags on a schedule": (
        "%mantik_submit --notebook ok.ipynb --sweep epochs=1,2 --cron '0 3 * * 1'",
        "a schedule takes its sweep from the config's Sweep key"),
    "results of no run": ("%mantik_results nosuchrun", "no run with id 'nosuchrun'"),
    "unknown run": ("%mantik_status nosuchrun", "no run with id 'nosuchrun'"),
    "unknown run's log": ("%mantik_logs nosuchrun --follow", "no run with id 'nosuchrun'"),
    "unknown state": ("%mantik_runs --state finished", "unknown state 'finished'; allowed: "),
    "unknown option": ("%mantik_runs --colour red", "unrecognized arguments: --colour red"),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str):
    """One kernel for all cases, in a folder with a few notebooks; and its engine."""
    cwd = tmp_path_factory.mktemp("bad-input")
    home = cwd / "home"
    make_notebook(cwd / "ok.ipynb", "epochs: int = 1", "print(epochs)")
    for name in ("a", "b"):
        make_notebook(cwd / f"{name}.ipynb", None, TWIN_CELL)
    (cwd / "run.yaml").write_text("Resources: {Nodes: 1}\n")
    kernel = Kernel.start(cwd, kernel_env(home, tracking_uri))
    assert kernel.run("%load_ext mantik_magics").status == "ok"
    yield kernel, cwd, RunService(home)
    kernel.shutdown()


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_without_traceback_and_no_run(workspace, case):
    kernel, cwd, service = workspace
    code, expected = CASES[case]
    result = kernel.run(code)
    assert result.status == "error"
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("UsageError: ")
    assert expected.format(cwd=cwd) in result.stderr
    assert result.tracebacks == [] and "Traceback" not in result.stdout + result.stderr
    assert service.list() == []


@pytest.mark.parametrize("code", ["%mantik_submit -h --notebook ok.ipynb",
                                  "%%mantik_submit --help\nResources: {Nodes: 1}\n",
                                  "%mantik_runs -h", "%mantik_logs -h", "%mantik_cancel -h",
                                  "%mantik_rerun -h", "%mantik_download -h", "%mantik_sites -h",
                                  "%mantik_status -h", "%mantik_results -h",
                                  "%mantik_schedules -h"])
def test_every_magic_explains_itself_with_h_and_does_nothing_else(workspace, code):
    kernel, _, service = workspace
    result = kernel.run(code)
    assert result.status == "ok"
    name = code.lstrip("%").split()[0]
    assert result.stdout.startswith(f"::\n\n  %{name} [-h]"), result.stdout
    assert "show this help and do nothing" in result.stdout
    assert service.list() == []


def test_without_any_engine_the_error_says_what_to_install(tmp_path: Path, tracking_uri: str):
    """A kernel with only the magics: no server in its environment, no mantik_jupyter."""
    kernel = Kernel.start(tmp_path, kernel_env(tmp_path / "home", tracking_uri))
    try:
        # None in sys.modules is Python's own "this module cannot be imported"
        result = kernel.run("import sys\nsys.modules['mantik_jupyter'] = None\n"
                            "%load_ext mantik_magics\n%mantik_runs")
    finally:
        kernel.shutdown()
    assert result.status == "error"
    assert result.stderr.count("\n") == 1
    assert "pip install mantik-jupyter" in result.stderr
