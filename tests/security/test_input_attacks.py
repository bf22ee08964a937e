"""Attacks through run configuration values: job-script injection, YAML bombs, deep nesting,
huge values. Each is refused with its exact status, message and key, and leaves no run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from helpers import make_notebook

from mantik_jupyter.backends.slurm_jobs import directives
from mantik_jupyter.errors import ConfigError, LimitError, MantikError
from mantik_jupyter.jobscript import render
from mantik_jupyter.params import Parameter, coerce_text
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.spec import RunSpec, load_config, validate_config

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""

RESOURCE_KEYS = ["Reservation", "QoS", "NodeConstraints", "Queue", "Project"]
CONTROL = {"newline": "\n", "CR": "\r", "NUL": "\x00", "escape": "\x1b", "DEL": "\x7f",
           "tab": "\t"}


@pytest.mark.parametrize("key", RESOURCE_KEYS)
@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_in_resources_are_refused(key, char):
    value = f"normal{CONTROL[char]}hostname > /tmp/pwned"
    with pytest.raises(ConfigError) as err:
        validate_config({"Resources": {key: value}})
    assert err.value.key == f"Resources.{key}"
    assert err.value.message == (
        f"Resources.{key}: {value!r} holds the control character {CONTROL[char]!r} at "
        "position 6; control characters are not allowed in this value")


@pytest.mark.parametrize("config, key", [
    ({"Environment": {"Variables": {"A": "x\ny"}}}, "Environment.Variables.A"),
    ({"Environment": {"Modules": ["GCC\nid"]}}, "Environment.Modules[0]"),
    ({"Environment": {"Python": "/venv\n"}}, "Environment.Python"),
    ({"Environment": {"Apptainer": {"Path": "i.sif", "Options": ["--nv\r"]}}},
     "Environment.Apptainer.Options[0]"),
    ({"Name": "run\nname"}, "Name"), ({"Experiment": "e\x00"}, "Experiment"),
    ({"Site": "local\n"}, "Site"), ({"Resources": {"Runtime": "2h\n"}}, "Resources.Runtime"),
    ({"Resources": {"MemoryPerNode": "4G\n"}}, "Resources.MemoryPerNode"),
    ({"Environment": {"PreRunCommandOnComputeNode": "echo a\x00"}},
     "Environment.PreRunCommandOnComputeNode"),
])
def test_control_characters_in_values_reaching_the_script_are_refused(config, key):
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert err.value.key == key
    assert "control characters are not allowed in this value" in err.value.message


def test_commands_keep_their_lines_and_tabs():
    command = "module load x\n\tsource env.sh\necho ready"
    spec = RunSpec.from_config({"Environment": {"PreRunCommandOnComputeNode": command}})
    assert command in render(spec, "papermill a b")


@pytest.mark.parametrize("name", ["A\n", "PATH\nX", "1A"])
def test_variable_names_with_a_trailing_newline_are_refused(name):
    with pytest.raises(ConfigError, match="is not a valid environment variable name"):
        validate_config({"Environment": {"Variables": {name: "1"}}})


def test_a_site_name_with_a_trailing_newline_is_refused():
    catalog = SiteCatalog(Path(tempfile.mkdtemp()))
    with pytest.raises(ConfigError) as err:
        catalog.add({"name": "evil\n", "kind": "unicore", "url": "https://x.example/rest",
                     "username": "u"})
    assert err.value.key == "name"
    assert [s.name for s in catalog.all() if s.name.startswith("evil")] == []


def test_the_job_script_refuses_a_directive_an_unvalidated_spec_would_break():
    spec = RunSpec({"Resources": {"QoS": "normal\nrm -rf ~"}})  # bypasses validation
    with pytest.raises(ConfigError) as err:
        directives(spec, "0123456789abcdef")
    assert err.value.key == "--qos"


def test_a_yaml_alias_bomb_is_refused_at_once():
    with pytest.raises(ConfigError) as err:  # at the first alias, before any expansion
        load_config(BOMB)
    assert err.value.message == ("config: refused YAML at line 2, column 8: YAML aliases (*a) "
                                 "are not accepted; write the value out")


def test_an_alias_in_a_parameter_text_is_not_expanded():
    untyped = Parameter("x", None, None, "None", "")
    assert coerce_text(untyped, BOMB) == BOMB  # the text as it is
    typed = Parameter("xs", "list", [], "[]", "")
    with pytest.raises(ConfigError, match="parameter 'xs' expects list"):
        coerce_text(typed, "[*a, *a]")


def test_yaml_over_the_size_cap_is_refused():
    with pytest.raises(LimitError) as err:
        load_config("Name: x\n" + "# padding\n" * 30000)
    assert err.value.status == 400
    assert err.value.message == "config: 300008 bytes of YAML, more than the 262144 accepted"


def test_deeply_nested_yaml_and_mappings_are_refused():
    with pytest.raises(LimitError) as err:
        load_config("Parameters: {x: " + "[" * 40 + "]" * 40 + "}")
    assert (err.value.status, err.value.message) == (
        400, "config: nested more than 32 levels deep")
    deep: dict = {}
    for _ in range(2000):  # deeper than the recursion limit: the check does not recurse
        deep = {"k": deep}
    with pytest.raises(LimitError, match="config: nested more than 32 levels deep"):
        validate_config({"Parameters": {"x": deep}})


def test_error_messages_are_capped():
    with pytest.raises(ConfigError) as err:
        validate_config({"Resources": {"Nodes": "x" * 1_000_000}})
    assert len(err.value.message) < 2100
    assert err.value.message.endswith("more characters not shown)")
    assert len(json.dumps(err.value.to_dict())) < 2300


# ------------------------------------------------------------------------- through REST
async def no_run_left(api) -> None:
    assert (await api.json("GET", "runs"))["total"] == 0


async def test_rest_refuses_injection_with_the_key(api, jp_root_dir):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    response = await api("POST", "runs", {"notebook": "nb.ipynb", "config": {
        "Resources": {"Reservation": "r\n#SBATCH --time=9999"}}}, expect=422)
    body = json.loads(response.body)
    assert body["reason"] == "invalid_config"
    assert body["details"] == {"key": "Resources.Reservation"}
    response = await api("POST", "runs", {"notebook": "nb.ipynb", "name": "a\nb"}, expect=422)
    assert json.loads(response.body)["details"] == {"key": "name"}
    await no_run_left(api)


async def test_rest_refuses_the_bomb_small_and_fast(api, jp_root_dir):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    response = await api("POST", "runs", {"notebook": "nb.ipynb", "config": BOMB}, expect=422)
    assert len(response.body) < 500
    await no_run_left(api)


async def test_rest_deep_nesting_is_a_400(api, jp_root_dir):
    make_notebook(jp_root_dir / "nb.ipynb", None, "print(1)")
    response = await api("POST", "runs", '{"notebook": "nb.ipynb", "config": ' + "[" * 100000
                         + "]" * 100000 + "}", expect=400)
    assert json.loads(response.body)["message"] == "the request body is nested too deeply"
    nested = "{}"
    for _ in range(200):
        nested = '{"k": ' + nested + "}"
    response = await api("POST", "runs", '{"notebook": "nb.ipynb", "config": {"Parameters": '
                         '{"x": ' + nested + "}}}", expect=400)
    body = json.loads(response.body)
    assert (body["reason"], body["message"]) == ("limit_exceeded",
                                                 "config: nested more than 32 levels deep")
    await no_run_left(api)


def test_every_error_class_caps_its_message():
    assert len(MantikError("x" * 10**6).message) < 2100
