"""The submission request: read from JSON once for every face, and replayed by a re-run."""

from __future__ import annotations

import pytest

from mantik_jupyter.errors import ConfigError, MantikError
from mantik_jupyter.request import RerunChanges, SubmitRequest
from mantik_jupyter.spec import RunSpec


def test_json_round_trip_and_command_line_items(tmp_path):
    (tmp_path / "run.yaml").write_text("Resources: {Nodes: 2}\n")
    request = SubmitRequest.from_json({
        "notebook": str(tmp_path / "nb.ipynb"), "site": "hpc",
        "config_file": str(tmp_path / "run.yaml"), "parameters": {"lr": 0.5},
        "parameter_texts": ["tag=a=b c", "n=3"], "name": "x"})
    assert request.config == "Resources: {Nodes: 2}\n"
    assert request.parameter_texts == {"tag": "a=b c", "n": "3"}
    assert request.spec.resources == {"Nodes": 2}
    assert SubmitRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize("body, error, text", [
    ({"site": "x"}, MantikError, "notebook is required"),
    ({"notebook": "a.ipynb", "parameter_texts": ["n"]}, ConfigError,
     "parameter 'n' must look like NAME=VALUE"),
    ({"notebook": "a.ipynb", "name": 3}, MantikError, "name must be a string, got int"),
    ({"notebook": "a.ipynb", "parametres": {}}, MantikError, "unknown field(s) parametres"),
    ({"notebook": "a.ipynb", "config_file": "/no/such.yaml"}, ConfigError,
     "cannot read config file '/no/such.yaml'"),
])
def test_bad_requests_name_what_is_wrong(body, error, text):
    with pytest.raises(error) as raised:
        SubmitRequest.from_json(body)
    assert text in raised.value.message


def test_a_rerun_merges_into_the_stored_request_or_replaces_it():
    stored = SubmitRequest(notebook="/w/nb.ipynb", site="hpc", parameters={"n": 1, "lr": 0.1},
                           config={"Site": "hpc", "Resources": {"Queue": "devel",
                                                                "Runtime": "10m"}})
    merged = stored.rerun("r1", RerunChanges.from_json(
        {"config": "Resources: {Runtime: 20m}", "parameter_texts": ["n=2"]}))
    assert merged.spec.resources == {"Queue": "devel", "Runtime": "20m"}
    assert merged.parameters == {"n": 1, "lr": 0.1} and merged.parameter_texts == {"n": "2"}
    assert (merged.site, merged.parent_id, merged.name) == ("hpc", "r1", None)
    replaced = stored.rerun("r1", RerunChanges(config={"Resources": {"Runtime": "5m"}},
                                               parameters={"n": 4}, site="other",
                                               replace=True))
    assert replaced.spec.config == {"Resources": {"Runtime": "5m"}}
    assert replaced.parameters == {"n": 4} and replaced.site == "other"
    with pytest.raises(MantikError, match="replace must be true or false"):
        RerunChanges.from_json({"replace": "yes"})


def test_a_schedule_field_is_merged_into_the_config_schedule(tmp_path):
    (tmp_path / "run.yaml").write_text("Resources: {Nodes: 2}\nSchedule: {Cron: '0 3 * * *'}\n")
    request = SubmitRequest.from_json({
        "notebook": str(tmp_path / "nb.ipynb"), "config_file": str(tmp_path / "run.yaml"),
        "schedule": {"Timezone": "Europe/Berlin", "Catchup": "none"}})
    assert request.spec.schedule == {"Cron": "0 3 * * *", "Timezone": "Europe/Berlin",
                                     "Catchup": "none"}
    assert request.spec.resources == {"Nodes": 2}
    bad = SubmitRequest.from_json({"notebook": "a.ipynb", "schedule": {"At": "soon"}})
    with pytest.raises(ConfigError) as error:
        RunSpec.from_config(bad.config)
    assert error.value.key == "Schedule.At"


def test_a_rerun_starts_now_whatever_time_the_run_was_given():
    later = SubmitRequest(notebook="/nb.ipynb", site="local", config={
        "Name": "x", "Schedule": {"At": "2020-01-01T00:00:00+00:00"}})
    again = later.rerun("r1", RerunChanges())
    assert again.config == {"Name": "x"} and again.parent_id == "r1"
    timed = later.rerun("r1", RerunChanges(config={"Schedule": {"At": "2031-01-01T00:00:00Z"}}))
    assert timed.spec.schedule == {"At": "2031-01-01T00:00:00Z"}
