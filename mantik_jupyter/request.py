"""What a face asks the engine to run: a submission, or the changes a re-run makes.

Every face (CLI, REST, magics, lab) builds these instead of threading loose options; the
REST bodies of ``POST runs`` and ``POST runs/{id}/rerun`` are their JSON. A submission is
stored with its run in the form the engine resolved it to, so a re-run (and later a
schedule or a sweep) replays it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import MantikError
from .params import parse_assignments
from .spec import RunSpec, load_config, read_config_file

#: Turns a path a user gave (notebook, config file) into the file it means, or refuses it.
PathResolver = Callable[[str, str], Path]


class BadRequest(MantikError):
    """The request itself is malformed (not the config in it): a field of the wrong type."""

    status = 400
    reason = "bad_request"


def local_path(path: str, key: str) -> Path:
    """A path on this machine as the CLI and the in-process magics take it."""
    if not path:
        raise BadRequest(f"{key} is required", key=key)
    return Path(path).expanduser().resolve()


@dataclass(frozen=True)
class RerunChanges:
    """What a re-run changes of the run it repeats.

    By default ``config`` is deep-merged into the run's configuration and ``parameters``
    override the run's; with ``replace`` they are the new run's whole configuration and
    parameters, so what they leave out is gone (how an edit form clears a field).
    """

    site: str | None = None
    config: Mapping[str, Any] | str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    parameter_texts: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    replace: bool = False
    #: re-run only the failed points of a sweep
    failed: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any], resolve: PathResolver = local_path
                  ) -> RerunChanges:
        """Read a ``POST runs/{id}/rerun`` body (``config_file`` is read here, once)."""
        _refuse_unknown(data, {"site", "config", "config_file", "parameters",
                               "parameter_texts", "name", "replace", "failed"})
        return cls(site=text_field(data, "site"), config=_config(data, resolve),
                   parameters=_mapping(data, "parameters"),
                   parameter_texts=_texts(data), name=text_field(data, "name"),
                   replace=_flag(data, "replace"), failed=_flag(data, "failed"))

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "config": _config_json(self.config),
                "parameters": dict(self.parameters),
                "parameter_texts": dict(self.parameter_texts), "name": self.name,
                "replace": self.replace, "failed": self.failed}


@dataclass(frozen=True)
class SubmitRequest:
    """A notebook to run on a site with a configuration and parameters.

    ``config`` is YAML text or a mapping; ``parameters`` are typed values (from YAML or
    JSON), ``parameter_texts`` command-line texts the engine converts to the declared types.
    ``parent_id`` is the run this one repeats (its lineage).
    """

    notebook: str
    site: str | None = None
    config: Mapping[str, Any] | str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    parameter_texts: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    parent_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], resolve: PathResolver = local_path
                  ) -> SubmitRequest:
        """Read a ``POST runs`` body; paths go through ``resolve`` (the server confines
        them to its contents root). ``parameter_texts`` may be ``{NAME: VALUE}`` or a list
        of ``NAME=VALUE`` items, as typed on a command line."""
        _refuse_unknown(data, {"notebook", "site", "config", "config_file", "parameters",
                               "parameter_texts", "name", "parent_id", "schedule"})
        notebook = resolve(text_field(data, "notebook") or "", "notebook")
        config = _with_schedule(_config(data, resolve), _mapping(data, "schedule"))
        return cls(notebook=str(notebook), site=text_field(data, "site"),
                   config=config, parameters=_mapping(data, "parameters"),
                   parameter_texts=_texts(data), name=text_field(data, "name"),
                   parent_id=text_field(data, "parent_id"))

    def to_json(self) -> dict[str, Any]:
        """The request as JSON-ready data (what ``from_json`` reads back)."""
        return {"notebook": self.notebook, "site": self.site,
                "config": _config_json(self.config), "parameters": dict(self.parameters),
                "parameter_texts": dict(self.parameter_texts), "name": self.name,
                "parent_id": self.parent_id}

    @property
    def spec(self) -> RunSpec:
        """The configuration, parsed and validated."""
        if isinstance(self.config, str):
            return RunSpec(load_config(self.config))
        return RunSpec.from_config(self.config)

    def rerun(self, parent_id: str, changes: RerunChanges) -> SubmitRequest:
        """The request that repeats this one (already resolved, as stored) with changes."""
        if changes.replace:
            spec = RunSpec.from_config(_loaded(changes.config))
            parameters = dict(changes.parameters)
        else:
            base = RunSpec(without_schedule(self.spec.config))
            spec = base.with_overrides(_loaded(changes.config) or {})
            parameters = {**self.parameters, **changes.parameters}
        return replace(self, site=changes.site or spec.site or self.site, config=spec.config,
                       parameters=parameters, parameter_texts=dict(changes.parameter_texts),
                       name=changes.name, parent_id=parent_id)


def without_schedule(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored run's config for submitting it again: its ``Schedule`` belonged to the run
    it was given to (a re-run, a schedule's occurrence start by their own clock)."""
    return {k: v for k, v in config.items() if k != "Schedule"}


def _loaded(config: Mapping[str, Any] | str | None) -> Mapping[str, Any] | None:
    return load_config(config) if isinstance(config, str) else config


def _config_json(config: Mapping[str, Any] | str | None) -> Any:
    return config if config is None or isinstance(config, str) else dict(config)


def _refuse_unknown(data: Mapping[str, Any], allowed: set[str]) -> None:
    if not isinstance(data, Mapping):
        raise BadRequest("the request must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(allowed))}", key=unknown[0])


def text_field(data: Mapping[str, Any], key: str) -> str | None:
    """An optional string field of a JSON body; any other type is a bad request."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string, got {type(value).__name__}", key=key)
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be true or false, got {json.dumps(value)}", key=key)
    return value


def _mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"{key} must be a JSON object", key=key)
    return dict(value)


def _texts(data: Mapping[str, Any]) -> dict[str, str]:
    """``parameter_texts`` as ``{NAME: VALUE}``, from that or from ``NAME=VALUE`` items."""
    value = data.get("parameter_texts")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return parse_assignments(value)
    texts = _mapping(data, "parameter_texts")
    for name, text in texts.items():
        if not isinstance(text, str):
            raise BadRequest(f"parameter_texts.{name} must be a string, got "
                             f"{type(text).__name__}", key=f"parameter_texts.{name}")
    return texts


def _with_schedule(config: Mapping[str, Any] | str | None, schedule: dict[str, Any]
                   ) -> Mapping[str, Any] | str | None:
    """The config with ``schedule`` (keys of its ``Schedule`` section, as the faces' --at,
    --cron flags give them) merged in."""
    if not schedule:
        return config
    loaded = dict(_loaded(config) or {})
    return {**loaded, "Schedule": {**loaded.get("Schedule", {}), **schedule}}


def _config(data: Mapping[str, Any], resolve: PathResolver) -> Mapping[str, Any] | str | None:
    """The configuration: ``config`` (YAML text or an object) or the ``config_file`` read."""
    value = data.get("config")
    path = text_field(data, "config_file")
    if value is not None and path:
        raise BadRequest("give the run configuration either as config or as config_file, "
                         "not both", key="config")
    if path:
        return read_config_file(resolve(path, "config_file"), shown=path)
    if value is None or isinstance(value, (Mapping, str)):
        return value
    raise BadRequest("config must be YAML text or a JSON object", key="config")
