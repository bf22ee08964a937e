"""The run store: SQLite (WAL) holding every run; the Jupyter side's single source of truth.

Every change is one transaction, so a crash leaves either the old or the new record. The
schema is versioned by ``PRAGMA user_version`` and upgraded by the migrations below.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError, NotFoundError, StoreError
from .runfilter import RunFilter, cursor_of
from .states import ACTIVE_STATES, RunState

MIGRATIONS: list[str] = [
    # 1: runs
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        site TEXT NOT NULL,
        notebook TEXT NOT NULL,
        state TEXT NOT NULL,
        native_state TEXT,
        reason TEXT,
        exit_code INTEGER,
        remote_job_id TEXT,
        work_dir TEXT,
        parameters TEXT NOT NULL DEFAULT '{}',
        spec TEXT NOT NULL DEFAULT '{}',
        script TEXT,
        bundle_hash TEXT,
        bytes_uploaded INTEGER NOT NULL DEFAULT 0,
        mlflow_run_id TEXT,
        mlflow_experiment_id TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        updated_at TEXT NOT NULL,
        parent_id TEXT,
        finalized INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
    CREATE INDEX runs_state ON runs (state, created_at DESC, id DESC);
    CREATE INDEX runs_site ON runs (site, created_at DESC, id DESC);
    CREATE INDEX runs_notebook ON runs (notebook, created_at DESC, id DESC);
    """,
    # 2: the request each run was submitted with (what a re-run replays), and the executed
    # notebook's path in the run's working directory (its one home)
    """
    ALTER TABLE runs ADD COLUMN request TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE runs ADD COLUMN output_notebook TEXT;
    UPDATE runs SET request = json_object(
        'notebook', notebook, 'site', site, 'config', json(spec),
        'parameters', json(parameters), 'parameter_texts', json('{}'), 'name', NULL,
        'parent_id', parent_id);
    UPDATE runs SET output_notebook =
        'mantik-output/' || replace(notebook, rtrim(notebook, replace(notebook, '/', '')), '')
    """,
    # 3: how far a submission has got while the run is SUBMITTING (null otherwise)
    """
    ALTER TABLE runs ADD COLUMN progress TEXT
    """,
    # 4: the CliMetLab data staged for the run: [{item, size, cached}]
    """
    ALTER TABLE runs ADD COLUMN data TEXT NOT NULL DEFAULT '[]';
    """,
    # 5: sweeps: a sweep is a run whose sweep_id is its own id; its points are runs with
    # its id as sweep_id and their index as point (kept apart from re-run lineage)
    """
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;
    ALTER TABLE runs ADD COLUMN point INTEGER;
    CREATE INDEX runs_sweep ON runs (sweep_id, point)
    """,
    # 6: recurring schedules and the occurrences each queued (its history, kept after
    # delete); one row per occurrence: an occurrence is never submitted twice
    """
    CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        site TEXT NOT NULL,
        notebook TEXT NOT NULL,
        request TEXT NOT NULL,
        bundle_hash TEXT,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        until TEXT,
        count INTEGER,
        catchup TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        anchor TEXT NOT NULL,
        next_time TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE schedule_runs (
        schedule_id TEXT NOT NULL,
        occurrence TEXT NOT NULL,
        run_id TEXT NOT NULL,
        queued_at TEXT NOT NULL,
        PRIMARY KEY (schedule_id, occurrence)
    )
    """,
    # 7: why an ended run's finalization waits (its failed attempts, the cause, when it is
    # retried), null while none failed
    """
    ALTER TABLE runs ADD COLUMN finalizing TEXT
    """,
]

_JSON_FIELDS = ("parameters", "spec", "request", "progress", "data", "finalizing")
#: JSON columns that may be null (null in the run's JSON too, not {})
_NULLABLE_JSON = ("progress", "finalizing")
#: Columns the engine keeps for itself, not part of a run's JSON.
_PRIVATE = ("finalized", "request")


def now() -> str:
    """UTC timestamp in ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Run:
    """One submission of a notebook to a site, as the store and every face see it."""

    id: str
    name: str
    site: str
    notebook: str
    state: str = RunState.SUBMITTING.value
    native_state: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    remote_job_id: str | None = None
    work_dir: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    script: str | None = None
    bundle_hash: str | None = None
    bytes_uploaded: int = 0
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    ended_at: str | None = None
    updated_at: str = field(default_factory=now)
    parent_id: str | None = None
    finalized: int = 0
    #: the resolved SubmitRequest's JSON, replayed by a re-run
    request: dict[str, Any] = field(default_factory=dict)
    #: where the executed notebook is written, relative to the working directory
    output_notebook: str | None = None
    #: how far the submission has got (:class:`~.progress.Snapshot`), while SUBMITTING
    progress: dict[str, Any] | None = None
    #: the CliMetLab data staged for the run: ``{item, size, cached}`` each
    data: list[dict[str, Any]] = field(default_factory=list)
    #: the sweep this run belongs to (a sweep's own record holds its own id)
    sweep_id: str | None = None
    #: this run's index among its sweep's points (None: not a point)
    point: int | None = None
    #: its finalization failed: ``{attempts, error, retry_at}`` (None: none failed)
    finalizing: dict[str, Any] | None = None

    @property
    def run_state(self) -> RunState:
        return RunState(self.state)

    @property
    def is_sweep(self) -> bool:
        """True for a sweep's own record (its points are runs of their own)."""
        return self.sweep_id is not None and self.sweep_id == self.id

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (the shape the CLI and REST API return).

        Built field by field: ``dataclasses.asdict`` deep-copies and costs several times
        more on a page of runs."""
        return {name: getattr(self, name) for name in _PUBLIC}


_COLUMNS = tuple(f.name for f in fields(Run))
_PUBLIC = tuple(name for name in _COLUMNS if name not in _PRIVATE)
# SQL for the members of the JSON object Run.to_dict() gives (JSON columns embedded as JSON)
_JSON_MEMBERS = ", ".join(
    f"'{name}', json({name})" if name in _NULLABLE_JSON
    else f"'{name}', json(coalesce(nullif({name}, ''), '{{}}'))" if name in _JSON_FIELDS
    else f"'{name}', {name}" for name in _PUBLIC)

ALL = RunFilter()

# A member added to a run's JSON by SQL: (key, expression over the run's columns, arguments)
Member = tuple[str, str, tuple[Any, ...]]


def _json_object(members: Sequence[Member]) -> tuple[str, list[Any]]:
    """SQL (and its arguments) for a run as JSON: Run.to_dict()'s keys, then ``members``."""
    sql = "".join(f", ?, {expression}" for _, expression, _ in members)
    args = [value for key, _, values in members for value in (key, *values)]
    return f"json_object({_JSON_MEMBERS}{sql})", args


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """What a failure of SQLite on the run store means for the user, naming the file."""
    text = str(exc)
    if "full" in text:
        message = (f"no space left on the disk holding the run store {path}: free some space "
                   "and retry")
    elif "readonly" in text or "read-only" in text:
        message = (f"the run store {path} cannot be written ({text}): make it and its folder "
                   "writable, or use another home (MANTIK_JUPYTER_HOME)")
    elif "not a database" in text or "malformed" in text:
        message = (f"the run store {path} is damaged ({text}): move it aside (mv {path} "
                   f"{path}.damaged) to start an empty one, or restore a backup of it")
    else:
        message = f"the run store {path} cannot be used: {text}"
    return StoreError(message, key="store")


class RunStore:
    """Thread-safe access to the runs table of one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._writes = 0  # commits through this connection (data_version ignores them)
        self._counts: dict[str, tuple[tuple[int, int], int]] = {}
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        self._migrate()
        self.path.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite's failures (full disk, read-only file, damage)
        become a StoreError naming the file and what to do."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                raise store_error(self.path, exc) from None
            self._writes += 1

    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"the run store {self.path} was written by a newer mantik-jupyter (schema "
                    f"{version}; this one knows up to {len(MIGRATIONS)}): upgrade "
                    "mantik-jupyter, or use another home (MANTIK_JUPYTER_HOME)",
                    key="store")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    # ------------------------------------------------------------------ reads
    def get(self, run_id: str) -> Run:
        """The run with this id or unique id prefix; NotFoundError otherwise."""
        with self._lock:
            runs = self._runs("SELECT * FROM runs WHERE id = ?", [run_id])
            if not runs and run_id:
                runs = self._runs("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                                  [_like_prefix(run_id)])
                if len(runs) > 1:
                    raise ConfigError(f"run id prefix {run_id!r} is ambiguous", key="run")
        if not runs:
            raise NotFoundError(f"no run with id {run_id!r}", key="run")
        return runs[0]

    def exists(self, run_id: str) -> bool:
        """True if a run has exactly this id."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM runs WHERE id = ?",
                                      [run_id]).fetchone() is not None

    def _runs(self, sql: str, args: list[Any]) -> list[Run]:
        """Runs of a SELECT * query (rows zipped with the column names: cheaper than Row)."""
        with self._lock:
            cursor = self._conn.execute(sql, args)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        return [_from_values(dict(zip(names, row, strict=True))) for row in rows]

    def list(self, run_filter: RunFilter = ALL) -> list[Run]:
        """The runs of a filter's page, newest first (or oldest first).

        The cursor is a keyset one, the (created_at, id) of the last run of the previous
        page: a deep page costs what the first one does.
        """
        sql, args = self._page_query("*", run_filter, run_filter.limit)
        return self._runs(sql, args)

    def page_json(self, run_filter: RunFilter, members: Sequence[Member] = ()) -> str:
        """A page of runs as the JSON text ``{runs, total, next_cursor}``.

        SQLite writes each run's JSON (Run.to_dict()'s keys and values, then ``members``):
        a page for the REST API costs a fraction of decoding rows into Runs and encoding
        them.
        """
        obj, obj_args = _json_object(members)
        limit = run_filter.limit
        sql, args = self._page_query(f"{obj}, created_at, id", run_filter,
                                     None if limit is None else limit + 1)
        with self._lock:
            rows = self._conn.execute(sql, obj_args + args).fetchall()
        cursor = None
        if limit is not None and len(rows) > limit:
            cursor = cursor_of(*rows[limit - 1][1:])
            rows = rows[:limit]
        runs = ",".join(text for text, *_ in rows)
        return (f'{{"runs":[{runs}],"total":{self.count(run_filter)},'
                f'"next_cursor":{json.dumps(cursor)}}}')

    def get_json(self, run_id: str, members: Sequence[Member] = ()) -> str:
        """The run with exactly this id as JSON text, like one run of :meth:`page_json`."""
        obj, args = _json_object(members)
        with self._lock:
            row = self._conn.execute(f"SELECT {obj} FROM runs WHERE id = ?",
                                     [*args, run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no run with id {run_id!r}", key="run")
        return row[0]

    def _page_query(self, columns: str, run_filter: RunFilter,
                    limit: int | None) -> tuple[str, list[Any]]:
        where, args = self._filters(run_filter)
        after = run_filter.after
        if after:
            where.append(f"(created_at, id) {'>' if run_filter.oldest_first else '<'} (?, ?)")
            args.extend(after)
        sql = f"SELECT {columns} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        direction = "ASC" if run_filter.oldest_first else "DESC"
        sql += f" ORDER BY created_at {direction}, id {direction}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return sql, args

    def count(self, run_filter: RunFilter = ALL) -> int:
        """How many runs match the filter's conditions (its page aside).

        Cached per filter until the table changes (``data_version`` tells of other
        processes' commits, ``_writes`` of ours): the lab asks for the same count on every
        poll, and counting a large table is the one read an index does not make cheap.
        """
        key = repr(run_filter.where)
        with self._lock:
            version = (self._conn.execute("PRAGMA data_version").fetchone()[0], self._writes)
            cached = self._counts.get(key)
            if cached and cached[0] == version:
                return cached[1]
            where, args = self._filters(run_filter)
            sql = "SELECT COUNT(*) FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
            total = self._conn.execute(sql, args).fetchone()[0]
            if len(self._counts) >= 64:
                self._counts.clear()
            self._counts[key] = (version, total)
        return total

    @staticmethod
    def _filters(run_filter: RunFilter) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        if run_filter.states:
            where.append(f"state IN ({','.join('?' * len(run_filter.states))})")
            args.extend(run_filter.states)
        if run_filter.site:
            where.append("site = ?")
            args.append(run_filter.site)
        if run_filter.notebook:
            where.append("notebook = ?")
            args.append(run_filter.notebook)
        if run_filter.text:
            where.append("(name LIKE ? ESCAPE '\\' OR notebook LIKE ? ESCAPE '\\' OR id LIKE ?"
                         " ESCAPE '\\')")
            pattern = "%" + _like_escape(run_filter.text) + "%"
            args.extend([pattern, pattern, pattern])
        if not run_filter.points:
            where.append("(sweep_id IS NULL OR sweep_id = id)")
        if run_filter.sweep:
            where.append("sweep_id = ? AND id != ?")
            args.extend([run_filter.sweep, run_filter.sweep])
        return where, args

    def active(self) -> list[Run]:
        """Runs whose job may still change."""
        return self.list(RunFilter(states=tuple(s.value for s in ACTIVE_STATES)))

    def points(self, sweep_id: str) -> list[Run]:
        """The point runs of a sweep, by index."""
        return self._runs("SELECT * FROM runs WHERE sweep_id = ? AND id != ? ORDER BY point",
                          [sweep_id, sweep_id])

    def unfinalized(self, due: str) -> list[Run]:
        """Terminal runs whose results were not yet logged to tracking, but for those whose
        failed finalization is to be retried only after ``due`` (a time)."""
        terminal = [s.value for s in RunState if s.terminal]
        return self._runs(
            f"SELECT * FROM runs WHERE finalized = 0 AND state IN "
            f"({','.join('?' * len(terminal))}) AND (finalizing IS NULL OR "
            "json_extract(finalizing, '$.retry_at') <= ?)",
            [*terminal, due],
        )

    # ------------------------------------------------------------------ writes
    def insert(self, run: Run) -> Run:
        """Add a new run record."""
        return self.insert_many([run])[0]

    def insert_many(self, runs: list[Run]) -> list[Run]:
        """Add new run records in one transaction (a sweep's points): all or none."""
        rows = [_to_row(run) for run in runs]
        if rows:
            with self._transaction() as conn:
                conn.executemany(
                    f"INSERT INTO runs ({','.join(rows[0])}) "
                    f"VALUES ({','.join('?' * len(rows[0]))})",
                    [list(row.values()) for row in rows])
        return runs

    def update_many(self, changes: dict[str, dict[str, Any]]) -> None:
        """Change fields of several runs (by id) in one transaction, all or none."""
        with self._transaction() as conn:
            for run_id, fields in changes.items():
                row = _changed_row(fields)
                cur = conn.execute(
                    f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                    [*row.values(), run_id])
                if cur.rowcount == 0:
                    raise NotFoundError(f"no run with id {run_id!r}", key="run")

    def update(self, run_id: str, /, **changes: Any) -> Run:
        """Change fields of one run atomically and return the new record."""
        run = self._update(run_id, None, changes)
        if run is None:
            raise NotFoundError(f"no run with id {run_id!r}", key="run")
        return run

    def update_if(self, run_id: str, when: str, /, **changes: Any) -> Run | None:
        """Change fields of one run only while its state is still ``when`` (None if it is
        not): a recovery never overwrites what another process wrote meanwhile."""
        return self._update(run_id, when, changes)

    def _update(self, run_id: str, state: str | None, changes: dict[str, Any]) -> Run | None:
        row = _changed_row(changes)
        where, args = "id = ?", [run_id]
        if state is not None:
            where, args = "id = ? AND state = ?", [run_id, state]
        with self._transaction() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE {where}",
                [*row.values(), *args],
            )
            if cur.rowcount == 0:
                return None
            return self._runs("SELECT * FROM runs WHERE id = ?", [run_id])[0]

    def claim_finalize(self, run_id: str) -> bool:
        """Mark a terminal run as being finalized; False if another process got there first."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET finalized = 1 WHERE id = ? AND finalized = 0", (run_id,)
            )
        return cur.rowcount == 1

    def delete(self, run_id: str) -> None:
        """Remove a run record."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(text: str) -> str:
    return _like_escape(text) + "%"


def _changed_row(changes: dict[str, Any]) -> dict[str, Any]:
    """The columns an update writes (``updated_at`` too); unknown fields are refused."""
    unknown = set(changes) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"unknown run fields: {sorted(unknown)}")
    return _to_row_partial({**changes, "updated_at": now()})


def _to_row_partial(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_column(k, v) if k in _JSON_FIELDS and not (v is None and k in
            _NULLABLE_JSON) else v for k, v in values.items()}


def _json_column(name: str, value: Any) -> str:
    """A JSON column's text; NaN and infinity are refused (not JSON: SQLite rejects them)."""
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        raise ConfigError(f"{name} holds a NaN or infinite number; use a finite number or a "
                          f"string such as 'nan'", key=name) from None


def _to_row(run: Run) -> dict[str, Any]:
    return _to_row_partial({name: getattr(run, name) for name in _COLUMNS})


def _from_values(values: dict[str, Any]) -> Run:
    for name in _JSON_FIELDS:
        text = values[name]
        values[name] = None if not text and name in _NULLABLE_JSON else json.loads(text or "{}")
    return Run(**values)


@dataclass
class ScheduleRecord:
    """A recurring schedule: the request each occurrence replays (its project snapshot's
    notebook), the cron, zone and end, and whether it is paused or deleted."""

    id: str
    name: str
    site: str
    notebook: str
    request: dict[str, Any]
    cron: str
    timezone: str
    catchup: str
    anchor: str  # occurrences at or before this time are never caught up (creation, resume)
    bundle_hash: str | None = None
    until: str | None = None
    count: int | None = None
    paused: int = 0
    deleted: int = 0
    next_time: str | None = None
    last_error: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        """The schedule as the CLI and REST API show it (its stored request aside)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "request"}
        data["paused"], data["deleted"] = bool(self.paused), bool(self.deleted)
        return data


@dataclass(frozen=True)
class Occurrence:
    """One occurrence a schedule queued: its time and the run it became."""

    occurrence: str
    run_id: str
    queued_at: str


class ScheduleStore:
    """The schedules tables, in the run store's database and transactions."""

    def __init__(self, runs: RunStore):
        self._runs = runs

    def insert(self, record: ScheduleRecord) -> ScheduleRecord:
        row = {f.name: getattr(record, f.name) for f in fields(record)}
        row["request"] = _json_column("request", row["request"])
        with self._runs._transaction() as conn:
            conn.execute(f"INSERT INTO schedules ({','.join(row)}) VALUES "
                         f"({','.join('?' * len(row))})", list(row.values()))
        return record

    def get(self, schedule_id: str) -> ScheduleRecord:
        """The schedule with this id or unique id prefix (deleted ones too)."""
        found = self._select("WHERE id = ?", [schedule_id])
        if not found and schedule_id:
            found = self._select("WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                                 [_like_prefix(schedule_id)])
            if len(found) > 1:
                raise ConfigError(f"schedule id prefix {schedule_id!r} is ambiguous",
                                  key="schedule")
        if not found:
            raise NotFoundError(f"no schedule with id {schedule_id!r}", key="schedule")
        return found[0]

    def list(self, deleted: bool = False) -> list[ScheduleRecord]:
        """Schedules, newest first; deleted ones only when asked."""
        where = "" if deleted else "WHERE deleted = 0"
        return self._select(f"{where} ORDER BY created_at DESC, id DESC", [])

    def _select(self, tail: str, args: list[Any]) -> list[ScheduleRecord]:
        with self._runs._lock:
            cursor = self._runs._conn.execute(f"SELECT * FROM schedules {tail}", args)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        records = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            values["request"] = json.loads(values["request"])
            records.append(ScheduleRecord(**values))
        return records

    def update(self, schedule_id: str, /, **changes: Any) -> ScheduleRecord:
        """Change fields of one schedule atomically and return the new record."""
        changes["updated_at"] = now()
        with self._runs._transaction() as conn:
            conn.execute(f"UPDATE schedules SET {', '.join(f'{k} = ?' for k in changes)} "
                         "WHERE id = ?", [*changes.values(), schedule_id])
        return self.get(schedule_id)

    def delete(self, schedule_id: str) -> None:
        """Remove a schedule and its history (only a schedule that never queued a run)."""
        with self._runs._transaction() as conn:
            conn.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))
            conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))

    def add_occurrence(self, schedule_id: str, occurrence: str, run_id: str) -> None:
        """Record the run an occurrence became (once: a second record is ignored)."""
        with self._runs._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO schedule_runs VALUES (?, ?, ?, ?)",
                         (schedule_id, occurrence, run_id, now()))

    def occurrences(self, schedule_id: str) -> list[Occurrence]:
        """What a schedule queued, the latest occurrence first."""
        with self._runs._lock:
            rows = self._runs._conn.execute(
                "SELECT occurrence, run_id, queued_at FROM schedule_runs WHERE schedule_id = ? "
                "ORDER BY occurrence DESC", (schedule_id,)).fetchall()
        return [Occurrence(*row) for row in rows]
