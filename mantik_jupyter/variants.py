"""JSON schema of a mapping whose keys depend on one tag key: a site profile by its ``kind``,
a credentials reference by its ``source``.

Each variant (an installed backend, a registered credential source) brings its own
properties and required keys; :func:`tagged_schema` joins them into one schema that
validates each variant exactly and that a form or a command line can be built from:
every key appears once at the top with a description saying which variants use it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    """One value of the tag: its title for descriptions, its keys and its required keys."""

    title: str
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()


def tagged_schema(tag: str, variants: Mapping[str, Variant], *,
                  before: Mapping[str, Mapping[str, Any]] | None = None,
                  after: Mapping[str, Mapping[str, Any]] | None = None,
                  required: tuple[str, ...] = (),
                  tag_description: str = "") -> dict[str, Any]:
    """An object schema: the keys ``before``, the ``tag`` (one of ``variants``), the
    variants' keys (those all share first), the keys ``after``; each variant's keys are
    checked by an ``if tag == name then ...`` branch. ``required`` are required always."""
    properties: dict[str, Any] = copy.deepcopy(dict(before or {}))
    properties[tag] = {"enum": list(variants),
                       **({"description": tag_description} if tag_description else {})}
    keys = list(dict.fromkeys(k for v in variants.values() for k in v.properties))
    shared = [k for k in keys if all(k in v.properties for v in variants.values())]
    for key in shared + [k for k in keys if k not in shared]:
        users = {name: v for name, v in variants.items() if key in v.properties}
        properties[key] = _joined(key, users, everyone=len(users) == len(variants))
    properties.update(copy.deepcopy(dict(after or {})))
    in_all = [key for key in dict.fromkeys(k for v in variants.values() for k in v.required)
              if variants and all(key in v.required for v in variants.values())]
    branches = [
        {"if": {"required": [tag], "properties": {tag: {"const": name}}},
         "then": {**({"required": list(v.required)} if v.required else {}),
                  "properties": copy.deepcopy(dict(v.properties))}}
        for name, v in variants.items()
    ]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(dict.fromkeys([*required, tag, *in_all])),
        "properties": properties,
        "allOf": branches,
    }


def _joined(key: str, users: Mapping[str, Variant], *, everyone: bool) -> dict[str, Any]:
    """The top-level schema of a key several variants declare: theirs when they agree (but
    for the description), the union when each is an enum, else only the description."""
    shapes = [{k: v for k, v in variant.properties[key].items() if k != "description"}
              for variant in users.values()]
    if all(shape == shapes[0] for shape in shapes):
        joined = copy.deepcopy(shapes[0])
    elif all(set(shape) == {"enum"} for shape in shapes):
        joined = {"enum": list(dict.fromkeys(e for shape in shapes for e in shape["enum"]))}
    else:
        joined = {}
    by_text: dict[str, list[str]] = {}  # description -> titles of the variants saying it
    for variant in users.values():
        text = variant.properties[key].get("description")
        if text:
            by_text.setdefault(text, []).append(variant.title)
    if everyone and len(by_text) == 1 and len(next(iter(by_text.values()))) == len(users):
        joined["description"] = next(iter(by_text))
    elif by_text:
        joined["description"] = "; ".join(f"{', '.join(titles)}: {text}"
                                          for text, titles in by_text.items())
    return joined
