"""What could lose a user's data: project files clobbered by generated ones, an edited
notebook overwritten by a fetch, a run deleted by a one-character prefix."""

from __future__ import annotations

import json

import pytest
from helpers import make_notebook

from mantik_jupyter.backends import LOG_FILE
from mantik_jupyter.backends.local import SCRIPT as LOCAL_SCRIPT
from mantik_jupyter.backends.local_job import META
from mantik_jupyter.backends.remote import IMAGE_DIR, MANIFEST, SCRIPT, SECRETS
from mantik_jupyter.bundle import RESERVED_NAMES, stage
from mantik_jupyter.errors import ConfigError
from mantik_jupyter.tracking import OFFLINE_STORE


def test_every_name_a_backend_writes_is_reserved():
    assert {LOG_FILE, LOCAL_SCRIPT, META, IMAGE_DIR, MANIFEST, SCRIPT, SECRETS,
            OFFLINE_STORE} <= RESERVED_NAMES


@pytest.mark.parametrize("name", ["MLproject", "mantik-run.json", "mantik-job.log",
                                  "mantik-parameters.yaml", "mantik-output/old.ipynb"])
def test_a_project_file_with_a_generated_name_is_refused(tmp_path, name):
    nb = make_notebook(tmp_path / "proj" / "nb.ipynb", None, "print(1)")
    mine = tmp_path / "proj" / name
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("the user's own")
    top = name.split("/")[0]
    with pytest.raises(ConfigError) as err:
        stage(nb, run_id="r", config={}, parameters={}, dest=tmp_path / "b")
    assert (err.value.key, err.value.details["path"]) == ("Exclude", top)
    assert err.value.message == (f"the project holds {top!r}, a name mantik-jupyter writes "
                                 "into the run folder and would overwrite; rename it or leave "
                                 "it out with Exclude")
    assert not (tmp_path / "b").exists() and mine.read_text() == "the user's own"
    bundle = stage(nb, run_id="r", config={"Exclude": [top]}, parameters={},
                   dest=tmp_path / "b")
    assert name not in bundle.sources  # the generated file of that name is sent, not theirs


async def test_fetching_never_overwrites_and_delete_needs_the_full_id(api, jp_root_dir):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    run = await api.json("POST", "runs", {"notebook": "nb.ipynb", "name": "r"}, expect=201)
    await api.wait(run["id"], {"COMPLETED", "FAILED"})
    first = (await api.json("POST", f"runs/{run['id']}/notebook", expect=201))["path"]
    again = (await api.json("POST", f"runs/{run['id']}/notebook", expect=201))["path"]
    assert again == first  # unchanged: the same file, no duplicate
    (jp_root_dir / first).write_text('{"edited": "by the user"}')
    other = (await api.json("POST", f"runs/{run['id']}/notebook", expect=201))["path"]
    assert other == "mantik-runs/r/nb-1.ipynb" and first == "mantik-runs/r/nb.ipynb"
    assert json.loads((jp_root_dir / first).read_text()) == {"edited": "by the user"}

    for prefix in (run["id"][:1], run["id"][:11]):
        response = await api("DELETE", f"runs/{prefix}", expect=400)
        assert json.loads(response.body) == {
            "reason": "bad_request", "details": {"key": "run_id"},
            "message": f"deleting a run takes its full id, not the prefix {prefix!r}"}
    assert (await api.json("GET", f"runs/{run['id']}"))["id"] == run["id"]
    await api("DELETE", f"runs/{run['id']}", expect=204)
    assert (await api.json("GET", "runs"))["total"] == 0
