"""Run configuration: Mantik keys accepted, values normalised, errors that name the key."""

from __future__ import annotations

import pytest

from mantik_jupyter.errors import ConfigError
from mantik_jupyter.spec import RunSpec, load_config, parse_duration, parse_memory

MANTIK_CONFIG = """
UnicoreApiUrl: https://zam2125.zam.kfa-juelich.de:9112/JUWELS/rest/core
Environment:
  Apptainer:
    Path: image.sif
    Type: local
    Options: ["--nv"]
  Modules: [Stages/2024, GCC]
  Variables: {OMP_NUM_THREADS: 4, GREETING: "hello world"}
  PreRunCommandOnLoginNode: echo login
  PreRunCommandOnComputeNode: echo compute
  PostRunCommandOnComputeNode: echo done
Resources:
  Queue: devel
  Runtime: 1h30m
  Nodes: 2
  CPUsPerNode: 48
  GPUsPerNode: 4
  MemoryPerNode: 4G
  Reservation: maelstrom
  NodeConstraints: largemem
  QoS: normal
Exclude: ["*.sif", "data/"]
"""


@pytest.mark.parametrize("text, seconds", [
    ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("90", 5400), (90, 5400),
    ("2:00:00", 7200), ("1-00:00:00", 86400), ("45s", 45), ("1d2h", 93600), ("10:30", 630),
    ("1-2", 93600), ("1-2:30", 95400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1x", "", "h", "-5", "1:2:3:4", "0", "0m", True, "abc"])
def test_bad_durations_name_the_key_and_the_forms(text):
    with pytest.raises(ConfigError) as err:
        parse_duration(text)
    assert "Resources.Runtime" in err.value.message
    assert err.value.key == "Resources.Runtime"


@pytest.mark.parametrize("text, mb", [
    ("4G", 4096), ("4000M", 4000), ("512K", 1), ("2048", 2048), (2048, 2048), ("4GB", 4096),
    ("1T", 1048576), ("1.5G", 1536), ("4gib", 4096),
])
def test_memory(text, mb):
    assert parse_memory(text) == mb


@pytest.mark.parametrize("text", ["4X", "G", "-1G", "four", "0"])
def test_bad_memory(text):
    with pytest.raises(ConfigError, match="MemoryPerNode"):
        parse_memory(text)


def test_a_mantik_backend_config_is_accepted_unchanged():
    spec = RunSpec(load_config(MANTIK_CONFIG))
    assert spec.runtime_seconds == 5400
    assert spec.memory_mb == 4096
    assert spec.environment["Variables"] == {"OMP_NUM_THREADS": "4", "GREETING": "hello world"}
    assert spec.exclude == ["*.sif", "data/"]
    assert spec.config["Resources"]["Runtime"] == "1h30m"  # the user's spelling is kept


def test_unknown_key_is_named_with_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        load_config("Resources:\n  Queu: devel\n")
    assert "Resources.Queu" in err.value.message
    assert "Queue" in err.value.message
    assert err.value.key == "Resources.Queu"


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown key 'Resorces'"):
        load_config("Resorces: {}\n")


def test_malformed_yaml_points_at_the_line():
    with pytest.raises(ConfigError) as err:
        load_config("Resources:\n  Queue: [devel\n  Nodes: 1\n")
    assert "malformed YAML at line" in err.value.message


@pytest.mark.parametrize("text, key", [
    ("Resources: {Nodes: 0}", "Resources.Nodes"),
    ("Resources: {Nodes: two}", "Resources.Nodes"),
    ("Resources: {GPUsPerNode: -1}", "Resources.GPUsPerNode"),
    ("Environment: {Variables: {1BAD: x}}", "Environment.Variables.1BAD"),
    ("Environment: {Apptainer: {Path: a.sif, Type: cloud}}", "Environment.Apptainer.Type"),
    ("Environment: {Apptainer: {Type: local}}", "Environment.Apptainer.Path"),
    ("Environment: {Python: /venv, Apptainer: {Path: a.sif}}", "Environment"),
    ("UnicoreApiUrl: not-a-url", "UnicoreApiUrl"),
    ("Parameters: [1, 2]", "Parameters"),
    ("Exclude: {a: b}", "Exclude"),
])
def test_invalid_values_name_their_key(text, key):
    with pytest.raises(ConfigError) as err:
        load_config(text)
    assert err.value.key == key, err.value.message


def test_config_must_be_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config("- a\n- b\n")


def test_overrides_merge_sections_and_keep_the_rest():
    spec = RunSpec(load_config(MANTIK_CONFIG)).with_overrides(
        {"Resources": {"Queue": "batch"}, "Parameters": {"lr": 0.1}}
    )
    assert spec.resources["Queue"] == "batch"
    assert spec.resources["Nodes"] == 2
    assert spec.parameters == {"lr": 0.1}
    with pytest.raises(ConfigError, match="Resources.Runtime"):
        spec.with_overrides({"Resources": {"Runtime": "soon"}})


DATA_CONFIG = """
Data:
  - Dataset: maelstrom-ens10
    Args: {date: "2017-08-01", dtype: sfc}
  - Source: url
    Args: {url: "https://example.org/era5-t2m-2020.nc"}
  - Dataset: mantik-demo-t2m
"""


def test_data_is_a_list_of_climetlab_calls_kept_as_written():
    spec = RunSpec(load_config(DATA_CONFIG))
    assert spec.data == [
        {"Dataset": "maelstrom-ens10", "Args": {"date": "2017-08-01", "dtype": "sfc"}},
        {"Source": "url", "Args": {"url": "https://example.org/era5-t2m-2020.nc"}},
        {"Dataset": "mantik-demo-t2m"},
    ]
    assert RunSpec(load_config("Site: local")).data == []


@pytest.mark.parametrize("text, key, words", [
    ("Data: {Dataset: x}", "Data", "expected a list of items"),
    ("Data: [maelstrom-ens10]", "Data[0]", "{Dataset: NAME, Args: {...}}"),
    ("Data: [{Args: {a: 1}}]", "Data[0]", "exactly one of Dataset or Source, got neither"),
    ("Data: [{Dataset: a, Source: url}]", "Data[0]", "got Dataset, Source"),
    ("Data: [{Dataset: a, Arguments: {}}]", "Data[0].Arguments", "allowed here: Args"),
    ("Data: [{Dataset: 'a b'}]", "Data[0].Dataset", "not a CliMetLab dataset name"),
    ("Data: [{Source: ''}]", "Data[0].Source", "must not be empty"),
    ("Data: [{Dataset: a, Args: [1]}]", "Data[0].Args", "mapping of keyword arguments"),
    ("Data: [{Dataset: a, Args: {1x: 2}}]", "Data[0].Args", "not a keyword argument name"),
    ("Data: [{Dataset: a}, {Dataset: b, Args: {date: 2017-08-01}}]", "Data[1].Args.date",
     "quote dates"),
])
def test_bad_data_names_the_item_and_what_is_allowed(text, key, words):
    with pytest.raises(ConfigError) as err:
        load_config(text)
    assert err.value.key == key, err.value.message
    assert words in err.value.message
