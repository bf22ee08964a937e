"""A sweep's results: one row per point, read with one MLflow search, ranked by objective.

Also what re-running a sweep replays: the whole sweep, or only its failed points.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import ConflictError
from .request import RerunChanges, without_schedule
from .states import RunState
from .store import Run
from .sweeps import SweepRequest
from .tracking import Tracker


def sweep_results(sweep: Run, points: list[Run], tracker: Tracker,
                  sort: str | None = None) -> dict[str, Any]:
    """``{sweep, objective, metric, goal, rows}``: rows sorted by ``sort`` or the
    objective's metric (points without it last), the best completed row marked."""
    metrics = tracker.sweep_metrics(sweep.mlflow_experiment_id, sweep.id) if (
        sweep.mlflow_experiment_id) else {}
    objective = (sweep.spec.get("Sweep") or {}).get("Objective") or {}
    metric = sort or objective.get("Metric")
    goal = objective.get("Goal", "minimize") if metric == objective.get("Metric") else (
        "minimize")
    rows = [{"point": p.point, "run_id": p.id, "state": p.state, "reason": p.reason,
             "site": p.site, "parameters": p.parameters, "duration": _duration(p),
             "metrics": metrics.get(p.mlflow_run_id or "", {}), "best": False}
            for p in points]
    if metric:
        ranked = [r for r in rows if isinstance(r["metrics"].get(metric), (int, float))]
        rest = [r for r in rows if r not in ranked]
        ranked.sort(key=lambda r: r["metrics"][metric], reverse=goal == "maximize")
        # a point that failed or is still running may have logged a fine value on its way
        best = next((r for r in ranked if r["state"] == RunState.COMPLETED), None)
        if best:
            best["best"] = True
        rows = ranked + rest
    return {"sweep": sweep.id, "state": sweep.state, "metric": metric, "goal": goal,
            "rows": rows}


def results_csv(results: dict[str, Any]) -> str:
    """The rows as CSV: point, state, site, duration, each parameter, each metric, best."""
    import csv
    import io

    rows = results["rows"]
    params = sorted({k for r in rows for k in r["parameters"]})
    metrics = sorted({k for r in rows for k in r["metrics"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["point", "run_id", "state", "site", "duration", *params, *metrics, "best"])
    for r in rows:
        writer.writerow([r["point"], r["run_id"], r["state"], r["site"], r["duration"],
                         *(r["parameters"].get(k) for k in params),
                         *(r["metrics"].get(k) for k in metrics), "*" if r["best"] else ""])
    return out.getvalue()


def results_table(results: dict[str, Any]) -> str:
    """The rows as a text table for the terminal, the best marked with ``*``."""
    rows = results["rows"]
    params = sorted({k for r in rows for k in r["parameters"]})
    metrics = sorted({k for r in rows for k in r["metrics"]})
    header = ["", "POINT", "STATE", *params, *metrics, "DURATION"]
    lines = [[("*" if r["best"] else ""), str(r["point"]), r["state"],
              *(str(r["parameters"].get(k, "")) for k in params),
              *(_number(r["metrics"].get(k)) for k in metrics),
              "" if r["duration"] is None else f"{r['duration']:.0f}s"] for r in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in [header, *lines])


def rerun_sweep(sweep: Run, points: list[Run], changes: RerunChanges) -> SweepRequest:
    """The sweep's request again (``failed``: only its points that did not complete, each
    once, as explicit points), linked to the sweep by ``rerun_of``."""
    request = SweepRequest.from_json(sweep.request, lambda path, _key: Path(path))
    config = without_schedule(request.base.spec.config)
    request = replace(request, rerun_of=sweep.id, base=replace(request.base, config=config))
    if not changes.failed:
        return request
    failed = [p for p in points if RunState(p.state).terminal and p.state != "COMPLETED"]
    if not failed:
        raise ConflictError(f"sweep {sweep.id} has no failed points to re-run", key="failed")
    swept = {*request.sweep.grid, *request.text_grid,
             *(k for p in request.sweep.points for k in p)}
    chosen = []
    for point in failed:
        values: dict[str, Any] = {}
        for name in swept:
            if name == "Site":
                values[name] = point.site
            elif name.startswith("Resources."):
                values[name] = point.spec.get("Resources", {}).get(name.split(".", 1)[1])
            else:
                values[name] = point.parameters.get(name)
        chosen.append(values)
    sweep_spec = replace(request.sweep, grid={}, points=chosen, repeat=1)
    return replace(request, sweep=sweep_spec, text_grid={})


def _duration(run: Run) -> float | None:
    if not (run.started_at and run.ended_at):
        return None
    return (datetime.fromisoformat(run.ended_at)
            - datetime.fromisoformat(run.started_at)).total_seconds()


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)
