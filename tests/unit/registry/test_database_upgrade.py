"""Schema versions: databases written by every released Shoal open, upgrade and keep their data.

`data/registry-vN.sql` is a database of schema version N as Shoal N wrote it, dumped to SQL
(sqlite3 `iterdump`, plus its `PRAGMA user_version`). Never edit one. When a migration is added:
  1. append the step to `MIGRATIONS` in shoal/registry/database.py;
  2. before changing anything else, dump a database of the previous version holding the content
     `test_every_released_database_opens_upgraded_with_its_content` expects (see v1's);
  3. the tests below then upgrade every older file through the new step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shoal.errors import RegistryDatabaseError
from shoal.registry import database as registry_database
from shoal.registry.database import (
    DATABASE_FILE,
    MIGRATIONS,
    SCHEMA_VERSION,
    DisabledBy,
    Migration,
    RegistryDatabase,
    ServerExit,
    StoredNode,
    StoredServer,
)

DATA = Path(__file__).parent / "data"
RELEASED = sorted(DATA.glob("registry-v*.sql"), key=lambda p: int(p.stem.split("-v")[1]))


def load(dump: Path, registry_dir: Path) -> Path:
    """Make the database file `dump` describes; return it."""
    registry_dir.mkdir(parents=True)
    path = registry_dir / DATABASE_FILE
    connection = sqlite3.connect(path)
    connection.executescript(dump.read_text())
    connection.close()
    return path


def schema(path: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        connection.close()
    return [(name, " ".join(sql.split())) for name, sql in rows]


def test_migrations_are_numbered_from_1_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert all(m.summary for m in MIGRATIONS)


def test_a_database_of_every_released_version_is_kept() -> None:
    assert [p.name for p in RELEASED] == [
        f"registry-v{v}.sql" for v in range(1, SCHEMA_VERSION + 1)
    ]


@pytest.mark.parametrize("dump", RELEASED, ids=lambda p: p.stem)
def test_every_released_database_opens_upgraded_with_its_content(
    dump: Path, registry_dir: Path
) -> None:
    load(dump, registry_dir)

    with RegistryDatabase.open(registry_dir) as db:
        assert db.schema_version == SCHEMA_VERSION
        grid = db.application("Grid")
        assert grid is not None
        assert (grid.revision, grid.targets, dict(grid.variables), grid.deployed_by) == (
            2,
            ("debug",),
            {"PYTHON": "/usr/bin/python3"},
            "admin",
        )
        assert 'index="1"' in grid.descriptor_xml
        assert [old.revision for old in db.history("Grid")] == [1, 2]
        assert db.nodes() == [
            StoredNode(
                "master",
                "host-a",
                "Linux",
                "tcp -h 10.0.0.1 -p 4062",
                "0.1.0",
                1700000001.0,
                1700000200.0,
            )
        ]
        assert db.servers() == [
            StoredServer("Processor-0", "Grid", "master"),
            StoredServer(
                "Processor-1",
                "Grid",
                "node1",
                enabled=False,
                disabled_by=DisabledBy.FAILURE,
                disabled_reason="exited 5 times in 60 s",
                last_exit=ServerExit(None, 11, "killed by SIGSEGV", 1700000150.25),
                restart_count=5,
            ),
        ]
        # And it goes on working: a redeploy keeps Processor-1's state.
        revision = db.deploy(
            "Grid",
            descriptor_xml=grid.descriptor_xml,
            source=grid.source,
            targets=grid.targets,
            variables=grid.variables,
            server_nodes={"Processor-0": "master", "Processor-1": "node1"},
            deployed_by="root",
            now=1700000300.0,
            expected_revision=2,
        )
        assert revision == 3
        processor_1 = db.server("Processor-1")
        assert processor_1 is not None and processor_1.restart_count == 5

    # Upgraded, it has exactly the schema of a database made new.
    RegistryDatabase.open(registry_dir.parent / "fresh").close()
    assert schema(registry_dir / DATABASE_FILE) == schema(
        registry_dir.parent / "fresh" / DATABASE_FILE
    )


# --------------------------------------------------------------------------- the machinery


def add_note_column(connection: sqlite3.Connection) -> None:
    connection.execute("ALTER TABLE servers ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    connection.execute("UPDATE servers SET note = 'was ' || node")


def test_a_new_migration_upgrades_an_old_database_in_order(
    registry_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = load(RELEASED[0], registry_dir)
    applied: list[int] = []

    def track(version: int, step: object) -> Migration:
        def apply(connection: sqlite3.Connection) -> None:
            applied.append(version)
            step(connection)  # type: ignore[operator]

        return Migration(version, f"step {version}", apply)

    steps = (
        track(1, MIGRATIONS[0].apply),
        track(2, add_note_column),
        track(3, lambda c: c.execute("CREATE TABLE later (x)")),
    )
    monkeypatch.setattr(registry_database, "MIGRATIONS", steps)
    monkeypatch.setattr(registry_database, "SCHEMA_VERSION", 3)

    with RegistryDatabase.open(registry_dir) as db:
        assert db.schema_version == 3
        assert len(db.servers()) == 2

    assert applied == [2, 3]  # v1 was already there
    connection = sqlite3.connect(path)
    notes = connection.execute("SELECT server_id, note FROM servers ORDER BY 1").fetchall()
    connection.close()
    assert notes == [("Processor-0", "was master"), ("Processor-1", "was node1")]


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (lambda c: c.execute("ALTER TABLE no_such_table ADD COLUMN x"), RegistryDatabaseError),
        (lambda c: (_ for _ in ()).throw(RuntimeError("bug in a migration")), RuntimeError),
    ],
    ids=["sql-error", "python-error"],
)
def test_a_failing_migration_changes_nothing(
    registry_dir: Path, monkeypatch: pytest.MonkeyPatch, broken: object, error: type[Exception]
) -> None:
    path = load(RELEASED[0], registry_dir)
    before = schema(path)

    def half_then_fail(connection: sqlite3.Connection) -> None:
        add_note_column(connection)
        broken(connection)  # type: ignore[operator]

    monkeypatch.setattr(
        registry_database, "MIGRATIONS", (*MIGRATIONS, Migration(2, "broken", half_then_fail))
    )
    monkeypatch.setattr(registry_database, "SCHEMA_VERSION", 2)

    with pytest.raises(error):
        RegistryDatabase.open(registry_dir)

    assert schema(path) == before
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
    connection.close()
    # The failed open released the database: once fixed, it opens.
    monkeypatch.undo()
    RegistryDatabase.open(registry_dir).close()
