"""A job its site does not list: just after its submission the run keeps its state (the
site may not list a job it has just accepted yet); once the grace has passed the site's
"not known" stands. Asked of the real Slurm through the slurm backend."""

from __future__ import annotations

import sys

from mantik_jupyter.reconciling import LISTING_GRACE, ago
from mantik_jupyter.service import RunService
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.store import Run, RunStore

#: Above Slurm's default MaxJobId (67043328): a job id this Slurm never lists.
UNLISTED_JOB = "99999999"


def test_a_job_not_listed_yet_keeps_its_state_only_just_after_its_submission(
        home, slurm, tmp_path):
    SiteCatalog(home).add({"name": "slurm-here", "kind": "slurm", "transport": "local",
                           "work_root": str(tmp_path / "site"),
                           "environment": {"Python": sys.prefix}})
    store = RunStore(home / "runs.db")
    # as the submitter records a job it has handed to the site, moments ago and long ago
    for run_id, submitted in (("fresh", ago(0)), ("old", ago(LISTING_GRACE + 60))):
        store.insert(Run(id=run_id, name=run_id, site="slurm-here", notebook="/nb.ipynb",
                         state="QUEUED", native_state="SUBMITTED",
                         remote_job_id=UNLISTED_JOB, work_dir=str(tmp_path / run_id),
                         created_at=submitted, updated_at=submitted))
    store.close()

    service = RunService(home)
    service.sync()
    fresh, old = service.get("fresh"), service.get("old")
    assert (fresh.state, fresh.native_state, fresh.reason) == ("QUEUED", "SUBMITTED", None)
    assert (old.state, old.native_state) == ("UNKNOWN", "GONE"), old
    assert old.reason == "the job is not known to Slurm any more"
    service.close()
