"""Which notebook %%mantik_submit packages when no server says it (papermill, bare kernels).

Each cell names an unknown site, so the engine stops right after the notebook was chosen:
the choice is printed, nothing is submitted.
"""

from __future__ import annotations

import nbformat
import pytest
from helpers import make_notebook
from kernels import Kernel, kernel_env

CELL = "%%mantik_submit --site nowhere\nName: {name}\n"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str):
    cwd = tmp_path_factory.mktemp("which-notebook")
    started = Kernel.start(cwd, kernel_env(cwd / "home", tracking_uri))
    assert started.run("%load_ext mantik_magics").status == "ok"
    yield started, cwd
    started.shutdown()


def chosen(kernel: Kernel, cell: str) -> str:
    """The line saying which notebook is packaged (the submit then fails on the site)."""
    result = kernel.run(cell)
    assert result.status == "error" and "unknown site 'nowhere'" in result.stderr
    return result.stdout.strip()


def test_given_notebook_wins(kernel):
    started, cwd = kernel
    nb = make_notebook(cwd / "sub" / "given.ipynb", None, "print(1)")
    cell = CELL.format(name="given").replace("--site", "--notebook sub/given.ipynb --site")
    assert chosen(started, cell) == f"packaging {nb} (given with --notebook)"


def test_the_session_notebook_holding_the_cell_is_taken(kernel):
    started, cwd = kernel
    cell = CELL.format(name="session")
    nb = make_notebook(cwd / "elsewhere" / "session.ipynb", None, cell)
    make_notebook(cwd / "copy.ipynb", None, cell)  # would be found in the working directory
    started.run(f"import os\nos.environ['JPY_SESSION_NAME'] = {str(nb)!r}")
    try:
        assert chosen(started, cell) == f"packaging {nb} (this kernel's session)"
    finally:
        started.run("del os.environ['JPY_SESSION_NAME']")


def test_a_papermill_output_gives_way_to_its_input(kernel):
    started, cwd = kernel
    cell = CELL.format(name="papermill")
    source = make_notebook(cwd / "in.ipynb", None, cell)
    output = make_notebook(cwd / "out.ipynb", None, cell)
    executed = nbformat.read(str(output), as_version=4)
    executed.metadata["papermill"] = {"input_path": "in.ipynb", "output_path": "out.ipynb"}
    nbformat.write(executed, str(output))
    assert chosen(started, cell) == \
        f"packaging {source} (the notebook in {cwd} that holds this cell)"

