"""Run configuration: the Mantik backend-config keys plus this project's, validated up front.

A config is YAML (or a dict). Every key is checked before anything is sent anywhere; an
error names the key, the bad value and what is allowed. The validated config keeps the
user's own keys and spelling (so a re-run can show and edit it); normalised values
(seconds, megabytes) are derived from it by :class:`RunSpec`.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schedule
from .errors import ConfigError, LimitError

# matched with fullmatch: a pattern ending in $ would also take a trailing newline
_DURATION_UNITS = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?(?:(\d+)s)?")
_SLURM_TIME = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Values end up in #SBATCH lines, exports and job descriptions: a newline there starts a new
# shell command (and Slurm stops reading directives). Commands may span lines and use tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMMAND_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_DEPTH = 32
_MEMORY_FACTOR_MB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024, "": 1}

DURATION_HELP = "a duration such as 30m, 2h, 1h30m, 90 (minutes), 2:00:00 or 1-00:00:00"
MEMORY_HELP = "a size such as 4G, 4000M, 512K or a plain number of megabytes"


def parse_duration(value: Any, key: str = "Resources.Runtime") -> int:
    """Return seconds for a Slurm- or Mantik-style duration; plain numbers are minutes."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: {value!r} is not a duration; use {DURATION_HELP}", key=key)
    if isinstance(value, int):
        seconds = value * 60
    else:
        text = str(value).strip().lower().replace(" ", "")
        seconds = _parse_duration_text(text)
        if seconds is None:
            raise ConfigError(
                f"{key}: {value!r} is not a duration; use {DURATION_HELP}", key=key
            )
    if seconds <= 0:
        raise ConfigError(f"{key}: {value!r} must be longer than zero", key=key)
    return seconds


def _parse_duration_text(text: str) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text) * 60
    match = _DURATION_UNITS.fullmatch(text)
    if match and any(match.groups()):
        days, hours, minutes, secs = (int(g or 0) for g in match.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + secs
    match = _SLURM_TIME.fullmatch(text)
    if not match:
        return None
    days, first, second, third = match.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        h, m, s = int(first), int(second or 0), int(third or 0)
        return ((int(days) * 24 + h) * 60 + m) * 60 + s
    if third is not None:  # H:M:S
        return (int(first) * 60 + int(second)) * 60 + int(third)
    if second is not None:  # M:S
        return int(first) * 60 + int(second)
    return None


def parse_memory(value: Any, key: str = "Resources.MemoryPerNode") -> int:
    """Return whole megabytes (rounded up) for ``4G``, ``4000M``, ``512K`` or plain MB."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: {value!r} is not a memory size; use {MEMORY_HELP}", key=key)
    match = _MEMORY.fullmatch(str(value).strip())
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a memory size; use {MEMORY_HELP}", key=key)
    megabytes = math.ceil(float(match.group(1)) * _MEMORY_FACTOR_MB[match.group(2).upper()])
    if megabytes <= 0:
        raise ConfigError(f"{key}: {value!r} must be larger than zero", key=key)
    return megabytes


# ----------------------------------------------------------------------------- validators
Validator = Callable[[Any, str], Any]


def plain_text(value: Any, key: str) -> str:
    """A one-line text value: not empty, no control characters (newline, CR, NUL, tab...)."""
    return _text(value, key, _CONTROL)



def _command(value: Any, key: str) -> str:
    """Shell text the user wrote: lines and tabs allowed, other control characters not."""
    return _text(value, key, _COMMAND_CONTROL)


def _text(value: Any, key: str, control: re.Pattern[str]) -> str:
    if isinstance(value, (dict, list)) or value is None:
        raise ConfigError(f"{key}: expected a text value, got {value!r}", key=key)
    text = str(value)
    if not text.strip():
        raise ConfigError(f"{key}: must not be empty", key=key)
    found = control.search(text)
    if found:
        allowed = "" if control is _CONTROL else " (line breaks and tabs are)"
        raise ConfigError(f"{key}: {text!r} holds the control character {found.group()!r} at "
                          f"position {found.start()}; control characters are not allowed in "
                          f"this value{allowed}", key=key)
    return text


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        if isinstance(value, str) and value.strip().isdigit() and int(value) >= 1:
            return int(value)
        raise ConfigError(f"{key}: expected a whole number of at least 1, got {value!r}", key=key)
    return value


def _count(value: Any, key: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key}: expected a whole number of at least 0, got {value!r}", key=key)
    return value


def _string_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of text values, got {value!r}", key=key)
    return [plain_text(item, f"{key}[{i}]") for i, item in enumerate(value)]


def _variables(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping NAME: value, got {value!r}", key=key)
    result = {}
    for name, item in value.items():
        if not _ENV_NAME.fullmatch(str(name)):
            raise ConfigError(
                f"{key}: {name!r} is not a valid environment variable name "
                "(letters, digits and _, not starting with a digit)",
                key=f"{key}.{name}",
            )
        if isinstance(item, (dict, list)) or item is None:
            raise ConfigError(f"{key}.{name}: expected a text value, got {item!r}", key=key)
        text = str(item).lower() if isinstance(item, bool) else str(item)
        result[str(name)] = text if text == "" else plain_text(text, f"{key}.{name}")
    return result


def _parameters(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping name: value, got {value!r}", key=key)
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{key}: {name!r} is not a valid parameter name", key=key)
    return dict(value)


# CliMetLab names its datasets and sources like this (maelstrom-ens10, url, url-pattern)
_DATA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
DATA_KINDS = ("Dataset", "Source")
DATA_HELP = ("a list of items, each {Dataset: NAME, Args: {...}} or {Source: NAME, Args: "
             "{...}}, as the notebook calls cml.load_dataset / cml.load_source")


def _data(value: Any, key: str) -> list[dict[str, Any]]:
    """The ``Data`` key: CliMetLab datasets and sources with their keyword arguments."""
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected {DATA_HELP}, got {value!r}", key=key)
    items = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected {DATA_HELP}, got {item!r}", key=where)
        unknown = sorted(str(k) for k in item if k not in (*DATA_KINDS, "Args"))
        if unknown:
            raise ConfigError(f"unknown key {where}.{unknown[0]}; allowed here: Args, Dataset, "
                              "Source", key=f"{where}.{unknown[0]}")
        kinds = [kind for kind in DATA_KINDS if kind in item]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: give exactly one of Dataset or Source, got "
                              f"{', '.join(kinds) or 'neither'}", key=where)
        kind = kinds[0]
        name = plain_text(item[kind], f"{where}.{kind}")
        if not _DATA_NAME.fullmatch(name):
            raise ConfigError(f"{where}.{kind}: {name!r} is not a CliMetLab {kind.lower()} "
                              "name (letters, digits, . _ -)", key=f"{where}.{kind}")
        args = _data_args(item.get("Args"), f"{where}.Args")
        items.append({kind: name, "Args": args} if "Args" in item else {kind: name})
    return items


def _data_args(value: Any, key: str) -> dict[str, Any]:
    """Keyword arguments as JSON (they travel to the site in a file, never through a shell)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of keyword arguments, got {value!r}",
                          key=key)
    for name, item in value.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{key}: {name!r} is not a keyword argument name", key=key)
        try:
            json.dumps(item, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}.{name}: {item!r} is not plain data (text, number, true/"
                              "false, list or mapping); quote dates and times",
                              key=f"{key}.{name}") from None
    return dict(value)


def _duration(value: Any, key: str) -> Any:
    if isinstance(value, str):
        plain_text(value, key)
    parse_duration(value, key)
    return value


def _memory(value: Any, key: str) -> Any:
    if isinstance(value, str):
        plain_text(value, key)
    parse_memory(value, key)
    return value


def _url(value: Any, key: str) -> str:
    text = plain_text(value, key)
    if not re.match(r"^https?://[^\s/]+", text):
        raise ConfigError(f"{key}: {text!r} is not an http(s) URL", key=key)
    return text


def _choice(*allowed: str) -> Validator:
    def check(value: Any, key: str) -> str:
        if value not in allowed:
            raise ConfigError(
                f"{key}: {value!r} is not allowed; use one of {', '.join(allowed)}", key=key
            )
        return value

    return check


def _python_env(value: Any, key: str) -> Any:
    """Mantik accepts ``Python: /path/to/venv``; ``Python: {Path: ...}`` is taken too."""
    if isinstance(value, Mapping):
        return _check_section(value, key, {"Path": plain_text})
    return plain_text(value, key)


def _sweep(value: Any, key: str) -> dict:
    """The shape only: :class:`mantik_jupyter.sweeps.SweepSpec` checks the rest."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping (Grid, Points, Repeat, MaxConcurrent, "
                          f"Objective), got {value!r}", key=key)
    return dict(value)


def _section(schema: Mapping[str, Validator]) -> Validator:
    def check(value: Any, key: str) -> dict:
        return _check_section(value, key, schema)

    return check


def _check_section(value: Any, key: str, schema: Mapping[str, Validator]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}", key=key)
    result = {}
    for name, item in value.items():
        path = f"{key}.{name}" if key else str(name)
        if name not in schema:
            allowed = ", ".join(sorted(schema))
            raise ConfigError(f"unknown key {path!r}; allowed here: {allowed}", key=path)
        if item is None:
            continue
        result[name] = schema[name](item, path)
    return result


RESOURCES = {
    "Queue": plain_text,
    "Runtime": _duration,
    "Nodes": _positive_int,
    "TotalCPUs": _positive_int,
    "CPUsPerNode": _positive_int,
    "GPUsPerNode": _count,
    "MemoryPerNode": _memory,
    "Reservation": plain_text,
    "NodeConstraints": plain_text,
    "QoS": plain_text,
    "Project": plain_text,
}
APPTAINER = {"Path": plain_text, "Type": _choice("local", "remote"), "Options": _string_list}
ENVIRONMENT = {
    "Modules": _string_list,
    "Variables": _variables,
    "Python": _python_env,
    "Apptainer": _section(APPTAINER),
    "PreRunCommandOnLoginNode": _command,
    "PreRunCommandOnComputeNode": _command,
    "PostRunCommandOnComputeNode": _command,
    "PostRunCommandOnLoginNode": _command,
}
FIRECREST = {"ApiUrl": _url, "TokenUrl": _url, "Machine": plain_text}
BUNDLE = {"IncludeHidden": _string_list, "MaxFiles": _positive_int, "MaxSize": _memory}
DOWNLOAD = {"MaxFiles": _positive_int, "MaxSize": _memory}
TOP_LEVEL = {
    # Mantik backend-config keys, unchanged
    "UnicoreApiUrl": _url,
    "Firecrest": _section(FIRECREST),
    "Resources": _section(RESOURCES),
    "Environment": _section(ENVIRONMENT),
    "Exclude": _string_list,
    # this project's keys
    "Site": plain_text,
    "Name": plain_text,
    "Experiment": plain_text,
    "Parameters": _parameters,
    "ProjectRoot": plain_text,
    "Bundle": _section(BUNDLE),
    "Download": _section(DOWNLOAD),
    "Data": _data,
    "Sweep": _sweep,
    "Schedule": schedule.validate,
}


def validate_config(config: Any) -> dict:
    """Check a config mapping against the schema and return a validated deep copy."""
    if config is None:
        return {}
    check_depth(config, "config")
    result = _check_section(copy.deepcopy(config), "", TOP_LEVEL)
    env = result.get("Environment", {})
    if "Python" in env and "Apptainer" in env:
        raise ConfigError(
            "Environment: use either Python (a venv) or Apptainer (an image), not both",
            key="Environment",
        )
    if "Apptainer" in env and "Path" not in env["Apptainer"]:
        raise ConfigError(
            "Environment.Apptainer.Path is required (the image file)",
            key="Environment.Apptainer.Path",
        )
    if "UnicoreApiUrl" in result and "Firecrest" in result:
        raise ConfigError(
            "use either UnicoreApiUrl or Firecrest, not both", key="UnicoreApiUrl"
        )
    return result


def check_depth(value: Any, key: str, limit: int = MAX_DEPTH) -> None:
    """Refuse mappings and lists nested deeper than ``limit`` (checked without recursion, so
    a hostile depth cannot exhaust the stack here or in the copies and dumps after it)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        if depth > limit:
            raise LimitError(f"{key}: nested more than {limit} levels deep", key=key)
        stack.extend((child, depth + 1) for child in children)


def load_config(text: str, source: str = "config") -> dict:
    """Parse YAML text and validate it; YAML errors point at the line and column."""
    from . import yamltext

    data = yamltext.load(text, source) if text and text.strip() else {}
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the run configuration must be a mapping of keys, got {type(data).__name__}"
        )
    return validate_config(data)


def read_config_file(path: Path, shown: str | None = None) -> str:
    """The text of a run configuration file; ``shown`` is how the user named it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        why = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read config file {shown or str(path)!r}: {why}",
                          key="config") from None


def merge_config(base: Mapping, overrides: Mapping) -> dict:
    """Deep-merge ``overrides`` into ``base`` (sections merge, values replace) and validate."""
    check_depth(overrides, "config")
    return validate_config(_deep_merge(base, overrides))


def _deep_merge(base: Mapping, overrides: Mapping) -> dict:
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class RunSpec:
    """A validated run configuration with normalised values derived from it."""

    config: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping | None) -> RunSpec:
        """Validate ``config`` and wrap it."""
        return cls(validate_config(config or {}))

    @property
    def site(self) -> str | None:
        return self.config.get("Site")

    @property
    def name(self) -> str | None:
        return self.config.get("Name")

    @property
    def experiment(self) -> str | None:
        return self.config.get("Experiment")

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.config.get("Parameters", {}))

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.config.get("Resources", {}))

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self.config.get("Environment", {}))

    @property
    def data(self) -> list[dict[str, Any]]:
        """The CliMetLab datasets and sources staged for the run (``Data``)."""
        return list(self.config.get("Data", []))

    @property
    def schedule(self) -> dict[str, Any]:
        """The ``Schedule`` section (empty: start now, once)."""
        return dict(self.config.get("Schedule", {}))

    @property
    def exclude(self) -> list[str]:
        return list(self.config.get("Exclude", []))

    @property
    def runtime_seconds(self) -> int | None:
        runtime = self.resources.get("Runtime")
        return None if runtime is None else parse_duration(runtime)

    @property
    def memory_mb(self) -> int | None:
        memory = self.resources.get("MemoryPerNode")
        return None if memory is None else parse_memory(memory)

    def with_overrides(self, overrides: Mapping) -> RunSpec:
        """A new spec with ``overrides`` deep-merged in (used by CLI flags and re-runs)."""
        return RunSpec(merge_config(self.config, overrides))
