"""Bundles: what is copied, what is left out, the MLproject and the manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
import yaml
from helpers import make_notebook

from mantik_jupyter.bundle import MANIFEST, PARAMETERS_FILE, stage
from mantik_jupyter.errors import ConfigError


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    make_notebook(root / "analysis" / "nb.ipynb", "x: int = 1", "print(x)")
    for rel in [".git/config", ".ipynb_checkpoints/nb-checkpoint.ipynb", "__pycache__/m.pyc",
                "analysis/__pycache__/m.pyc", "data/big.nc", "model.sif", "src/util.py",
                "analysis/helper.py"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {rel}")
    return root


def test_copies_the_notebook_folder_minus_the_always_excluded(project, tmp_path):
    bundle = stage(project / "analysis" / "nb.ipynb", run_id="r1", config={},
                   parameters={"x": 2}, dest=tmp_path / "b")
    assert set(bundle.files) == {"nb.ipynb", "helper.py", "MLproject", PARAMETERS_FILE}
    assert bundle.notebook == "nb.ipynb"
    assert not (tmp_path / "b" / "__pycache__").exists()


def test_project_root_and_exclude_globs(project, tmp_path):
    config = {"ProjectRoot": "..", "Exclude": ["*.sif", "data/"]}
    bundle = stage(project / "analysis" / "nb.ipynb", run_id="r1", config=config,
                   parameters={}, dest=tmp_path / "b")
    assert set(bundle.files) == {"analysis/nb.ipynb", "analysis/helper.py", "src/util.py",
                                 "MLproject", PARAMETERS_FILE}
    assert bundle.output_notebook == "mantik-output/nb.ipynb"
    assert "--cwd analysis" in bundle.command


def test_manifest_hashes_every_file_and_the_bundle(project, tmp_path):
    bundle = stage(project / "analysis" / "nb.ipynb", run_id="r1", config={},
                   parameters={"x": 2}, dest=tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert manifest["run_id"] == "r1"
    assert manifest["bundle_hash"] == bundle.bundle_hash
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256(bundle.source(rel).read_bytes()).hexdigest() == digest
    again = stage(project / "analysis" / "nb.ipynb", run_id="r2", config={},
                  parameters={"x": 2}, dest=tmp_path / "c")
    assert again.bundle_hash == bundle.bundle_hash  # same content, same hash
    changed = stage(project / "analysis" / "nb.ipynb", run_id="r3", config={},
                    parameters={"x": 3}, dest=tmp_path / "d")
    assert changed.bundle_hash != bundle.bundle_hash


def test_parameters_keep_their_types(project, tmp_path):
    params = {"i": 4, "f": 0.5, "b": True, "s": "a b", "l": [1, "two"], "d": {"k": [1]}}
    stage(project / "analysis" / "nb.ipynb", run_id="r1", config={}, parameters=params,
          dest=tmp_path / "b")
    assert yaml.safe_load((tmp_path / "b" / PARAMETERS_FILE).read_text()) == params


def test_mlproject_main_entry_point_runs_papermill(project, tmp_path):
    stage(project / "analysis" / "nb.ipynb", run_id="r1", config={}, parameters={},
          dest=tmp_path / "b")
    mlproject = yaml.safe_load((tmp_path / "b" / "MLproject").read_text())
    main = mlproject["entry_points"]["main"]
    assert main["parameters"]["parameters_file"]["default"] == PARAMETERS_FILE
    assert main["command"].startswith("papermill nb.ipynb mantik-output/nb.ipynb")
    assert "{parameters_file}" in main["command"]


def test_a_path_with_spaces_is_quoted_and_runs(tmp_path):
    nb = make_notebook(tmp_path / "my project" / "my nb.ipynb", "x: int = 1",
                       "assert x == 5, x")
    bundle = stage(nb, run_id="r1", config={}, parameters={"x": 5}, dest=tmp_path / "b")
    bundle.copy_project(bundle.path)  # as the local site does in the run folder
    bindir = str(__import__("pathlib").Path(sys.executable).parent)
    proc = subprocess.run(["bash", "-c", bundle.command], cwd=bundle.path, capture_output=True,
                          text=True, env={"PATH": bindir + ":/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (bundle.path / "mantik-output" / "my nb.ipynb").exists()


def test_excluding_the_notebook_itself_is_an_error(project, tmp_path):
    with pytest.raises(ConfigError, match="excluded"):
        stage(project / "analysis" / "nb.ipynb", run_id="r1", config={"Exclude": ["*.ipynb"]},
              parameters={}, dest=tmp_path / "b")


def test_project_root_must_contain_the_notebook(project, tmp_path):
    with pytest.raises(ConfigError, match="must contain"):
        stage(project / "analysis" / "nb.ipynb", run_id="r1",
              config={"ProjectRoot": str(project / "src")}, parameters={}, dest=tmp_path / "b")
