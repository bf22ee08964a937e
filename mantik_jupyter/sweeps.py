"""Parameter sweeps: the ``Sweep`` key, the request that carries it, and its plan.

A sweep is one notebook run at many points: the Cartesian product of ``Grid``, the extra
``Points``, each ``Repeat`` times. A dimension names a notebook parameter, a resource
(``Resources.GPUsPerNode``) or ``Site``. Every point is checked (its parameters typed, its
site and resources validated) before anything is sent; an error names the point and the
value. Points that share site and resources form one array, split where the site's largest
array is smaller.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import yamltext
from .errors import ConfigError, MantikError
from .params import Parameter, resolve_parameters
from .request import BadRequest, PathResolver, SubmitRequest, local_path
from .spec import RESOURCES, RunSpec

#: The most points one sweep may have (a site's queue and MLflow would drown above it).
MAX_POINTS = 1000
#: Slurm's default ``MaxArraySize`` is 1001: indices 0..1000.
DEFAULT_MAX_ARRAY = 1001
GOALS = ("minimize", "maximize")
_SWEEP_KEYS = {"Grid", "Points", "Repeat", "MaxConcurrent", "Objective"}
#: The fields of a ``POST runs`` body that make it a sweep.
_FIELDS = ("sweep", "sweep_texts", "repeat", "max_concurrent", "rerun_of")


@dataclass(frozen=True)
class Objective:
    """The metric a sweep is ranked by and whether lower or higher is better."""

    metric: str
    goal: str = "minimize"

    def to_config(self) -> dict[str, str]:
        return {"Metric": self.metric, "Goal": self.goal}


@dataclass(frozen=True)
class SweepSpec:
    """The ``Sweep`` key, structurally checked (names and types are checked per point)."""

    grid: dict[str, list[Any]] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)
    repeat: int = 1
    max_concurrent: int | None = None
    objective: Objective | None = None

    @classmethod
    def from_config(cls, value: Any) -> SweepSpec:
        """Read the ``Sweep`` mapping; a wrong shape is an error naming its key."""
        if not isinstance(value, Mapping):
            raise ConfigError(f"Sweep: expected a mapping, got {value!r}", key="Sweep")
        unknown = sorted(set(value) - _SWEEP_KEYS)
        if unknown:
            raise ConfigError(f"unknown key 'Sweep.{unknown[0]}'; allowed here: "
                              f"{', '.join(sorted(_SWEEP_KEYS))}", key=f"Sweep.{unknown[0]}")
        grid = value.get("Grid") or {}
        if not isinstance(grid, Mapping):
            raise ConfigError("Sweep.Grid: expected a mapping of name to a list of values",
                              key="Sweep.Grid")
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"Sweep.Grid.{name}: expected a non-empty list of values, "
                                  f"got {values!r}", key=f"Sweep.Grid.{name}")
        points = value.get("Points") or []
        if not isinstance(points, list) or not all(isinstance(p, Mapping) for p in points):
            raise ConfigError("Sweep.Points: expected a list of mappings (name: value)",
                              key="Sweep.Points")
        repeat = _count(value.get("Repeat", 1), "Sweep.Repeat")
        limit = value.get("MaxConcurrent")
        return cls({str(k): list(v) for k, v in grid.items()}, [dict(p) for p in points],
                   repeat, None if limit is None else _count(limit, "Sweep.MaxConcurrent"),
                   _objective(value.get("Objective")))

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Repeat": self.repeat}
        if self.grid:
            config["Grid"] = self.grid
        if self.points:
            config["Points"] = self.points
        if self.max_concurrent is not None:
            config["MaxConcurrent"] = self.max_concurrent
        if self.objective:
            config["Objective"] = self.objective.to_config()
        return config

    def combinations(self) -> list[dict[str, Any]]:
        """Every point's swept values (grid product, then the extra points), unrepeated;
        refused above :data:`MAX_POINTS` before the product is built."""
        size = 1
        for values in self.grid.values():
            size *= len(values)
        total = ((size if self.grid else 0) + len(self.points)) * self.repeat
        if total > MAX_POINTS:
            raise ConfigError(f"Sweep: {total} points is too many; at most {MAX_POINTS} "
                              "(make the grid smaller or Repeat lower)", key="Sweep")
        names = list(self.grid)
        product = [dict(zip(names, values, strict=True))
                   for values in itertools.product(*self.grid.values())] if names else []
        return product + [dict(p) for p in self.points]


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected a whole number of 1 or more, got {value!r}", key=key)
    return value


def _objective(value: Any) -> Objective | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("Metric"), str) or not (
            value["Metric"].strip()):
        raise ConfigError("Sweep.Objective: expected {Metric: NAME, Goal: minimize|maximize}",
                          key="Sweep.Objective")
    goal = value.get("Goal", "minimize")
    if goal not in GOALS or set(value) - {"Metric", "Goal"}:
        raise ConfigError(f"Sweep.Objective.Goal: expected one of {', '.join(GOALS)}, got "
                          f"{goal!r}", key="Sweep.Objective.Goal")
    return Objective(value["Metric"].strip(), goal)


def sweep_texts(items: list[str]) -> dict[str, list[str]]:
    """``NAME=V1,V2`` command-line items as grid dimensions of texts."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise ConfigError(f"--sweep {item!r} must look like NAME=VALUE1,VALUE2",
                              key="Sweep.Grid")
        grid[name.strip()] = [v.strip() for v in values.split(",")]
    return grid


@dataclass(frozen=True)
class SweepRequest:
    """A sweep to submit: the base submission plus the sweep (from its config's ``Sweep``,
    the ``sweep`` object, ``sweep_texts`` as typed after ``--sweep``, ``repeat``)."""

    base: SubmitRequest
    sweep: SweepSpec
    #: dimensions given as command-line texts, converted to the declared types per point
    text_grid: dict[str, list[str]] = field(default_factory=dict)
    #: the earlier sweep this one re-runs (its failed points)
    rerun_of: str | None = None

    @classmethod
    def asked(cls, request: SubmitRequest, fields: Mapping[str, Any] | None = None
              ) -> SweepRequest | None:
        """The sweep a submission asks for, by its config's ``Sweep`` key or by sweep
        ``fields`` (``sweep``, ``sweep_texts``, ``repeat``, ... as ``POST runs`` and the
        faces' flags give them); None for a single run. Every face and the engine decide
        "is this a sweep?" here."""
        given = {k: v for k, v in (fields or {}).items() if v is not None}
        if not given and "Sweep" not in request.spec.config:
            return None
        return cls.of(request, given)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], resolve: PathResolver = local_path
                  ) -> SweepRequest:
        """Read a ``POST runs`` body with a sweep in it (``sweep``, ``sweep_texts``,
        ``repeat``, ``max_concurrent`` beside the submission's fields)."""
        base, fields = _split(data, resolve)
        return cls.of(base, fields)

    @classmethod
    def of(cls, base: SubmitRequest, fields: Mapping[str, Any] | None = None) -> SweepRequest:
        """The sweep of a submission: its config's ``Sweep`` with ``fields`` over it."""
        fields = fields or {}
        config = dict(base.spec.config)
        sweep_config = dict(config.pop("Sweep", None) or {})
        given = fields.get("sweep")
        if given is not None:
            if not isinstance(given, Mapping):
                raise BadRequest("sweep must be a JSON object shaped like the Sweep key",
                                 key="sweep")
            sweep_config.update(given)
        texts = fields.get("sweep_texts") or []
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise BadRequest("sweep_texts must be a list of NAME=V1,V2 strings",
                             key="sweep_texts")
        for key, name in (("repeat", "Repeat"), ("max_concurrent", "MaxConcurrent")):
            if fields.get(key) is not None:
                sweep_config[name] = fields[key]
        rerun_of = fields.get("rerun_of")
        if rerun_of is not None and not isinstance(rerun_of, str):
            raise BadRequest("rerun_of must be a run id", key="rerun_of")
        return cls(replace(base, config=config), SweepSpec.from_config(sweep_config),
                   sweep_texts(texts), rerun_of)

    def to_json(self) -> dict[str, Any]:
        """The request as stored with the sweep (what a re-run replays)."""
        return {**self.base.to_json(), "sweep": self.sweep.to_config(),
                "sweep_texts": [f"{k}={','.join(v)}" for k, v in self.text_grid.items()],
                "rerun_of": self.rerun_of}

    def combinations(self) -> list[dict[str, Any]]:
        """Swept values of every distinct point, text dimensions multiplied in."""
        names = list(self.text_grid)
        texts = [dict(zip(names, values, strict=True))
                 for values in itertools.product(*self.text_grid.values())] if names else [{}]
        if not (self.sweep.grid or self.sweep.points or self.text_grid):
            raise ConfigError("Sweep: give Grid or Points (at least one point)", key="Sweep")
        base = self.sweep.combinations() or [{}]
        total = len(base) * len(texts) * self.sweep.repeat
        if total > MAX_POINTS:
            raise ConfigError(f"Sweep: {total} points is too many; at most {MAX_POINTS} "
                              "(make the grid smaller or Repeat lower)", key="Sweep")
        return [{**b, **{k: _Text(v) for k, v in t.items()}} for b in base for t in texts]


def submission(data: Mapping[str, Any], resolve: PathResolver = local_path
               ) -> SubmitRequest | SweepRequest:
    """What a ``POST runs`` body asks to submit: a sweep (:meth:`SweepRequest.asked`) or a
    single run."""
    base, fields = _split(data, resolve)
    return SweepRequest.asked(base, fields) or base


def _split(data: Mapping[str, Any], resolve: PathResolver
           ) -> tuple[SubmitRequest, dict[str, Any]]:
    """A body's submission (read) and its sweep fields (as given)."""
    if not isinstance(data, Mapping):
        raise BadRequest("the request must be a JSON object")
    base = SubmitRequest.from_json({k: v for k, v in data.items() if k not in _FIELDS},
                                   resolve)
    return base, {k: v for k, v in data.items() if k in _FIELDS}


class _Text(str):
    """A value typed on a command line: converted to the dimension's type per point."""


@dataclass(frozen=True)
class PlannedPoint:
    """One point of a sweep: its index, swept values, repeat number, site and checked spec."""

    index: int
    values: dict[str, Any]
    repeat: int
    site: str
    parameters: dict[str, Any]
    spec: RunSpec

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.index, "values": self.values, "repeat": self.repeat,
                "site": self.site, "parameters": self.parameters}


@dataclass(frozen=True)
class ArrayGroup:
    """Points that go to one site with the same resources: one job array."""

    site: str
    spec: RunSpec
    points: list[PlannedPoint]

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "resources": self.spec.resources,
                "points": [p.index for p in self.points]}


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: its points and the arrays they form."""

    request: SweepRequest
    points: list[PlannedPoint]
    arrays: list[ArrayGroup]

    def to_dict(self) -> dict[str, Any]:
        return {"points": [p.to_dict() for p in self.points],
                "arrays": [a.to_dict() for a in self.arrays],
                "max_concurrent": self.request.sweep.max_concurrent}

    def describe(self) -> str:
        """The plan in words (``submit --dry-run``)."""
        lines = [f"{len(self.points)} points in {len(self.arrays)} array(s)"]
        for number, group in enumerate(self.arrays):
            lines.append(f"array {number}: site {group.site}, {len(group.points)} points "
                         f"({group.points[0].index}..{group.points[-1].index})"
                         + (f", resources {json.dumps(group.spec.resources, sort_keys=True)}"
                            if group.spec.resources else ""))
        for point in self.points:
            values = ", ".join(f"{k}={v!r}" for k, v in point.values.items())
            lines.append(f"  point {point.index}: {values} (repeat {point.repeat}) "
                         f"on {point.site}")
        lines.append("nothing was sent (--dry-run)")
        return "\n".join(lines)


#: What planning needs of a site: its name resolved, its largest array, and a check of a
#: point's spec (``Backend.validate``): ``site(name) -> (name, max_array, validate)``.
SiteInfo = Callable[[str], tuple[str, int, Callable[[RunSpec], None]]]


def plan(request: SweepRequest, declared: dict[str, Parameter], site_info: SiteInfo,
         default_site: str) -> SweepPlan:
    """Check every point and group them into arrays; nothing is staged or sent."""
    base = request.base
    base_spec = base.spec
    points: list[PlannedPoint] = []
    checked: dict[str, None] = {}
    infos: dict[str, tuple[str, int, Callable[[RunSpec], None]]] = {}
    for number, values in enumerate(request.combinations()):
        shown = {k: str(v) if isinstance(v, _Text) else v for k, v in values.items()}
        where = f"Sweep point {number * request.sweep.repeat} ({_shown(shown)})"
        try:
            site_value = values.get("Site", base.site or base_spec.site or default_site)
            if "Site" in values and not isinstance(site_value, str):
                raise ConfigError(f"Site must be a site name, got {site_value!r}", key="Site")
            if site_value not in infos:
                infos[site_value] = site_info(site_value)
            site, max_array, validate = infos[site_value]
            resources = {k.split(".", 1)[1]: _resource(k, v) for k, v in values.items()
                         if k.startswith("Resources.")}
            parameters = {k: v for k, v in values.items()
                          if k != "Site" and not k.startswith("Resources.")}
            typed = resolve_parameters(
                declared, {**base_spec.parameters, **base.parameters,
                           **{k: v for k, v in parameters.items() if not isinstance(v, _Text)}},
                {**base.parameter_texts,
                 **{k: str(v) for k, v in parameters.items() if isinstance(v, _Text)}})
            spec = base_spec.with_overrides({"Resources": resources, "Site": site})
            key = json.dumps([site, spec.resources], sort_keys=True, default=str)
            if key not in checked:
                validate(spec)
                checked[key] = None
        except MantikError as exc:
            raise ConfigError(f"{where}: {exc.message}", key=exc.key or "Sweep",
                              details={**exc.details, "point": number}) from None
        for repeat in range(request.sweep.repeat):
            points.append(PlannedPoint(len(points), shown, repeat, site, typed, spec))
    return SweepPlan(request, points, group(points, {s: m for s, m, _ in infos.values()}))


def group(points: list[PlannedPoint], max_array: dict[str, int]) -> list[ArrayGroup]:
    """Points with equal site and resources in one array, split at the site's limit."""
    groups: dict[str, list[PlannedPoint]] = {}
    for point in points:
        key = json.dumps([point.site, point.spec.resources], sort_keys=True, default=str)
        groups.setdefault(key, []).append(point)
    arrays = []
    for members in groups.values():
        limit = max(1, max_array.get(members[0].site, DEFAULT_MAX_ARRAY))
        for start in range(0, len(members), limit):
            chunk = members[start:start + limit]
            arrays.append(ArrayGroup(chunk[0].site, chunk[0].spec, chunk))
    return arrays


def _resource(key: str, value: Any) -> Any:
    name = key.split(".", 1)[1]
    if name not in RESOURCES:
        raise ConfigError(f"unknown sweep dimension {key!r}; resources: "
                          f"{', '.join('Resources.' + r for r in sorted(RESOURCES))}", key=key)
    if isinstance(value, _Text):
        value = yamltext.load(str(value), key) if str(value).strip() else str(value)
    return RESOURCES[name](value, key)


def _shown(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "no swept values"

