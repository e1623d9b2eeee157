"""The registry's SQLite database (IceGrid.Registry.Data, default var/registry): deployed
applications and their history, nodes, and each server's enabled flag and last exit.

Layout of the directory::

    registry.db            the database (WAL journal: registry.db-wal, registry.db-shm beside it)
    registry.lock          flock'ed by the one registry that owns the directory; holds its pid
    registry.db.corrupt-*  a corrupt database moved aside by `open(..., recover=True)`

Decisions, and why:

* **One owner.** `open` takes an exclusive, non-blocking `fcntl.flock` on `registry.lock` before it
  touches the database, and writes its pid there. A second registry fails at once, naming that pid.
  The kernel drops a flock when its holder dies, even by SIGKILL, so a lock left by a dead registry
  never blocks the next start: there is nothing to clean up by hand (OMERO's `rm -rf var/master`).
  The descriptor is close-on-exec, so servers the registry spawns do not inherit the lock.
* **Durability.** WAL with `synchronous=NORMAL`: a commit is in the WAL when `commit()` returns, so
  a process crash (kill -9) loses nothing committed; only an OS crash or power cut can lose the
  last few commits, and never corrupts the file. Exits, enable flags and node sightings are
  frequent and are re-learnt from nodes, so they do not pay an fsync each. Deploys are rare and
  are what the registry tells nodes about, so `deploy` runs with `synchronous=FULL` (an fsync of
  the WAL at commit): a deploy a node has heard of is on disk.
* **Threads.** The registry is one asyncio loop calling these methods through `asyncio.to_thread`,
  so calls arrive on any executor thread. One connection (`check_same_thread=False`) guarded by a
  lock: every method holds the lock for its whole transaction, so transactions never interleave.
  Calls are short and the registry is the only writer, so a lock is simpler than a dedicated
  thread with a queue and costs nothing measurable.
* **Atomicity.** Each public method is one transaction (`BEGIN IMMEDIATE` ... `COMMIT`, rolled back
  on any error). Inputs are checked before the transaction starts: bad input writes nothing.
* **Versions.** `PRAGMA user_version` is the schema version; `MIGRATIONS` is the ordered list of
  steps, each run in its own transaction together with its version bump. A database from a newer
  Shoal is refused, naming both versions. Keep a database of every released version under
  tests/unit/registry/data/ and test the upgrade from it.
* **Corruption.** `open` runs `PRAGMA quick_check`. A file that is not a database, or fails the
  check, is refused with an error naming it; with `recover=True` it is moved aside (with its WAL)
  to `registry.db.corrupt-<UTC time>` and an empty database is created in its place.
* **Descriptors are stored as the canonical XML text** the descriptor writer prints, never as
  pickles, so a database stays readable across Shoal versions and by a human with `sqlite3`.
* **Time is an argument**: methods take `now` (seconds since the epoch) and never read a clock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from shoal.errors import (
    DatabaseCorruptError,
    DatabaseInUseError,
    DatabaseVersionError,
    RegistryDatabaseError,
    RevisionConflictError,
)

__all__ = [
    "DATABASE_FILE",
    "DEFAULT_HISTORY_LIMIT",
    "LOCK_FILE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DisabledBy",
    "Migration",
    "RegistryDatabase",
    "ServerExit",
    "StoredApplication",
    "StoredNode",
    "StoredServer",
]

DATABASE_FILE = "registry.db"
LOCK_FILE = "registry.lock"
DEFAULT_HISTORY_LIMIT = 10
BUSY_TIMEOUT_MS = 5000
DATA_PROPERTY = "IceGrid.Registry.Data"

_T = TypeVar("_T")


# --------------------------------------------------------------------------- records


class DisabledBy(StrEnum):
    """Who disabled a server: an administrator, or the node after repeated failures."""

    USER = "user"
    FAILURE = "failure"


@dataclass(frozen=True)
class StoredApplication:
    """One revision of a deployed application, as `deploy` wrote it."""

    name: str
    descriptor_xml: str
    source: str
    targets: tuple[str, ...]
    variables: Mapping[str, str]
    revision: int
    deployed_by: str
    deployed_at: float


@dataclass(frozen=True)
class StoredNode:
    """A node as it last registered, and when the registry last heard from it."""

    name: str
    hostname: str
    os: str
    endpoints: str
    version: str
    registered_at: float
    last_seen: float


@dataclass(frozen=True)
class ServerExit:
    """How a server's process last ended: an exit code or a signal, and a readable description."""

    code: int | None
    signal: int | None
    description: str
    at: float


@dataclass(frozen=True)
class StoredServer:
    """A deployed server's persistent state: where it runs, whether enabled, how it last exited."""

    server_id: str
    application: str
    node: str
    enabled: bool = True
    disabled_by: DisabledBy | None = None
    disabled_reason: str = ""
    last_exit: ServerExit | None = None
    restart_count: int = 0


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Migration:
    """One schema step: `apply` runs inside the transaction that also sets user_version."""

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None] = field(repr=False)


_SCHEMA_V1 = (
    """
    CREATE TABLE applications (
        name            TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
        descriptor_xml  TEXT NOT NULL,
        source          TEXT NOT NULL,      -- the file the descriptor was deployed from
        targets         TEXT NOT NULL,      -- JSON array of target names
        variables       TEXT NOT NULL,      -- JSON object of deploy-time variables
        revision        INTEGER NOT NULL CHECK (revision >= 1),
        deployed_by     TEXT NOT NULL,
        deployed_at     REAL NOT NULL
    )
    """,
    # Every revision deployed, the current one included, bounded per application. Rows outlive
    # `remove_application` so that a removed application can be looked at (and redeployed), and
    # so that revisions keep growing if an application of the same name comes back.
    """
    CREATE TABLE application_history (
        name            TEXT NOT NULL,
        revision        INTEGER NOT NULL,
        descriptor_xml  TEXT NOT NULL,
        source          TEXT NOT NULL,
        targets         TEXT NOT NULL,
        variables       TEXT NOT NULL,
        deployed_by     TEXT NOT NULL,
        deployed_at     REAL NOT NULL,
        PRIMARY KEY (name, revision)
    )
    """,
    """
    CREATE TABLE nodes (
        name            TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
        hostname        TEXT NOT NULL,
        os              TEXT NOT NULL,
        endpoints       TEXT NOT NULL,
        version         TEXT NOT NULL,
        registered_at   REAL NOT NULL,
        last_seen       REAL NOT NULL
    )
    """,
    # No foreign key to nodes: a descriptor may name a node that has not registered yet.
    """
    CREATE TABLE servers (
        server_id               TEXT PRIMARY KEY NOT NULL CHECK (server_id <> ''),
        application             TEXT NOT NULL
                                REFERENCES applications (name) ON DELETE CASCADE,
        node                    TEXT NOT NULL,
        enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        disabled_by             TEXT CHECK (disabled_by IN ('user', 'failure')),
        disabled_reason         TEXT NOT NULL DEFAULT '',
        last_exit_code          INTEGER,
        last_exit_signal        INTEGER,
        last_exit_description   TEXT,
        last_exit_at            REAL,
        restart_count           INTEGER NOT NULL DEFAULT 0,
        CHECK ((enabled = 1) = (disabled_by IS NULL))
    )
    """,
    "CREATE INDEX servers_by_application ON servers (application)",
)


def _migrate_to_v1(connection: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        connection.execute(statement)


# Append only: never edit a released step. A new step gets the next version, and a database file
# of the version before it goes under tests/unit/registry/data/ (see the tests there).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "applications, history, nodes and servers", _migrate_to_v1),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


# --------------------------------------------------------------------------- input checks


def _bad(what: str, problem: str) -> RegistryDatabaseError:
    return RegistryDatabaseError(
        f"registry database: {what} {problem}; nothing was written",
        "this is a bug in the caller of the registry database; please report it",
    )


def _text(what: str, value: object, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _bad(what, f"must be a string, not {type(value).__name__}")
    if not empty and not value:
        raise _bad(what, "must not be empty")
    return value


def _time(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(what, f"must be a finite number of seconds, not {value!r}")
    return float(value)


def _optional_int(what: str, value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(what, f"must be an integer or None, not {value!r}")
    return value


def _string_map(what: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _bad(what, f"must be a mapping, not {type(value).__name__}")
    result: dict[str, str] = {}
    for key, item in value.items():
        result[_text(f"a key of {what}", key)] = _text(f"{what}[{key!r}]", item, empty=True)
    return result


def _targets(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _bad("targets", f"must be a sequence of names, not {type(value).__name__}")
    return tuple(_text("a target", target) for target in value)


# --------------------------------------------------------------------------- the database


class RegistryDatabase:
    """The open registry database of one directory, owned by this process until `close`."""

    def __init__(
        self,
        directory: Path,
        connection: sqlite3.Connection,
        lock_fd: int,
        history_limit: int,
    ) -> None:
        """Use `RegistryDatabase.open`; this only wires up what it prepared."""
        self.directory = directory
        self.path = directory / DATABASE_FILE
        self.history_limit = history_limit
        self._connection = connection
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()
        self._closed = False
        # The thread running a `batch`, and the first SQLite error in it (it fails them all).
        self._batch_thread: int | None = None
        self._batch_error: RegistryDatabaseError | None = None

    # ---------------------------------------------------------------- opening and closing

    @classmethod
    def open(
        cls,
        directory: Path | str,
        *,
        recover: bool = False,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        now: float | None = None,
    ) -> RegistryDatabase:
        """Open (creating if needed) the registry database in `directory`, and own it.

        Fails with DatabaseInUseError if another live registry owns it, DatabaseVersionError if a
        newer Shoal wrote it, DatabaseCorruptError if it is unreadable, unless `recover` is true:
        then a corrupt file is moved aside to `registry.db.corrupt-<now as UTC>` and a new empty
        database is made. `now` only names that file (the clock is read if it is not given).
        """
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise _bad("history_limit", f"must be an integer, not {history_limit!r}")
        if history_limit < 1:
            raise _bad("history_limit", f"must be at least 1, not {history_limit}")
        directory = Path(directory)
        _make_directory(directory)
        lock_fd = _lock(directory)
        try:
            connection = _connect(directory / DATABASE_FILE, recover=recover, now=now)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(directory, connection, lock_fd, history_limit)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL) and give up ownership. Idempotent."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            try:
                self._connection.close()
            finally:
                os.close(self._lock_fd)

    def __enter__(self) -> RegistryDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open database (always `SCHEMA_VERSION` once open)."""
        return self._read(lambda c: int(c.execute("PRAGMA user_version").fetchone()[0]))

    # ---------------------------------------------------------------- applications

    def deploy(
        self,
        name: str,
        *,
        descriptor_xml: str,
        source: str,
        targets: Sequence[str],
        variables: Mapping[str, str],
        server_nodes: Mapping[str, str],
        deployed_by: str,
        now: float,
        expected_revision: int | None = None,
    ) -> int:
        """Store a new revision of application `name` and its servers; return the revision.

        `server_nodes` maps each server id of the expanded application to its node. Servers no
        longer in it are deleted; new ones are inserted enabled; kept ones keep their enabled
        flag, last exit and restart count (and move if their node changed). With
        `expected_revision` (0 for "not deployed yet"), a different current revision raises
        RevisionConflictError. All or nothing: on any error the previous revision is intact.
        """
        name = _text("application name", name)
        descriptor_xml = _text("descriptor_xml", descriptor_xml)
        source = _text("source", source, empty=True)
        target_names = _targets(targets)
        variable_values = _string_map("variables", variables)
        placement = _string_map("server_nodes", server_nodes)
        for server_id, node in placement.items():
            _text(f"the node of server {server_id!r}", node)
        deployed_by = _text("deployed_by", deployed_by, empty=True)
        now = _time("now", now)
        expected = _optional_int("expected_revision", expected_revision)
        if expected is not None and expected < 0:
            raise _bad("expected_revision", f"must be 0 or more, not {expected}")
        row = (
            name,
            descriptor_xml,
            source,
            json.dumps(list(target_names)),
            json.dumps(variable_values, sort_keys=True),
            deployed_by,
            now,
        )

        def work(connection: sqlite3.Connection) -> int:
            current = self._current_revision(connection, name)
            if expected is not None and current != expected:
                raise RevisionConflictError(
                    f"application {name!r} is at revision {current or 'none (not deployed)'},"
                    f" not {expected}: it was changed by another deploy; nothing was"
                    " written",
                    "look at the application as it is now, then deploy again",
                )
            revision = self._next_revision(connection, name)
            self._check_server_owners(connection, name, placement)
            self._write_application(connection, revision, row)
            self._write_history(connection, revision, row)
            self._sync_servers(connection, name, placement)
            self._trim_history(connection, name)
            return revision

        return self._write(work, durable=True)

    def remove_application(self, name: str) -> bool:
        """Remove an application and its servers (history is kept); False if it was not there."""
        name = _text("application name", name)
        return self._write(
            lambda c: c.execute("DELETE FROM applications WHERE name = ?", (name,)).rowcount > 0
        )

    def application(self, name: str) -> StoredApplication | None:
        """The current revision of application `name`, or None if it is not deployed."""
        name = _text("application name", name)
        row = self._read(
            lambda c: c.execute(
                f"SELECT {_APPLICATION_COLUMNS} FROM applications WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if row is None else _application(row)

    def applications(self) -> list[StoredApplication]:
        """Every deployed application, current revision, sorted by name."""
        rows = self._read(
            lambda c: c.execute(
                f"SELECT {_APPLICATION_COLUMNS} FROM applications ORDER BY name"
            ).fetchall()
        )
        return [_application(row) for row in rows]

    def history(self, name: str) -> list[StoredApplication]:
        """The kept revisions of application `name`, oldest first (also after its removal)."""
        name = _text("application name", name)
        rows = self._read(
            lambda c: c.execute(
                f"SELECT {_APPLICATION_COLUMNS} FROM application_history"
                " WHERE name = ? ORDER BY revision",
                (name,),
            ).fetchall()
        )
        return [_application(row) for row in rows]

    # ---------------------------------------------------------------- nodes

    def record_node(
        self, name: str, *, hostname: str, os: str, endpoints: str, version: str, now: float
    ) -> None:
        """Record that node `name` registered now (replacing what it said last time)."""
        row = (
            _text("node name", name),
            _text("hostname", hostname, empty=True),
            _text("os", os, empty=True),
            _text("endpoints", endpoints, empty=True),
            _text("version", version, empty=True),
            _time("now", now),
        )
        self._write(
            lambda c: c.execute(
                "INSERT INTO nodes (name, hostname, os, endpoints, version, registered_at,"
                " last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                " ON CONFLICT (name) DO UPDATE SET hostname = ?2, os = ?3, endpoints = ?4,"
                " version = ?5, registered_at = ?6, last_seen = ?6",
                row,
            )
        )

    def node_seen(self, name: str, now: float) -> bool:
        """Record a sign of life from node `name`; False if it never registered."""
        name = _text("node name", name)
        now = _time("now", now)
        return self._write(
            lambda c: (
                c.execute("UPDATE nodes SET last_seen = ? WHERE name = ?", (now, name)).rowcount > 0
            )
        )

    def forget_node(self, name: str) -> bool:
        """Drop node `name`'s record (its servers stay deployed); False if there was none."""
        name = _text("node name", name)
        return self._write(
            lambda c: c.execute("DELETE FROM nodes WHERE name = ?", (name,)).rowcount > 0
        )

    def node(self, name: str) -> StoredNode | None:
        """Node `name` as it last registered, or None."""
        name = _text("node name", name)
        row = self._read(
            lambda c: c.execute(
                f"SELECT {_NODE_COLUMNS} FROM nodes WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if row is None else StoredNode(*row)

    def nodes(self) -> list[StoredNode]:
        """Every node that registered and was not forgotten, sorted by name."""
        rows = self._read(
            lambda c: c.execute(f"SELECT {_NODE_COLUMNS} FROM nodes ORDER BY name").fetchall()
        )
        return [StoredNode(*row) for row in rows]

    # ---------------------------------------------------------------- servers

    def set_enabled(
        self,
        server_id: str,
        enabled: bool,
        *,
        by: DisabledBy | str | None = None,
        reason: str = "",
    ) -> None:
        """Enable a server, or disable it `by` the user or a failure, with a reason."""
        server_id = _text("server id", server_id)
        if not isinstance(enabled, bool):
            raise _bad("enabled", f"must be True or False, not {enabled!r}")
        reason = _text("reason", reason, empty=True)
        who: str | None = None
        if enabled:
            if by is not None or reason:
                raise _bad("by and reason", "are only for disabling a server")
        else:
            if by is None:
                raise _bad("by", "must say who disables the server ('user' or 'failure')")
            try:
                who = DisabledBy(by).value
            except ValueError:
                raise _bad("by", f"must be 'user' or 'failure', not {by!r}") from None

        def work(connection: sqlite3.Connection) -> None:
            changed = connection.execute(
                "UPDATE servers SET enabled = ?, disabled_by = ?, disabled_reason = ?"
                " WHERE server_id = ?",
                (int(enabled), who, reason, server_id),
            ).rowcount
            if not changed:
                raise _unknown_server(server_id)

        self._write(work)

    def record_exit(
        self,
        server_id: str,
        *,
        code: int | None,
        signal: int | None,
        description: str,
        at: float,
        restart_count: int,
    ) -> None:
        """Record how server `server_id`'s process ended, and its restart count since."""
        server_id = _text("server id", server_id)
        code = _optional_int("code", code)
        signal = _optional_int("signal", signal)
        description = _text("description", description, empty=True)
        at = _time("at", at)
        count = _optional_int("restart_count", restart_count)
        if count is None or count < 0:
            raise _bad("restart_count", f"must be 0 or more, not {restart_count!r}")

        def work(connection: sqlite3.Connection) -> None:
            changed = connection.execute(
                "UPDATE servers SET last_exit_code = ?, last_exit_signal = ?,"
                " last_exit_description = ?, last_exit_at = ?, restart_count = ?"
                " WHERE server_id = ?",
                (code, signal, description, at, count, server_id),
            ).rowcount
            if not changed:
                raise _unknown_server(server_id)

        self._write(work)

    def server(self, server_id: str) -> StoredServer | None:
        """Server `server_id`'s persistent state, or None if no application deploys it."""
        server_id = _text("server id", server_id)
        row = self._read(
            lambda c: c.execute(
                f"SELECT {_SERVER_COLUMNS} FROM servers WHERE server_id = ?", (server_id,)
            ).fetchone()
        )
        return None if row is None else _server(row)

    def servers(self, application: str | None = None) -> list[StoredServer]:
        """Every deployed server (of one application if named), sorted by server id."""
        args: tuple[str, ...] = ()
        if application is None:
            query = f"SELECT {_SERVER_COLUMNS} FROM servers ORDER BY server_id"
        else:
            query = (
                f"SELECT {_SERVER_COLUMNS} FROM servers WHERE application = ? ORDER BY server_id"
            )
            args = (_text("application name", application),)
        rows = self._read(lambda c: c.execute(query, args).fetchall())
        return [_server(row) for row in rows]

    # ---------------------------------------------------------------- deploy steps

    # Separate methods so that a test can make any one of them fail half-way through a deploy.

    @staticmethod
    def _current_revision(connection: sqlite3.Connection, name: str) -> int:
        row = connection.execute(
            "SELECT revision FROM applications WHERE name = ?", (name,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _next_revision(connection: sqlite3.Connection, name: str) -> int:
        # Past the history too, so an application removed and deployed again never reuses a
        # revision number a node or an admin may still remember.
        row = connection.execute(
            "SELECT max(revision) FROM (SELECT revision FROM applications WHERE name = ?1"
            " UNION ALL SELECT revision FROM application_history WHERE name = ?1)",
            (name,),
        ).fetchone()
        return 1 if row[0] is None else int(row[0]) + 1

    @staticmethod
    def _check_server_owners(
        connection: sqlite3.Connection, name: str, placement: Mapping[str, str]
    ) -> None:
        taken = []
        for server_id in placement:
            row = connection.execute(
                "SELECT application FROM servers WHERE server_id = ? AND application <> ?",
                (server_id, name),
            ).fetchone()
            if row is not None:
                taken.append(f"{server_id!r} (in application {row[0]!r})")
        if taken:
            raise RegistryDatabaseError(
                f"cannot deploy application {name!r}: server ids already deployed by another"
                f" application: {', '.join(taken)}; nothing was written",
                "server ids are unique across the grid: rename the servers, or remove the"
                " other application first",
            )

    @staticmethod
    def _write_application(
        connection: sqlite3.Connection, revision: int, row: tuple[Any, ...]
    ) -> None:
        name, descriptor_xml, source, targets, variables, deployed_by, now = row
        connection.execute(
            "INSERT INTO applications (name, descriptor_xml, source, targets, variables,"
            " revision, deployed_by, deployed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            " ON CONFLICT (name) DO UPDATE SET descriptor_xml = ?2, source = ?3, targets = ?4,"
            " variables = ?5, revision = ?6, deployed_by = ?7, deployed_at = ?8",
            (name, descriptor_xml, source, targets, variables, revision, deployed_by, now),
        )

    @staticmethod
    def _write_history(connection: sqlite3.Connection, revision: int, row: tuple[Any, ...]) -> None:
        name, descriptor_xml, source, targets, variables, deployed_by, now = row
        connection.execute(
            "INSERT INTO application_history (name, revision, descriptor_xml, source, targets,"
            " variables, deployed_by, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (name, revision, descriptor_xml, source, targets, variables, deployed_by, now),
        )

    @staticmethod
    def _sync_servers(
        connection: sqlite3.Connection, name: str, placement: Mapping[str, str]
    ) -> None:
        kept = {
            row[0]
            for row in connection.execute(
                "SELECT server_id FROM servers WHERE application = ?", (name,)
            )
        }
        for server_id in sorted(kept - placement.keys()):
            connection.execute("DELETE FROM servers WHERE server_id = ?", (server_id,))
        for server_id, node in sorted(placement.items()):
            if server_id in kept:
                connection.execute(
                    "UPDATE servers SET node = ? WHERE server_id = ?", (node, server_id)
                )
            else:
                connection.execute(
                    "INSERT INTO servers (server_id, application, node) VALUES (?, ?, ?)",
                    (server_id, name, node),
                )

    def _trim_history(self, connection: sqlite3.Connection, name: str) -> None:
        connection.execute(
            "DELETE FROM application_history WHERE name = ?1 AND revision <= ("
            " SELECT max(revision) FROM application_history WHERE name = ?1) - ?2",
            (name, self.history_limit),
        )

    # ---------------------------------------------------------------- transactions

    def _read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `work` in one read transaction (a consistent snapshot across its queries)."""
        with self._transaction("BEGIN") as connection:
            return work(connection)

    def _write(self, work: Callable[[sqlite3.Connection], _T], *, durable: bool = False) -> _T:
        """Run `work` in one write transaction; `durable` fsyncs the WAL at its commit."""
        with self._transaction("BEGIN IMMEDIATE", durable=durable) as connection:
            return work(connection)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes called inside (from this thread) one transaction: one commit and one
        round of file locks for all, where each would take its own (a node reporting 50 exits
        at once). Each call still checks its input and may fail alone (an unknown server), the
        others standing. An SQLite error fails every call after it and rolls the whole batch
        back: the batch raises it at its end, and nothing of it is written."""
        with self._transaction("BEGIN IMMEDIATE"):
            self._batch_thread, self._batch_error = threading.get_ident(), None
            try:
                yield
            finally:
                self._batch_thread, error, self._batch_error = None, self._batch_error, None
            if error is not None:
                raise error

    @contextmanager
    def _transaction(self, begin: str, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        if self._batch_thread == threading.get_ident():
            with self._in_batch(durable) as connection:
                yield connection
            return
        with self._mutex:
            if self._closed:
                raise RegistryDatabaseError(
                    f"the registry database {self.path} is closed",
                    "this is a bug in the registry: it used its database after closing it",
                )
            connection = self._connection
            try:
                if durable:
                    # Only outside a transaction; under the mutex, so no other call sees it.
                    connection.execute("PRAGMA synchronous = FULL")
                connection.execute(begin)
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        with suppress(sqlite3.Error):
                            connection.execute("ROLLBACK")
                    raise
                finally:
                    if durable:
                        connection.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as error:
                raise _database_error(self.path, error) from error

    @contextmanager
    def _in_batch(self, durable: bool) -> Iterator[sqlite3.Connection]:
        """A call inside `batch`: the batch's transaction (and mutex) is already held."""
        if durable:
            raise RuntimeError("a durable write (a deploy) cannot be part of a batch")
        if self._batch_error is not None:
            raise self._batch_error
        connection = self._connection
        try:
            if not connection.in_transaction:  # SQLite rolled it back after an error
                raise sqlite3.OperationalError("the batch's transaction was rolled back")
            yield connection
        except sqlite3.Error as error:
            self._batch_error = _database_error(self.path, error)
            raise self._batch_error from error


# --------------------------------------------------------------------------- rows

_APPLICATION_COLUMNS = (
    "name, descriptor_xml, source, targets, variables, revision, deployed_by, deployed_at"
)
_NODE_COLUMNS = "name, hostname, os, endpoints, version, registered_at, last_seen"
_SERVER_COLUMNS = (
    "server_id, application, node, enabled, disabled_by, disabled_reason, last_exit_code,"
    " last_exit_signal, last_exit_description, last_exit_at, restart_count"
)


def _application(row: tuple[Any, ...]) -> StoredApplication:
    name, descriptor_xml, source, targets, variables, revision, deployed_by, deployed_at = row
    return StoredApplication(
        name=name,
        descriptor_xml=descriptor_xml,
        source=source,
        targets=tuple(json.loads(targets)),
        variables=MappingProxyType(json.loads(variables)),
        revision=revision,
        deployed_by=deployed_by,
        deployed_at=deployed_at,
    )


def _server(row: tuple[Any, ...]) -> StoredServer:
    (server_id, application, node, enabled, disabled_by, reason) = row[:6]
    code, signal, description, at, restart_count = row[6:]
    last_exit = None if at is None else ServerExit(code, signal, description or "", at)
    return StoredServer(
        server_id=server_id,
        application=application,
        node=node,
        enabled=bool(enabled),
        disabled_by=None if disabled_by is None else DisabledBy(disabled_by),
        disabled_reason=reason,
        last_exit=last_exit,
        restart_count=restart_count,
    )


def _unknown_server(server_id: str) -> RegistryDatabaseError:
    return RegistryDatabaseError(
        f"no server {server_id!r} is deployed; nothing was written",
        "check the server id: it is in no deployed application (a deploy may have removed it)",
    )


# --------------------------------------------------------------------------- opening


_CORRUPT_HINT = (
    "restore it from a backup, or start the registry with recovery on: it moves the file aside"
    " to {file}.corrupt-<time> and starts empty (deploy the applications again)"
)


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RegistryDatabaseError(
            f"the registry database directory {directory} exists and is not a directory",
            f"move it away, or point {DATA_PROPERTY} at a directory",
        ) from None
    except OSError as error:
        raise RegistryDatabaseError(
            f"cannot create the registry database directory {directory}: {error.strerror}",
            f"check its permissions, or point {DATA_PROPERTY} elsewhere",
        ) from error


def _lock(directory: Path) -> int:
    """Flock `registry.lock` for this process and write our pid in it; return the descriptor."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise RegistryDatabaseError(
            f"cannot open the registry lock file {path}: {error.strerror}",
            f"check the permissions of {directory}, or point {DATA_PROPERTY} elsewhere",
        ) from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = _read_pid(fd)
        os.close(fd)
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RegistryDatabaseError(  # pragma: no cover - e.g. a filesystem without locks
                f"cannot lock the registry lock file {path}: {error.strerror}",
                f"put {DATA_PROPERTY} on a local filesystem",
            ) from error
        who = f"pid {holder}" if holder is not None else "pid unknown"
        raise DatabaseInUseError(
            f"the registry database {directory} is in use by another registry ({who})",
            f"stop that registry first (`shoal admin stop`), or set {DATA_PROPERTY} to another"
            " directory",
            pid=holder,
        ) from None
    # The previous owner's pid may still be there if it died: replace it with ours.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 64, 0).decode("ascii", errors="replace").strip()
    # Empty if the holder has locked but not yet written its pid.
    return int(text) if text.isdigit() else None


def _connect(path: Path, *, recover: bool, now: float | None) -> sqlite3.Connection:
    try:
        return _connect_checked(path)
    except DatabaseCorruptError:
        if not recover:
            raise
    _move_aside(path, time.time() if now is None else now)
    return _connect_checked(path)


def _connect_checked(path: Path) -> sqlite3.Connection:
    """Connect, check integrity, set the pragmas and bring the schema up to date."""
    try:
        connection = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # calls come from asyncio.to_thread workers, one at a time
        )
    except sqlite3.Error as error:
        raise _database_error(path, error) from error
    try:
        _check_integrity(connection, path)
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys = ON",
            "PRAGMA synchronous = NORMAL",
        ):
            connection.execute(pragma)
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":  # pragma: no cover - only on filesystems without shared memory
            raise RegistryDatabaseError(
                f"the registry database {path} cannot use a write-ahead log (journal mode {mode})",
                f"put {DATA_PROPERTY} on a local filesystem",
            )
        _upgrade(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise _database_error(path, error) from error
    except BaseException:
        connection.close()
        raise
    return connection


def _check_integrity(connection: sqlite3.Connection, path: Path) -> None:
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as error:
        raise _corrupt(path, str(error)) from error
    if problems != ["ok"]:
        raise _corrupt(path, "; ".join(problems[:3]))


def _upgrade(connection: sqlite3.Connection, path: Path) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise DatabaseVersionError(
            f"the registry database {path} has schema version {version}, newer than this"
            f" Shoal's {SCHEMA_VERSION}: it was written by a newer Shoal",
            "run the newer Shoal that wrote it, or restore a backup made before the upgrade",
        )
    if version == 0:
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if tables:
            raise RegistryDatabaseError(
                f"{path} is an SQLite database but not a Shoal registry database",
                f"move it away, or point {DATA_PROPERTY} at the registry's own directory",
            )
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            migration.apply(connection)
            # Part of the same transaction: a failed step leaves the version where it was.
            connection.execute(f"PRAGMA user_version = {migration.version:d}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        version = migration.version


def _move_aside(path: Path, now: float) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    serial = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}.{serial}")
        serial += 1
    # The WAL and shared-memory files belong to the corrupt file: move them with it, or SQLite
    # could try to apply that WAL to the new database.
    for suffix in ("-wal", "-shm", ""):
        part = path.with_name(path.name + suffix)
        if part.exists():
            try:
                part.rename(target.with_name(target.name + suffix))
            except OSError as error:
                raise RegistryDatabaseError(
                    f"cannot move the corrupt registry database {part} aside: {error.strerror}",
                    f"move it away by hand, or check the permissions of {path.parent}",
                ) from error


def _corrupt(path: Path, detail: str) -> DatabaseCorruptError:
    return DatabaseCorruptError(
        f"the registry database {path} is corrupt or not a database ({detail})",
        _CORRUPT_HINT.format(file=path.name),
    )


def _database_error(path: Path, error: sqlite3.Error) -> RegistryDatabaseError:
    # SQLITE_NOTADB is "file is not a database"; SQLITE_CORRUPT* "database disk image is
    # malformed" and its extended codes.
    name = getattr(error, "sqlite_errorname", None) or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return _corrupt(path, str(error))
    return RegistryDatabaseError(
        f"the registry database {path} failed: {error}",
        "check the disk is not full and the directory is writable, then try again",
    )
