"""A sweep's results as ``%mantik_results`` returns them: a pandas DataFrame when pandas is
installed, else a list of dicts that prints as a text table.

One row per point in the engine's order (by the objective, the best first), flat columns
named as MLflow's own ``search_runs`` frames name them (``params.lr``, ``metrics.loss``).
"""

from __future__ import annotations

from typing import Any

#: the columns of every row; ``params.*`` and ``metrics.*`` columns go between
FIRST = ("best", "point", "state")
LAST = ("duration", "site", "run_id", "reason")


def flat_rows(results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names and one flat dict per point (every point has every column)."""
    rows = results["rows"]
    params = sorted({k for r in rows for k in r["parameters"]})
    metrics = sorted({k for r in rows for k in r["metrics"]})
    columns = [*FIRST, *(f"params.{k}" for k in params), *(f"metrics.{k}" for k in metrics),
               *LAST]
    flat = [{"best": r["best"], "point": r["point"], "state": r["state"],
             **{f"params.{k}": r["parameters"].get(k) for k in params},
             **{f"metrics.{k}": r["metrics"].get(k) for k in metrics},
             "duration": r["duration"], "site": r["site"], "run_id": r["run_id"],
             "reason": r["reason"]} for r in rows]
    return columns, flat


def results_of(results: dict[str, Any]) -> Any:
    """A DataFrame of the points (``attrs``: sweep, metric, goal) if pandas can be
    imported, else a :class:`ResultList`."""
    columns, flat = flat_rows(results)
    try:
        import pandas
    except ImportError:
        return ResultList(flat, columns, results)
    frame = pandas.DataFrame(flat, columns=columns)
    frame.attrs.update(sweep=results["sweep"], metric=results["metric"], goal=results["goal"])
    return frame


class ResultList(list):
    """The points as flat dicts, best first; prints as a text table, the best marked ``*``."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str], results: dict[str, Any]):
        super().__init__(rows)
        self.columns = columns
        self.sweep, self.metric, self.goal = results["sweep"], results["metric"], results["goal"]

    def __repr__(self) -> str:
        ranked = f"ranked by {self.metric} ({self.goal})" if self.metric else "no objective"
        header = [c for c in self.columns if c != "best"]
        lines = [["*" if row["best"] else "", *(_cell(row[c]) for c in header)]
                 for row in self]
        table = [["", *header], *lines]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        return "\n".join([f"sweep {self.sweep}: {len(self)} point(s), {ranked}",
                          *("  ".join(cell.ljust(width) for cell, width in
                                      zip(row, widths, strict=True)).rstrip()
                            for row in table)])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
