"""Opening the registry database: one owner at a time, crashes, corruption, unknown versions.

The lock and crash tests run real registries in child processes and kill them with SIGKILL;
they synchronise on the child's output, never on sleeps.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest
from registry_helpers import T0, deploy, python_child

from shoal.errors import (
    DatabaseCorruptError,
    DatabaseInUseError,
    DatabaseVersionError,
    RegistryDatabaseError,
)
from shoal.registry.database import (
    DATABASE_FILE,
    LOCK_FILE,
    SCHEMA_VERSION,
    RegistryDatabase,
    StoredServer,
)

# --------------------------------------------------------------------------- a fresh database


def test_open_creates_the_directory_and_a_wal_database(registry_dir: Path) -> None:
    with RegistryDatabase.open(registry_dir) as db:
        pragmas = db._read(
            lambda c: [
                c.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
        )
        assert pragmas == ["wal", 1, 1, 5000]  # 1 is synchronous=NORMAL
        assert db.schema_version == SCHEMA_VERSION
        assert db.path == registry_dir / DATABASE_FILE
    assert (registry_dir / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_a_directory_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "registry").write_text("")

    with pytest.raises(RegistryDatabaseError, match="exists and is not a directory") as caught:
        RegistryDatabase.open(tmp_path / "registry")
    assert "IceGrid.Registry.Data" in caught.value.hint

    with pytest.raises(RegistryDatabaseError, match="cannot create the registry database dir"):
        RegistryDatabase.open(tmp_path / "registry" / "below")


def test_an_unusable_lock_file_is_named(registry_dir: Path) -> None:
    (registry_dir / LOCK_FILE).mkdir(parents=True)

    with pytest.raises(
        RegistryDatabaseError, match=f"cannot open the registry lock file .*{LOCK_FILE}"
    ):
        RegistryDatabase.open(registry_dir)


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_history_limit_must_be_a_positive_integer(registry_dir: Path, limit: object) -> None:
    with pytest.raises(RegistryDatabaseError, match="history_limit must be"):
        RegistryDatabase.open(registry_dir, history_limit=limit)  # type: ignore[arg-type]
    assert not registry_dir.exists()


# --------------------------------------------------------------------------- one owner


def test_a_second_open_in_the_same_process_is_refused(database: RegistryDatabase) -> None:
    with pytest.raises(DatabaseInUseError) as caught:
        RegistryDatabase.open(database.directory)

    assert caught.value.pid == os.getpid()
    assert caught.value.message == (
        f"the registry database {database.directory} is in use by another registry"
        f" (pid {os.getpid()})"
    )
    assert "IceGrid.Registry.Data" in caught.value.hint
    # The refused open touched nothing: the owner goes on working.
    assert deploy(database, "Grid", {"A-0": "master"}) == 1


def test_closing_hands_the_database_over(registry_dir: Path) -> None:
    RegistryDatabase.open(registry_dir).close()
    RegistryDatabase.open(registry_dir).close()


def test_a_lock_whose_holder_has_not_written_its_pid_yet_says_so(registry_dir: Path) -> None:
    import fcntl

    registry_dir.mkdir(parents=True)
    fd = os.open(registry_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DatabaseInUseError, match=r"\(pid unknown\)") as caught:
            RegistryDatabase.open(registry_dir)
        assert caught.value.pid is None
    finally:
        os.close(fd)


def test_another_registry_process_holds_the_database_until_it_is_killed(
    registry_dir: Path,
) -> None:
    child = python_child(
        f"""
        import os, sys
        from shoal.registry.database import RegistryDatabase
        db = RegistryDatabase.open({str(registry_dir)!r})
        print(os.getpid(), flush=True)
        sys.stdin.read()  # hold the database until the parent kills us
        """
    )
    try:
        assert child.stdout is not None
        assert int(child.stdout.readline()) == child.pid

        with pytest.raises(
            DatabaseInUseError, match=f"in use by another registry \\(pid {child.pid}\\)"
        ):
            RegistryDatabase.open(registry_dir)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    # The lock file still names the dead registry, but the kernel released its lock.
    assert (registry_dir / LOCK_FILE).read_text() == f"{child.pid}\n"
    with RegistryDatabase.open(registry_dir) as db:
        assert db.applications() == []
    assert (registry_dir / LOCK_FILE).read_text() == f"{os.getpid()}\n"


# --------------------------------------------------------------------------- crashes


def test_a_registry_killed_after_deploying_loses_nothing_committed(registry_dir: Path) -> None:
    child = python_child(
        f"""
        import os, signal
        from shoal.registry.database import RegistryDatabase
        db = RegistryDatabase.open({str(registry_dir)!r})
        for revision, servers in enumerate([["A-0"], ["A-0", "A-1"]], start=1):
            db.deploy("Grid", descriptor_xml=f"<icegrid rev='{{revision}}'/>", source="g.xml",
                      targets=[], variables={{}}, server_nodes=dict.fromkeys(servers, "master"),
                      deployed_by="root", now={T0} + revision)
        db.set_enabled("A-1", False, by="failure", reason="crashed")
        os.kill(os.getpid(), signal.SIGKILL)  # no close(), no checkpoint
        """
    )
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    # What it wrote is only in the write-ahead log: the reopen must replay it.
    assert (registry_dir / f"{DATABASE_FILE}-wal").stat().st_size > 0

    with RegistryDatabase.open(registry_dir) as db:
        grid = db.application("Grid")
        assert grid is not None
        assert (grid.revision, grid.descriptor_xml, grid.deployed_at) == (
            2,
            "<icegrid rev='2'/>",
            T0 + 2,
        )
        assert [old.revision for old in db.history("Grid")] == [1, 2]
        assert db.servers() == [
            StoredServer("A-0", "Grid", "master"),
            StoredServer("A-1", "Grid", "master", False, "failure", "crashed"),  # type: ignore[arg-type]
        ]


def test_a_registry_killed_in_the_middle_of_a_deploy_keeps_the_previous_revision(
    registry_dir: Path,
) -> None:
    child = python_child(
        f"""
        import os, signal
        from shoal.registry.database import RegistryDatabase
        db = RegistryDatabase.open({str(registry_dir)!r})
        def deploy(servers):
            db.deploy("Grid", descriptor_xml="<icegrid/>", source="g.xml", targets=[],
                      variables={{}}, server_nodes=dict.fromkeys(servers, "master"),
                      deployed_by="root", now={T0})
        deploy(["A-0"])
        def die(*args):
            os.kill(os.getpid(), signal.SIGKILL)
        # Dies after writing the application and history rows of revision 2, before commit.
        RegistryDatabase._sync_servers = staticmethod(die)
        deploy(["B-0"])
        """
    )
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    with RegistryDatabase.open(registry_dir) as db:
        grid = db.application("Grid")
        assert grid is not None and grid.revision == 1
        assert [old.revision for old in db.history("Grid")] == [1]
        assert db.servers() == [StoredServer("A-0", "Grid", "master")]


# --------------------------------------------------------------------------- corruption


def write_garbage_database(registry_dir: Path) -> bytes:
    registry_dir.mkdir(parents=True)
    garbage = b"this is not a database, it is a shopping list\n" * 100
    (registry_dir / DATABASE_FILE).write_bytes(garbage)
    return garbage


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(registry_dir: Path) -> None:
    garbage = write_garbage_database(registry_dir)

    with pytest.raises(DatabaseCorruptError) as caught:
        RegistryDatabase.open(registry_dir)

    assert str(registry_dir / DATABASE_FILE) in caught.value.message
    assert "file is not a database" in caught.value.message
    assert "registry.db.corrupt-<time>" in caught.value.hint
    assert "recovery" in caught.value.hint
    assert (registry_dir / DATABASE_FILE).read_bytes() == garbage
    assert sorted(p.name for p in registry_dir.iterdir()) == [DATABASE_FILE, LOCK_FILE]
    # The failed open gave the lock back.
    with pytest.raises(DatabaseCorruptError):
        RegistryDatabase.open(registry_dir)


def test_a_damaged_page_is_found_at_open(registry_dir: Path) -> None:
    with RegistryDatabase.open(registry_dir) as db:
        for index in range(30):
            deploy(db, f"App{index}", {f"S{index}-{n}": "master" for n in range(20)})
    with (registry_dir / DATABASE_FILE).open("r+b") as file:
        file.seek(4096 * 3)
        file.write(b"\xff" * 200)

    with pytest.raises(DatabaseCorruptError, match="is corrupt or not a database"):
        RegistryDatabase.open(registry_dir)


def test_a_broken_structure_reported_by_the_check_is_found_at_open(registry_dir: Path) -> None:
    RegistryDatabase.open(registry_dir).close()
    # Point one table at another's pages: readable, but the integrity check lists problems.
    connection = sqlite3.connect(registry_dir / DATABASE_FILE)
    connection.execute("PRAGMA writable_schema = ON")
    connection.execute(
        "UPDATE sqlite_master SET rootpage ="
        " (SELECT rootpage FROM sqlite_master WHERE name = 'servers') WHERE name = 'nodes'"
    )
    connection.commit()
    connection.close()

    with pytest.raises(DatabaseCorruptError, match="2nd reference to page"):
        RegistryDatabase.open(registry_dir)


def test_recovery_moves_a_corrupt_database_aside_and_starts_empty(registry_dir: Path) -> None:
    garbage = write_garbage_database(registry_dir)
    (registry_dir / f"{DATABASE_FILE}-wal").write_bytes(b"stale log")

    with RegistryDatabase.open(registry_dir, recover=True, now=T0) as db:
        assert db.applications() == []
        assert deploy(db, "Grid", {"A-0": "master"}) == 1

    moved = registry_dir / f"{DATABASE_FILE}.corrupt-20231114T221320Z"
    assert moved.read_bytes() == garbage
    # SQLite itself drops a log that belongs to no database; one it kept would have moved along.
    assert sorted(p.name for p in registry_dir.iterdir() if "corrupt" in p.name) == [moved.name]

    # A second recovery in the same second does not overwrite the first one's file.
    (registry_dir / DATABASE_FILE).write_bytes(b"garbage again" * 100)
    with RegistryDatabase.open(registry_dir, recover=True, now=T0) as db:
        assert db.applications() == []
    assert (registry_dir / f"{moved.name}.1").read_bytes() == b"garbage again" * 100
    assert moved.read_bytes() == garbage


def test_recovery_that_cannot_move_the_file_says_so(
    registry_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = write_garbage_database(registry_dir)

    def refuse(self: Path, target: Path) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(RegistryDatabaseError, match="cannot move the corrupt registry database"):
        RegistryDatabase.open(registry_dir, recover=True, now=T0)
    monkeypatch.undo()

    assert (registry_dir / DATABASE_FILE).read_bytes() == garbage
    RegistryDatabase.open(registry_dir, recover=True, now=T0).close()  # the lock was released


def test_recovery_reads_the_clock_only_when_not_given_a_time(registry_dir: Path) -> None:
    write_garbage_database(registry_dir)

    RegistryDatabase.open(registry_dir, recover=True).close()

    assert len(list(registry_dir.glob(f"{DATABASE_FILE}.corrupt-2*Z"))) == 1


def test_recovery_leaves_a_healthy_database_alone(registry_dir: Path) -> None:
    with RegistryDatabase.open(registry_dir) as db:
        deploy(db, "Grid", {"A-0": "master"})
    with RegistryDatabase.open(registry_dir, recover=True, now=T0) as db:
        assert [app.name for app in db.applications()] == ["Grid"]
    assert not list(registry_dir.glob("*.corrupt-*"))


def test_corruption_found_after_open_is_reported_as_such(database: RegistryDatabase) -> None:
    bad = database.directory / "elsewhere.db"
    bad.write_bytes(b"not a database" * 100)

    def read_a_corrupt_file(connection: sqlite3.Connection) -> None:
        other = sqlite3.connect(bad)
        try:
            other.execute("SELECT * FROM sqlite_master").fetchall()
        finally:
            other.close()

    with pytest.raises(DatabaseCorruptError, match="file is not a database"):
        database._read(read_a_corrupt_file)
    assert database.applications() == []


# --------------------------------------------------------------------------- other files


def test_a_database_from_a_newer_shoal_is_refused_naming_both_versions(
    registry_dir: Path,
) -> None:
    RegistryDatabase.open(registry_dir).close()
    with sqlite3.connect(registry_dir / DATABASE_FILE) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 41}")
    connection.close()

    for recover in (False, True):
        with pytest.raises(DatabaseVersionError) as caught:
            RegistryDatabase.open(registry_dir, recover=recover)
        assert (
            f"has schema version {SCHEMA_VERSION + 41}, newer than this Shoal's {SCHEMA_VERSION}"
            in caught.value.message
        )
        assert "newer Shoal" in caught.value.hint

    # Never moved aside nor downgraded.
    assert not list(registry_dir.glob("*.corrupt-*"))
    with sqlite3.connect(registry_dir / DATABASE_FILE) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 41
    connection.close()


def test_an_sqlite_database_of_something_else_is_refused(registry_dir: Path) -> None:
    registry_dir.mkdir(parents=True)
    with sqlite3.connect(registry_dir / DATABASE_FILE) as connection:
        connection.execute("CREATE TABLE recipes (name TEXT)")
    connection.close()

    with pytest.raises(RegistryDatabaseError, match="not a Shoal registry database"):
        RegistryDatabase.open(registry_dir)


def test_an_unreadable_database_path_is_reported(registry_dir: Path) -> None:
    (registry_dir / DATABASE_FILE).mkdir(parents=True)

    with pytest.raises(RegistryDatabaseError, match=f"registry database .*{DATABASE_FILE}"):
        RegistryDatabase.open(registry_dir)
