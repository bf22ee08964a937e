"""The run states are defined once, in openapi.yaml's State schema; every copy must agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from mantik_magics.records import ACTIVE as MAGICS_ACTIVE
from mantik_magics.records import TERMINAL as MAGICS_TERMINAL

from mantik_jupyter.server.app import EVENT_SCHEMA
from mantik_jupyter.states import ACTIVE_STATES, TERMINAL_STATES, RunState

REPO = Path(__file__).resolve().parent.parent
OPENAPI = REPO / "mantik_jupyter" / "server" / "openapi.yaml"
RUN_STATES_TS = REPO / "labextension" / "src" / "runStates.ts"


def openapi_state() -> dict:
    return yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]["State"]


def ts_array(name: str) -> list[str]:
    """The names in ``export const NAME: RunState[] = [...]`` of the generated TypeScript."""
    pattern = rf"export const {name}: RunState\[\] = \[([^\]]*)\];"
    match = re.search(pattern, RUN_STATES_TS.read_text())
    assert match, f"{RUN_STATES_TS} has no {name}: run `jlpm build` to generate it"
    return re.findall(r"'([A-Z_]+)'", match.group(1))


def test_openapi_sorts_every_state_into_active_or_terminal() -> None:
    state = openapi_state()
    assert set(state["x-active"]).isdisjoint(state["x-terminal"])
    assert sorted(state["x-active"] + state["x-terminal"]) == sorted(state["enum"])


def test_python_run_state_matches_openapi() -> None:
    state = openapi_state()
    assert [s.value for s in RunState] == state["enum"]
    assert {s.value for s in ACTIVE_STATES} == set(state["x-active"])
    assert {s.value for s in TERMINAL_STATES} == set(state["x-terminal"])
    assert {s.value for s in RunState if s.terminal} == set(state["x-terminal"])


def test_magics_terminal_states_match_openapi() -> None:
    # the magics package stays light (no engine import), so it keeps a checked copy
    assert set(MAGICS_TERMINAL) == set(openapi_state()["x-terminal"])
    assert set(MAGICS_ACTIVE) == set(openapi_state()["x-active"])


def test_event_schema_states_match_openapi() -> None:
    properties = yaml.safe_load(EVENT_SCHEMA.read_text())["properties"]
    states = openapi_state()["enum"]
    assert properties["new_state"]["enum"] == states
    assert properties["old_state"]["enum"] == [*states, None]


def test_typescript_states_are_generated_from_openapi() -> None:
    state = openapi_state()
    text = RUN_STATES_TS.read_text()
    union = re.search(r"export type RunState =([^;]*);", text)
    assert union and re.findall(r"'([A-Z_]+)'", union.group(1)) == state["enum"]
    assert ts_array("RUN_STATES") == state["enum"]
    assert ts_array("ACTIVE_STATES") == state["x-active"]
    assert ts_array("TERMINAL_STATES") == state["x-terminal"]
