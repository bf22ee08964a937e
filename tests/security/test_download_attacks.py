"""Attacks through a run's folder on the download route: symlink loops, links out, FIFOs.

A job writes what it likes into its run folder; downloading that folder must copy only its
regular files and folders, never follow a link, never block on a FIFO."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from helpers import make_notebook

OUTSIDE = "secret beside the run folder"


async def test_a_hostile_run_folder_downloads_without_links_or_fifos(api, jp_root_dir,
                                                                    tmp_path):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    run = await api.json("POST", "runs", {"notebook": "nb.ipynb"}, expect=201)
    done = await api.wait(run["id"], {"COMPLETED", "FAILED"})
    work = Path(done["work_dir"])
    (tmp_path / "outside.txt").write_text(OUTSIDE)
    (work / "sub").mkdir()
    (work / "sub" / "kept.txt").write_text("kept")
    (work / "loop1").symlink_to(work, target_is_directory=True)  # two loops: each copy
    (work / "sub" / "loop2").symlink_to(work, target_is_directory=True)  # doubles the next
    (work / "leak.txt").symlink_to(tmp_path / "outside.txt")
    (work / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(work / "pipe")

    response = await api("GET", f"runs/{run['id']}/download", params={"path": ""}, expect=200)
    names = zipfile.ZipFile(io.BytesIO(response.body)).namelist()
    top = {n.split("/", 1)[1] for n in names}
    assert "sub/kept.txt" in top and "nb.ipynb" in top
    assert not {n for n in top if n.split("/")[0] in ("loop1", "leak.txt", "etc", "pipe")}
    assert "sub/loop2" not in top and not any("/loop2/" in n for n in names)
    assert OUTSIDE.encode() not in response.body

    response = await api("GET", f"runs/{run['id']}/download", params={"path": "pipe"},
                         expect=422)  # answered at once: the FIFO is never opened to read
    body = json.loads(response.body)
    assert body["details"] == {"key": "path"}
    assert body["message"].endswith("pipe' is not a regular file")
    response = await api("GET", f"runs/{run['id']}/download", params={"path": "leak.txt"},
                         expect=422)
    assert json.loads(response.body) == {"reason": "invalid_config", "details": {"key": "path"},
                                         "message": "path 'leak.txt' leaves the run directory"}
    listing = await api.json("GET", f"runs/{run['id']}/files")
    assert {e["path"] for e in listing["files"]}.isdisjoint({"loop1", "leak.txt", "etc"})
