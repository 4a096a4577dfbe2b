"""The run store: one SQLite row per finished run (WAL mode), keyed by content.

Only the driver process writes (workers return their results), each finished run in its own
transaction, so killing the process loses at most the runs in flight. Transferable states of
runs that others start from are stored as ``.npz`` blobs in the same database, so transfer
runs can start from them after a resume or in another process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hetero.errors import HeteroError
from hetero.learners.base import TransferState, state_from_bytes, state_to_bytes

__all__ = ["RUN_COLUMNS", "RunRecord", "RunStore", "iso_utc"]

_SCHEMA_VERSION = 1

_COLUMNS: list[tuple[str, str]] = [
    ("key", "TEXT PRIMARY KEY"),
    ("status", "TEXT NOT NULL"),  # ok | failed | stale (its source body was retrained)
    ("kind", "TEXT NOT NULL"),  # scratch | transfer
    ("level", "TEXT NOT NULL"),  # modality | interaction
    ("unit", "TEXT NOT NULL"),
    ("source", "TEXT"),
    ("source_key", "TEXT"),
    ("seed", "INTEGER NOT NULL"),
    ("mode", "TEXT NOT NULL"),
    ("keep_head", "INTEGER NOT NULL"),
    ("max_epochs", "INTEGER"),
    ("learner", "TEXT NOT NULL"),
    ("learner_config", "TEXT NOT NULL"),
    ("val_loss", "REAL"),
    ("val_metric", "REAL"),
    ("metric", "TEXT"),
    ("curve", "TEXT"),
    ("epochs", "INTEGER"),
    ("best_epoch", "INTEGER"),
    ("converged", "INTEGER"),
    ("wall_time", "REAL"),
    ("versions", "TEXT"),
    ("info", "TEXT"),
    ("error", "TEXT"),
    ("attempts", "INTEGER NOT NULL"),
    ("finished", "REAL NOT NULL"),
]

#: Column names of the ``runs`` table, in order (``hetero runs --csv`` writes these).
RUN_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _COLUMNS)
_JSON_COLUMNS = {"learner_config", "curve", "versions", "info"}
_BOOL_COLUMNS = {"keep_head", "converged"}


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(obj)


@dataclass
class RunRecord:
    """A stored run (one row); fields as in :data:`RUN_COLUMNS`."""

    key: str
    status: str
    kind: str
    level: str
    unit: str
    seed: int
    learner: str
    learner_config: dict[str, Any]
    source: str | None = None
    source_key: str | None = None
    mode: str = "finetune"
    keep_head: bool = False
    max_epochs: int | None = None
    val_loss: float | None = None
    val_metric: float | None = None
    metric: str | None = None
    curve: list[float] = field(default_factory=list)
    epochs: int | None = None
    best_epoch: int | None = None
    converged: bool | None = None
    wall_time: float | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_row(self) -> tuple[Any, ...]:
        out = []
        for name in RUN_COLUMNS:
            value = getattr(self, name)
            if name in _JSON_COLUMNS:  # numpy scalars or other objects a learner returns
                value = json.dumps(value, sort_keys=True, default=_json_default)
            elif name in _BOOL_COLUMNS and value is not None:
                value = int(bool(value))
            out.append(value)
        return tuple(out)

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> RunRecord:
        values = dict(zip(RUN_COLUMNS, tuple(row), strict=True))
        for name in _JSON_COLUMNS:
            values[name] = json.loads(values[name]) if values[name] is not None else None
        for name in _BOOL_COLUMNS:
            if values[name] is not None:
                values[name] = bool(values[name])
        values["curve"] = values["curve"] or []
        values["versions"] = values["versions"] or {}
        values["info"] = values["info"] or {}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RUN_COLUMNS}

    def csv_cells(self) -> list[Any]:
        """The row ``hetero runs --csv`` writes, in :data:`RUN_COLUMNS` order.

        Dicts and lists as JSON; ``finished`` as ISO 8601 in UTC (:func:`iso_utc`);
        ``mode`` empty for a scratch run, which has none (the table shows ``-``).
        """
        cells: list[Any] = []
        for name in RUN_COLUMNS:
            value = getattr(self, name)
            if name == "finished":
                value = iso_utc(value)
            elif name == "mode" and self.kind != "transfer":
                value = ""
            elif isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True, default=_json_default)
            cells.append(value)
        return cells


def iso_utc(t: float | None) -> str:
    """A Unix time as ISO 8601 in UTC (``2026-01-31T12:00:00.123+00:00``); empty for none."""
    from datetime import datetime, timezone

    if not t:
        return ""
    return datetime.fromtimestamp(float(t), tz=timezone.utc).isoformat(timespec="milliseconds")


class RunStore:
    """SQLite store of finished runs (``runs.sqlite``), safe to reopen after a crash.

    Parameters
    ----------
    path : path-like
        Database file; created with its parent directory when missing.
    readonly : bool
        Open an existing store for reading only (``hetero runs``).
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            if not self.path.is_file():
                raise HeteroError("no run store here (expected runs.sqlite)", source=self.path)
            self._con = self._connect_readonly()
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
            except (OSError, sqlite3.Error) as exc:
                raise HeteroError(f"cannot open the run store ({exc})", source=self.path) from None
            self._setup()
        self._check_schema()

    def _connect_readonly(self) -> sqlite3.Connection:
        """A connection that writes nothing, not even ``-wal`` / ``-shm`` files.

        Without a ``-wal`` file no writer has the store open (a WAL connection keeps one), so
        the file is opened as immutable, which creates nothing beside it. With one (a writer
        at work, or one killed before its checkpoint) a plain read-only connection is needed
        to see the runs still in the log.
        """
        from urllib.parse import quote

        wal = self.path.with_name(self.path.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        uri = f"file:{quote(str(self.path.resolve()))}?{mode}"
        try:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise HeteroError(f"cannot open the run store ({exc})", source=self.path) from None

    def _setup(self) -> None:
        con = self._con
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            cols = ", ".join(f"{name} {decl}" for name, decl in _COLUMNS)
            with con:
                con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
                con.execute("CREATE TABLE IF NOT EXISTS states (key TEXT PRIMARY KEY, npz BLOB)")
                con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                con.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),)
                )
        except sqlite3.Error as exc:
            raise HeteroError(f"cannot write the run store ({exc})", source=self.path) from None

    def _check_schema(self) -> None:
        try:
            row = self._con.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise HeteroError(f"not a hetero run store ({exc})", source=self.path) from None
        if row is None or int(row[0]) != _SCHEMA_VERSION:
            raise HeteroError(
                f"run store schema {row[0] if row else 'missing'} is not {_SCHEMA_VERSION}",
                source=self.path,
            )

    # -- writing -----------------------------------------------------------------------------
    def put(self, record: RunRecord, state: TransferState | bytes | None = None) -> None:
        """Insert or replace a run (and its state) in one transaction."""
        record.finished = record.finished or time.time()
        marks = ", ".join("?" for _ in RUN_COLUMNS)
        blob = state if isinstance(state, (bytes, type(None))) else state_to_bytes(state)
        with self._con:
            self._con.execute(f"INSERT OR REPLACE INTO runs VALUES ({marks})", record.to_row())
            if blob is not None:
                self._con.execute("INSERT OR REPLACE INTO states VALUES (?, ?)", (record.key, blob))

    # -- reading -----------------------------------------------------------------------------
    def get(self, key: str) -> RunRecord | None:
        row = self._con.execute("SELECT * FROM runs WHERE key=?", (key,)).fetchone()
        return None if row is None else RunRecord.from_row(row)

    def records(self, *, status: str | None = None) -> list[RunRecord]:
        """All stored runs, oldest first (optionally only those with ``status``)."""
        sql = "SELECT * FROM runs"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status=?"
            args = (status,)
        return [RunRecord.from_row(r) for r in self._con.execute(sql + " ORDER BY finished", args)]

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.records())

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def has_state(self, key: str) -> bool:
        return self._con.execute("SELECT 1 FROM states WHERE key=?", (key,)).fetchone() is not None

    def state(self, key: str) -> TransferState:
        """The stored transferable state of run ``key``."""
        row = self._con.execute("SELECT npz FROM states WHERE key=?", (key,)).fetchone()
        if row is None:
            raise HeteroError(f"run {key[:12]} has no stored state", source=self.path)
        return state_from_bytes(row[0])

    def state_bytes(self, key: str) -> bytes | None:
        row = self._con.execute("SELECT npz FROM states WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
