"""Attacks through paths sent to the REST API: ProjectRoot, notebooks, downloads.

Each case asserts the refusal (status, reason, message, key) and that no run, staging
folder or copied file was left behind.
"""

from __future__ import annotations

import json

import pytest
from helpers import make_notebook

OUTSIDE = "secret outside the contents root"


@pytest.fixture
def outside(jp_root_dir):
    """A file beside the contents root, which no request may reach."""
    path = jp_root_dir.parent / "outside.txt"
    path.write_text(OUTSIDE)
    return path


async def no_run_left(api, server_home) -> None:
    listing = await api.json("GET", "runs")
    assert listing["runs"] == [] and listing["total"] == 0
    staging = server_home / "staging"
    assert not staging.exists() or [p.name for p in staging.iterdir()] == []


@pytest.mark.parametrize("root", ["..", "/", "../.."])
async def test_project_root_cannot_leave_the_contents_root(api, jp_root_dir, server_home,
                                                           outside, root):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    response = await api("POST", "runs", {"notebook": "nb.ipynb",
                                          "config": {"ProjectRoot": root}}, expect=403)
    assert json.loads(response.body) == {
        "reason": "forbidden", "details": {"key": "ProjectRoot"},
        "message": f"ProjectRoot {root!r} is outside the Jupyter contents root"}
    await no_run_left(api, server_home)


async def test_a_rerun_checks_project_root_again(api, jp_root_dir, server_home, outside):
    make_notebook(jp_root_dir / "work" / "nb.ipynb", None, "print(1)")
    run = await api.json("POST", "runs", {"notebook": "work/nb.ipynb",
                                          "config": {"ProjectRoot": "."}}, expect=201)
    await api.wait(run["id"], {"COMPLETED", "FAILED"})
    response = await api("POST", f"runs/{run['id']}/rerun",
                         {"config": {"ProjectRoot": "../.."}}, expect=403)
    assert json.loads(response.body)["details"] == {"key": "ProjectRoot"}
    assert (await api.json("GET", "runs"))["total"] == 1


@pytest.mark.parametrize("path", ["../outside.txt", "../../outside.txt", "/etc/passwd",
                                  "mantik-output/../../x"])
async def test_download_never_leaves_the_run_folder(api, jp_root_dir, outside, path):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    run = await api.json("POST", "runs", {"notebook": "nb.ipynb"}, expect=201)
    await api.wait(run["id"], {"COMPLETED", "FAILED"})
    response = await api("GET", f"runs/{run['id']}/download", params={"path": path})
    assert response.code in (404, 422), response.code
    assert OUTSIDE.encode() not in response.body
    body = json.loads(response.body)
    assert body["details"]["key"] == "path"
