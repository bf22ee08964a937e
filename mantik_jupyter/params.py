"""Notebook parameters: discovered with papermill's inspection, values checked against types.

Values from the command line are text and are converted to the declared type; values from
YAML are already typed and are checked. An unknown name or a value of the wrong type is an
error before anything is submitted.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import yamltext
from .errors import ConfigError, NotFoundError

_KNOWN_TYPES = ("int", "float", "bool", "str", "list", "dict")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class Parameter:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    type: str | None
    default: Any
    default_text: str
    help: str

    def to_dict(self) -> dict:
        return asdict(self)


def read_notebook(path: Path) -> dict:
    """Load a notebook file as JSON, with errors that say what is wrong with it."""
    if not path.exists():
        raise NotFoundError(f"notebook {str(path)!r} does not exist", key="notebook")
    if path.is_dir() or path.suffix != ".ipynb":
        raise ConfigError(f"{str(path)!r} is not a notebook (.ipynb file)", key="notebook")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} is not a valid notebook: {exc}", key="notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ConfigError(f"{str(path)!r} is not a valid notebook: no cells", key="notebook")
    return data


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    """The notebook's parameters by name, typed from annotations or else from defaults."""
    read_notebook(path)
    from papermill.inspection import inspect_notebook

    found = inspect_notebook(str(path))
    result = {}
    for name, info in found.items():
        default_text = str(info.get("default", ""))
        default = _literal(default_text)
        declared = str(info.get("inferred_type_name") or "None")
        type_name = _type_name(declared) or _type_of(default)
        result[name] = Parameter(name, type_name, default, default_text, info.get("help", ""))
    return result


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _type_name(declared: str) -> str | None:
    base = declared.split("[", 1)[0].strip()
    base = {"List": "list", "Dict": "dict", "typing.List": "list", "typing.Dict": "dict"}.get(
        base, base
    )
    return base if base in _KNOWN_TYPES else None


def _type_of(value: Any) -> str | None:
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str),
                       ("list", list), ("dict", dict)):
        if isinstance(value, kind):
            return name
    return None


def coerce_text(param: Parameter, text: str) -> Any:
    """Convert a command-line ``NAME=VALUE`` text to the parameter's type."""
    stripped = text.strip()
    if param.type == "str":
        return text
    if param.type is None:  # untyped parameter: take YAML's reading of the text
        try:
            return yamltext.load(stripped, f"Parameters.{param.name}") if stripped else text
        except ConfigError:  # not YAML (or an alias): the text as it is
            return text
    try:
        return _CONVERTERS[param.type](stripped)
    except (ValueError, TypeError, ArithmeticError, ConfigError):
        raise _type_error(param, text) from None


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in _TRUE | _FALSE:
        raise ValueError(text)
    return lowered in _TRUE


def _yaml_of(kind: type) -> Any:
    def convert(text: str) -> Any:
        value = yamltext.load(text, "parameter")
        if not isinstance(value, kind):
            raise ValueError(text)
        return value

    return convert


_CONVERTERS = {"int": int, "float": float, "bool": _bool, "list": _yaml_of(list),
               "dict": _yaml_of(dict)}


def check_value(param: Parameter, value: Any) -> Any:
    """Check an already typed value (from YAML or JSON) against the parameter's type."""
    kind = param.type
    if kind is None or value is None:
        return value
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, (int, float, bool)):
        return str(value)
    expected = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict}
    if kind == "int" and isinstance(value, bool):
        raise _type_error(param, value)
    if not isinstance(value, expected[kind]):
        if isinstance(value, str):
            return coerce_text(param, value)
        raise _type_error(param, value)
    return value


def resolve_parameters(
    declared: dict[str, Parameter],
    typed: dict[str, Any],
    texts: dict[str, str],
) -> dict[str, Any]:
    """Merge typed values (config) and text values (``-p``), checking names and types."""
    result: dict[str, Any] = {}
    allowed = ", ".join(sorted(declared)) or "none (the notebook has no parameters cell)"
    for name in [*typed, *texts]:
        if name not in declared:
            raise ConfigError(
                f"unknown parameter {name!r}; the notebook's parameters are: {allowed}",
                key=f"Parameters.{name}",
            )
    for name, value in typed.items():
        result[name] = check_value(declared[name], value)
    for name, text in texts.items():
        result[name] = coerce_text(declared[name], text)
    return result


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """Split ``NAME=VALUE`` command-line items; the value keeps spaces and ``=`` signs."""
    result = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(
                f"parameter {item!r} must look like NAME=VALUE", key="Parameters"
            )
        result[name.strip()] = value
    return result


def _type_error(param: Parameter, value: Any) -> ConfigError:
    return ConfigError(
        f"parameter {param.name!r} expects {param.type}, got {value!r}",
        key=f"Parameters.{param.name}",
        details={"expected": param.type},
    )
