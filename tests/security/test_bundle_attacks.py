"""Attacks through the project folder: what a notebook's folder can make the bundle send.

Each case asserts the refusal (its exact message and key) or what is left out, and that
nothing was staged, left behind or sent.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_notebook

from mantik_jupyter import hashcache
from mantik_jupyter.bundle import describe, plan, stage
from mantik_jupyter.errors import ConfigError, ConflictError, ForbiddenError
from mantik_jupyter.hashcache import HashCache

SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- secret"


@pytest.fixture
def home_dir(tmp_path, monkeypatch) -> Path:
    """A user home folder holding the usual secrets, with a notebook project in it."""
    home = tmp_path / "user"
    for rel, text in {".ssh/id_rsa": SECRET, ".netrc": "machine x password p",
                      ".local/share/jupyter/runtime/jpserver-1.json": '{"token": "t"}',
                      "proj/.env": "TOKEN=abc", "proj/data.csv": "a,b\n1,2\n"}.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    make_notebook(home / "proj" / "nb.ipynb", None, "print(1)")
    monkeypatch.setenv("HOME", str(home))
    return home


def sent(bundle) -> set[str]:
    return set(bundle.files) - {"MLproject", "mantik-parameters.yaml"}


def everything_under(path: Path) -> str:
    """The bytes of every file under ``path`` as text (to look for a leaked secret)."""
    return "".join(p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())


def test_dot_files_and_folders_stay_out_by_default(home_dir, tmp_path):
    bundle = stage(home_dir / "proj" / "nb.ipynb", run_id="r", config={}, parameters={},
                   dest=tmp_path / "b")
    assert sent(bundle) == {"nb.ipynb", "data.csv"}
    found = plan(home_dir / "proj" / "nb.ipynb", {})
    assert (".env", "hidden (admit it with Bundle.IncludeHidden)") in found.skipped


def test_include_hidden_admits_only_what_it_names(home_dir, tmp_path):
    (home_dir / "proj" / ".streamlit").mkdir()
    (home_dir / "proj" / ".streamlit" / "config.toml").write_text("x = 1")
    bundle = stage(home_dir / "proj" / "nb.ipynb", run_id="r",
                   config={"Bundle": {"IncludeHidden": [".streamlit"]}}, parameters={},
                   dest=tmp_path / "b")
    assert sent(bundle) == {"nb.ipynb", "data.csv", ".streamlit/config.toml"}


def test_a_notebook_directly_in_home_is_refused(home_dir, tmp_path):
    make_notebook(home_dir / "nb.ipynb", None, "print(1)")
    with pytest.raises(ConfigError) as err:
        stage(home_dir / "nb.ipynb", run_id="r", config={}, parameters={}, dest=tmp_path / "b")
    assert err.value.key == "ProjectRoot"
    assert err.value.message == (
        "the notebook 'nb.ipynb' is directly in your home folder, whose whole content would "
        "be uploaded; move it into a project folder, or set ProjectRoot: '.' to send the home "
        "folder (hidden files stay out)")
    assert not (tmp_path / "b").exists()


def test_home_as_declared_project_root_still_keeps_the_secrets_out(home_dir, tmp_path):
    make_notebook(home_dir / "nb.ipynb", None, "print(1)")
    bundle = stage(home_dir / "nb.ipynb", run_id="r", config={"ProjectRoot": "."},
                   parameters={}, dest=tmp_path / "b")
    assert sent(bundle) == {"nb.ipynb", "proj/nb.ipynb", "proj/data.csv"}
    assert SECRET not in everything_under(tmp_path / "b")


@pytest.mark.parametrize("root", ["/", "../.."])
def test_a_project_root_above_home_is_refused(home_dir, tmp_path, root):
    with pytest.raises(ForbiddenError) as err:
        plan(home_dir / "proj" / "nb.ipynb", {"ProjectRoot": root})
    assert err.value.key == "ProjectRoot"
    assert err.value.message.startswith(f"ProjectRoot {root!r} is ")
    assert err.value.message.endswith("which holds your home folder; use the folder of your "
                                      "project")


def test_symlinks_out_of_the_project_are_skipped_with_a_warning(home_dir, tmp_path, caplog):
    proj = home_dir / "proj"
    (proj / "key.csv").symlink_to(home_dir / ".ssh" / "id_rsa")
    (proj / "sshdir").symlink_to(home_dir / ".ssh", target_is_directory=True)
    (proj / "loop").symlink_to(proj, target_is_directory=True)
    (proj / "hidden.csv").symlink_to(proj / ".env")
    (proj / "copy.csv").symlink_to(proj / "data.csv")
    with caplog.at_level(logging.WARNING, logger="mantik_jupyter.bundle"):
        bundle = stage(proj / "nb.ipynb", run_id="r", config={}, parameters={},
                       dest=tmp_path / "b")
    assert sent(bundle) == {"nb.ipynb", "data.csv", "copy.csv"}
    assert (tmp_path / "b" / "copy.csv").exists() is False  # sent from its source, not copied
    skipped = dict(plan(proj / "nb.ipynb", {}).skipped)
    assert skipped["key.csv"] == "a symlink leading outside the project"
    assert skipped["sshdir"] == "a symlink leading outside the project"
    assert skipped["loop"] == "a symlink to a folder (not followed)"
    assert skipped["hidden.csv"] == "a symlink into a left-out path"
    assert "not bundled: key.csv is a symlink leading outside the project" in caplog.text
    assert SECRET not in everything_under(tmp_path / "b")


def test_a_fifo_is_skipped_and_never_opened(home_dir, tmp_path):
    os.mkfifo(home_dir / "proj" / "pipe.ipynb")
    bundle = stage(home_dir / "proj" / "nb.ipynb", run_id="r", config={}, parameters={},
                   dest=tmp_path / "b")  # opening the FIFO would block forever
    assert "pipe.ipynb" not in bundle.files
    assert ("pipe.ipynb", "not a regular file (a FIFO, socket or device)") in plan(
        home_dir / "proj" / "nb.ipynb", {}).skipped


def test_the_file_count_budget_stops_the_walk(home_dir, tmp_path):
    for i in range(5):
        (home_dir / "proj" / f"f{i}.txt").write_text("x")
    with pytest.raises(ConfigError) as err:
        stage(home_dir / "proj" / "nb.ipynb", run_id="r", config={"Bundle": {"MaxFiles": 3}},
              parameters={}, dest=tmp_path / "b")
    assert err.value.key == "Bundle.MaxFiles"
    assert err.value.message == (
        f"the project folder {str(home_dir / 'proj')!r} holds more than 3 files "
        "(Bundle.MaxFiles); leave folders out with Exclude, choose a smaller ProjectRoot, or "
        "raise Bundle.MaxFiles")
    assert not (tmp_path / "b").exists()


def test_the_size_budget_names_the_largest_files(home_dir, tmp_path):
    (home_dir / "proj" / "big.bin").write_bytes(b"x" * 1536 * 1024)
    with pytest.raises(ConfigError) as err:
        stage(home_dir / "proj" / "nb.ipynb", run_id="r", config={"Bundle": {"MaxSize": "1M"}},
              parameters={}, dest=tmp_path / "b")
    assert err.value.key == "Bundle.MaxSize"
    assert "more than Bundle.MaxSize (1.0 MB); the largest files: big.bin (1.5 MB), " \
        "nb.ipynb (" in err.value.message
    assert not (tmp_path / "b").exists()


def test_a_file_changed_after_hashing_is_not_sent(home_dir, tmp_path):
    bundle = stage(home_dir / "proj" / "nb.ipynb", run_id="r", config={}, parameters={},
                   dest=tmp_path / "b")
    (home_dir / "proj" / "data.csv").write_text("tampered,after,hashing\n")
    with pytest.raises(ConflictError, match="changed while the run was being submitted"):
        bundle.source("data.csv")
    with pytest.raises(ConflictError, match="changed while the run was being submitted"):
        bundle.copy_project(tmp_path / "run")


def test_the_hash_cache_reads_only_changed_files(home_dir, tmp_path, monkeypatch):
    cache = HashCache(tmp_path / "hashes.db")
    nb = home_dir / "proj" / "nb.ipynb"
    old = os.stat(nb).st_mtime_ns - 10**10  # older than the racy window: cacheable
    for path in (nb, home_dir / "proj" / "data.csv"):
        os.utime(path, ns=(old, old))
    first = stage(nb, run_id="r", config={}, parameters={}, dest=tmp_path / "b1", hashes=cache)
    read = []
    real = hashcache.hash_file
    monkeypatch.setattr(hashcache, "hash_file", lambda p, k: read.append(p.name) or real(p, k))
    again = stage(nb, run_id="r", config={}, parameters={}, dest=tmp_path / "b2", hashes=cache)
    assert read == [] and again.files == first.files
    # same size, mtime put back: the ctime still tells, as in git's index
    (home_dir / "proj" / "data.csv").write_text("a,b\n3,4\n")
    os.utime(home_dir / "proj" / "data.csv", ns=(old, old))
    changed = stage(nb, run_id="r", config={}, parameters={}, dest=tmp_path / "b3",
                    hashes=cache)
    assert read == ["data.csv"]
    assert changed.files["data.csv"] != first.files["data.csv"]


def test_dry_run_lists_and_sends_nothing(home_dir, tmp_path):
    (home_dir / "proj" / "big.bin").write_bytes(b"x" * 5000)
    mantik_home = tmp_path / "mantik"
    env = {**os.environ, "MANTIK_JUPYTER_HOME": str(mantik_home), "HOME": str(home_dir)}
    proc = subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", "submit", "--dry-run",
                           "--json", str(home_dir / "proj" / "nb.ipynb")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert listing["files"] == 3 and listing["largest"][0] == {"path": "big.bin", "bytes": 5000}
    assert listing["skipped"] == [{"path": ".env",
                                   "reason": "hidden (admit it with Bundle.IncludeHidden)"}]
    text = describe(plan(home_dir / "proj" / "nb.ipynb", {}))
    assert text.startswith("would upload 3 files, ") and "nothing was sent" in text
    assert not (mantik_home / "runs.db").exists() and not (mantik_home / "staging").exists()
