"""Small pure pieces of the simulator: durations, Slurm times, ranges, fault rules, confinement."""

from __future__ import annotations

import os

import pytest

from mantik_jupyter.sim.executors import script_directives, slurm_time
from mantik_jupyter.sim.faults import FaultRule, Faults
from mantik_jupyter.sim.files import Forbidden, confine, confine_any, parse_range
from mantik_jupyter.sim.jobs import expand_pattern, parse_duration


@pytest.mark.parametrize("value, seconds", [
    (3600, 3600), ("90", 90), ("10m", 600), ("12h", 43200), ("1h30m", 5400), ("2d", 172800),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "10x", 0, -5, "1h soon", True])
def test_parse_duration_refuses(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("text, seconds", [
    ("1", 60), ("30:00", 1800), ("1:30", 90), ("2:00:00", 7200), ("1-0", 86400),
    ("1-2:03:04", 93784),
])
def test_slurm_time(text, seconds):
    assert slurm_time(text) == seconds


@pytest.mark.parametrize("header, size, expected", [
    ("bytes=5-", 10, (5, None)), ("bytes=2-4", 10, (2, 4)), ("bytes=-3", 10, (7, None)),
    ("bytes=-30", 10, (0, None)),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=-", "items=1-2", "bytes=a-b"])
def test_parse_range_refuses(header):
    with pytest.raises(ValueError):
        parse_range(header, 10)


def test_fault_rule_from_command_line_and_unknown_keys():
    rule = FaultRule.parse("route=/jobs,methods=POST+PUT,error_rate=0.2,latency=0.25,retry_after=3")
    assert (rule.route, rule.methods, rule.error_rate, rule.latency, rule.retry_after) == (
        "/jobs", ["POST", "PUT"], 0.2, 0.25, 3)
    with pytest.raises(ValueError, match="errorrate"):
        FaultRule.parse("errorrate=0.2")
    with pytest.raises(ValueError, match="error_rate"):
        FaultRule(error_rate=1.5)


def test_faults_only_hit_matching_routes_and_are_counted():
    faults = Faults([FaultRule(route="^/a", methods=["POST"], error_rate=1.0, latency=0.1)], seed=1)
    assert faults.decide("GET", "/a").status is None
    assert faults.decide("POST", "/b").latency == 0
    hit = faults.decide("POST", "/a/x")
    assert (hit.status, hit.latency) == (503, 0.1)
    assert faults.snapshot()["injected"]["error"] == 1


def test_first_and_every_make_faults_exact():
    faults = Faults([FaultRule.parse("route=^/t,throttle_rate=1,first=2,retry_after=0"),
                     FaultRule.parse("route=^/e,methods=POST,error_rate=1,every=3")])
    assert [faults.decide("GET", "/t").status for _ in range(5)] == [429, 429, None, None, None]
    assert [faults.decide("POST", "/e").status for _ in range(7)] == [
        None, None, 503, None, None, 503, None]
    snapshot = faults.snapshot()
    assert (snapshot["matched"], snapshot["injected"]["throttle"], snapshot["injected"]["error"]) \
        == ([5, 7], 2, 2)
    # the rules GET shows are what PUT takes; counting starts again
    faults.replace([FaultRule.from_dict(rule) for rule in snapshot["rules"]])
    assert faults.decide("GET", "/t").status == 429
    for bad in ({"first": -1}, {"every": 1.5}, {"every": "2"}, {"first": True}):
        with pytest.raises(ValueError, match="must be a whole number of requests"):
            FaultRule.from_dict(bad)


def test_confine_refuses_escapes_and_symlinks(tmp_path):
    base = tmp_path / "job"
    (base / "sub").mkdir(parents=True)
    os.symlink(tmp_path, base / "out")
    assert confine(base, "sub/x") == base / "sub" / "x"
    assert confine(base, "") == base
    for bad in ("../x", "sub/../../x", "out/x", "/etc/passwd", "a\x00b"):
        with pytest.raises(Forbidden):
            confine(base, bad)
    assert confine_any([tmp_path / "other", base], str(base / "sub")) == base / "sub"
    with pytest.raises(Forbidden):
        confine_any([base], "sub")


def test_script_directives_and_output_patterns():
    script = "#!/bin/bash\n#SBATCH -J demo\n#SBATCH --time=00:05:00\n#SBATCH --partition devel\n"
    assert script_directives(script) == {"--job-name": "demo", "--time": "00:05:00",
                                         "--partition": "devel"}
    assert expand_pattern("out-%x-%j-%%.txt", "42", "demo") == "out-demo-42-%.txt"
