"""The registry database's records: deploys, history, nodes, servers; atomic and thread-safe.

Every test uses a real SQLite file under tmp_path; time is always passed in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import T0, deploy, descriptor

from shoal.errors import RegistryDatabaseError, RevisionConflictError, ShoalError
from shoal.registry.database import (
    DisabledBy,
    RegistryDatabase,
    ServerExit,
    StoredApplication,
    StoredNode,
    StoredServer,
)


def snapshot(db: RegistryDatabase) -> tuple[object, ...]:
    """Everything the database holds, to compare before and after a failed call."""
    names = [app.name for app in db.applications()]
    return (
        db.applications(),
        [db.history(name) for name in names],
        db.servers(),
        db.nodes(),
    )


# --------------------------------------------------------------------------- deploy


def test_first_deploy_stores_revision_1_and_its_servers_enabled(
    database: RegistryDatabase,
) -> None:
    revision = deploy(
        database,
        "Grid",
        {"Processor-0": "master", "Jobs-0": "node1"},
        targets=["debug"],
        variables={"PYTHON": "/usr/bin/python3"},
        deployed_by="admin",
    )

    assert revision == 1
    assert database.application("Grid") == StoredApplication(
        name="Grid",
        descriptor_xml=descriptor("Grid", "Processor-0", "Jobs-0"),
        source="etc/grid/Grid.xml",
        targets=("debug",),
        variables={"PYTHON": "/usr/bin/python3"},
        revision=1,
        deployed_by="admin",
        deployed_at=T0,
    )
    assert database.servers() == [
        StoredServer("Jobs-0", "Grid", "node1"),
        StoredServer("Processor-0", "Grid", "master"),
    ]
    assert database.application("Other") is None
    assert database.server("Nope-0") is None


def test_redeploy_keeps_flags_and_exits_of_kept_servers_only(database: RegistryDatabase) -> None:
    deploy(database, "Grid", {"Kept-0": "master", "Moved-0": "master", "Gone-0": "master"})
    for server_id in ("Kept-0", "Moved-0", "Gone-0"):
        database.set_enabled(server_id, False, by=DisabledBy.USER, reason="maintenance")
        database.record_exit(
            server_id, code=3, signal=None, description="exit 3", at=T0 + 1, restart_count=2
        )

    revision = deploy(
        database, "Grid", {"Kept-0": "master", "Moved-0": "node1", "New-0": "node1"}, now=T0 + 10
    )

    assert revision == 2
    kept_state: dict[str, Any] = {
        "enabled": False,
        "disabled_by": DisabledBy.USER,
        "disabled_reason": "maintenance",
        "last_exit": ServerExit(3, None, "exit 3", T0 + 1),
        "restart_count": 2,
    }
    assert database.servers() == [
        StoredServer("Kept-0", "Grid", "master", **kept_state),
        StoredServer("Moved-0", "Grid", "node1", **kept_state),
        StoredServer("New-0", "Grid", "node1"),
    ]
    current = database.application("Grid")
    assert current is not None
    assert (current.revision, current.deployed_at) == (2, T0 + 10)


def test_expected_revision_guards_against_a_concurrent_deploy(database: RegistryDatabase) -> None:
    assert deploy(database, "Grid", {"A-0": "master"}, expected_revision=0) == 1
    assert deploy(database, "Grid", {"A-0": "master"}, expected_revision=1) == 2
    before = snapshot(database)

    with pytest.raises(RevisionConflictError, match=r"revision 2, not 1") as caught:
        deploy(database, "Grid", {"B-0": "master"}, expected_revision=1)
    with pytest.raises(RevisionConflictError, match=r"none \(not deployed\), not 3"):
        deploy(database, "New", {"C-0": "master"}, expected_revision=3)

    assert "deploy again" in caught.value.hint
    assert snapshot(database) == before


def test_a_server_id_belongs_to_one_application(database: RegistryDatabase) -> None:
    deploy(database, "First", {"Shared-0": "master"})
    before = snapshot(database)

    with pytest.raises(RegistryDatabaseError, match=r"'Shared-0' \(in application 'First'\)"):
        deploy(database, "Second", {"Own-0": "master", "Shared-0": "node1"})

    assert snapshot(database) == before


def test_history_keeps_the_last_revisions_per_application(registry_dir: Path) -> None:
    with RegistryDatabase.open(registry_dir, history_limit=3) as db:
        for step in range(5):
            deploy(db, "Grid", {f"S-{step}": "master"}, now=T0 + step)
        deploy(db, "Other", {"O-0": "master"})

        assert [old.revision for old in db.history("Grid")] == [3, 4, 5]
        assert [old.deployed_at for old in db.history("Grid")] == [T0 + 2, T0 + 3, T0 + 4]
        assert db.history("Grid")[-1] == db.application("Grid")
        assert [old.revision for old in db.history("Other")] == [1]
        assert db.history("Never") == []


def test_removing_an_application_drops_its_servers_but_not_its_history(
    database: RegistryDatabase,
) -> None:
    deploy(database, "Grid", {"A-0": "master"})
    deploy(database, "Grid", {"A-0": "master", "A-1": "master"})
    deploy(database, "Other", {"O-0": "master"})

    assert database.remove_application("Grid") is True
    assert database.remove_application("Grid") is False

    assert [app.name for app in database.applications()] == ["Other"]
    assert database.servers() == [StoredServer("O-0", "Other", "master")]
    assert [old.revision for old in database.history("Grid")] == [1, 2]
    # Deployed again, it goes on from the last revision: none is ever reused.
    assert deploy(database, "Grid", {"A-0": "master"}) == 3
    assert database.server("A-0") == StoredServer("A-0", "Grid", "master")


def test_applications_and_servers_are_sorted_and_filterable(database: RegistryDatabase) -> None:
    deploy(database, "Zeta", {"Z-0": "n", "A-9": "n"})
    deploy(database, "Alpha", {"M-0": "n"})

    assert [app.name for app in database.applications()] == ["Alpha", "Zeta"]
    assert [s.server_id for s in database.servers()] == ["A-9", "M-0", "Z-0"]
    assert [s.server_id for s in database.servers("Zeta")] == ["A-9", "Z-0"]
    assert database.servers("None") == []


def test_a_deploy_survives_closing_and_reopening(registry_dir: Path) -> None:
    with RegistryDatabase.open(registry_dir) as db:
        deploy(db, "Grid", {"A-0": "master"}, variables={"x": "1"})
        db.record_exit("A-0", code=None, signal=9, description="killed", at=T0, restart_count=1)
        stored = db.application("Grid")

    with RegistryDatabase.open(registry_dir) as db:
        assert db.application("Grid") == stored
        server = db.server("A-0")
        assert server is not None
        assert server.last_exit == ServerExit(None, 9, "killed", T0)


def test_deploy_fsyncs_its_commit_and_then_goes_back_to_normal(
    database: RegistryDatabase,
) -> None:
    seen: list[int] = []
    original = RegistryDatabase._write_history

    def spy(connection: sqlite3.Connection, revision: int, row: tuple[Any, ...]) -> None:
        seen.append(connection.execute("PRAGMA synchronous").fetchone()[0])
        original(connection, revision, row)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RegistryDatabase, "_write_history", staticmethod(spy))
        deploy(database, "Grid", {"A-0": "master"})

    assert seen == [2]  # FULL during the deploy
    assert database._read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 1


# --------------------------------------------------------------------------- atomicity


def test_a_deploy_failing_half_way_leaves_the_previous_revision_intact(
    database: RegistryDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(database, "Grid", {"A-0": "master", "B-0": "master"})
    database.set_enabled("A-0", False, by="user", reason="testing")
    before = snapshot(database)

    def fail(*args: object) -> None:
        raise RuntimeError("the disk caught fire")

    # The application row and its history row are written by then; the servers are not.
    monkeypatch.setattr(RegistryDatabase, "_sync_servers", staticmethod(fail))
    with pytest.raises(RuntimeError, match="fire"):
        deploy(database, "Grid", {"C-0": "master"})
    monkeypatch.undo()

    assert snapshot(database) == before
    assert deploy(database, "Grid", {"C-0": "master"}) == 2


def test_an_sql_failure_in_the_middle_of_a_deploy_rolls_it_all_back(
    database: RegistryDatabase,
) -> None:
    deploy(database, "Grid", {"A-0": "master"})
    # Another connection adds a trigger that fails the insert of one server row, the last
    # step of a deploy.
    with sqlite3.connect(database.path) as other:
        other.execute(
            "CREATE TRIGGER no_bad BEFORE INSERT ON servers WHEN NEW.server_id = 'Bad-0'"
            " BEGIN SELECT RAISE(ABORT, 'no bad servers here'); END"
        )
    other.close()
    before = snapshot(database)

    with pytest.raises(RegistryDatabaseError, match="no bad servers here") as caught:
        deploy(database, "Grid", {"A-1": "master", "Bad-0": "node1"})

    assert str(database.path) in str(caught.value)
    assert snapshot(database) == before


# --------------------------------------------------------------------------- bad input

GOOD: dict[str, Any] = {
    "descriptor_xml": "<icegrid/>",
    "source": "x.xml",
    "targets": ["debug"],
    "variables": {"a": "b"},
    "server_nodes": {"A-0": "master"},
    "deployed_by": "root",
    "now": T0,
}


@pytest.mark.parametrize(
    ("name", "change", "complaint"),
    [
        ("", {}, "application name must not be empty"),
        (7, {}, "application name must be a string, not int"),
        ("Grid", {"descriptor_xml": b"<icegrid/>"}, "descriptor_xml must be a string"),
        ("Grid", {"descriptor_xml": ""}, "descriptor_xml must not be empty"),
        ("Grid", {"source": None}, "source must be a string"),
        ("Grid", {"targets": "debug"}, "targets must be a sequence of names, not str"),
        ("Grid", {"targets": ["debug", 3]}, "a target must be a string"),
        ("Grid", {"targets": [""]}, "a target must not be empty"),
        ("Grid", {"variables": [("a", "b")]}, "variables must be a mapping, not list"),
        ("Grid", {"variables": {"a": 1}}, r"variables\['a'\] must be a string"),
        ("Grid", {"variables": {"": "x"}}, "a key of variables must not be empty"),
        ("Grid", {"server_nodes": {"A-0": ""}}, "the node of server 'A-0' must not be empty"),
        ("Grid", {"server_nodes": {5: "master"}}, "a key of server_nodes must be a string"),
        ("Grid", {"deployed_by": 0}, "deployed_by must be a string"),
        ("Grid", {"now": math.nan}, "now must be a finite number of seconds"),
        ("Grid", {"now": True}, "now must be a finite number of seconds"),
        ("Grid", {"now": "1"}, "now must be a finite number of seconds"),
        ("Grid", {"expected_revision": -1}, "expected_revision must be 0 or more"),
        ("Grid", {"expected_revision": "1"}, "expected_revision must be an integer"),
    ],
)
def test_bad_deploy_input_is_refused_and_writes_nothing(
    database: RegistryDatabase, name: Any, change: dict[str, Any], complaint: str
) -> None:
    deploy(database, "Grid", {"A-0": "master"})
    before = snapshot(database)

    with pytest.raises(RegistryDatabaseError, match=complaint) as caught:
        database.deploy(name, **{**GOOD, **change})

    assert "nothing was written" in caught.value.message
    assert caught.value.hint
    assert snapshot(database) == before


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (lambda db: db.set_enabled("A-0", "no", by="user"), "enabled must be True or False"),
        (lambda db: db.set_enabled("A-0", False), "must say who disables"),
        (lambda db: db.set_enabled("A-0", False, by="admin"), "must be 'user' or 'failure'"),
        (lambda db: db.set_enabled("A-0", True, reason="why"), "only for disabling"),
        (lambda db: db.set_enabled("A-0", True, by="user"), "only for disabling"),
        (lambda db: db.set_enabled("", True), "server id must not be empty"),
        (lambda db: db.set_enabled("Nope-0", True), "no server 'Nope-0' is deployed"),
        (
            lambda db: db.record_exit(
                "A-0", code="1", signal=None, description="", at=T0, restart_count=0
            ),
            "code must be an integer or None",
        ),
        (
            lambda db: db.record_exit(
                "A-0", code=None, signal=False, description="", at=T0, restart_count=0
            ),
            "signal must be an integer or None",
        ),
        (
            lambda db: db.record_exit(
                "A-0", code=1, signal=None, description="", at=math.inf, restart_count=0
            ),
            "at must be a finite number",
        ),
        (
            lambda db: db.record_exit(
                "A-0", code=1, signal=None, description="", at=T0, restart_count=-1
            ),
            "restart_count must be 0 or more",
        ),
        (
            lambda db: db.record_exit(
                "Nope-0", code=1, signal=None, description="", at=T0, restart_count=0
            ),
            "no server 'Nope-0' is deployed",
        ),
        (lambda db: db.remove_application(""), "application name must not be empty"),
        (lambda db: db.application(None), "application name must be a string"),
        (lambda db: db.history(""), "application name must not be empty"),
        (lambda db: db.servers(""), "application name must not be empty"),
        (lambda db: db.server(""), "server id must not be empty"),
        (
            lambda db: db.record_node(
                "", hostname="h", os="Linux", endpoints="", version="", now=T0
            ),
            "node name must not be empty",
        ),
        (
            lambda db: db.record_node(
                "n", hostname=None, os="Linux", endpoints="", version="", now=T0
            ),
            "hostname must be a string",
        ),
        (lambda db: db.node_seen("n", -math.inf), "now must be a finite number"),
        (lambda db: db.forget_node(""), "node name must not be empty"),
        (lambda db: db.node(""), "node name must not be empty"),
    ],
)
def test_bad_input_to_other_calls_is_refused_and_writes_nothing(
    database: RegistryDatabase, call: Any, complaint: str
) -> None:
    deploy(database, "Grid", {"A-0": "master"})
    database.record_node("n", hostname="h", os="Linux", endpoints="", version="", now=T0)
    before = snapshot(database)

    with pytest.raises(RegistryDatabaseError, match=complaint):
        call(database)

    assert snapshot(database) == before


# --------------------------------------------------------------------------- servers


def test_disabling_and_enabling_a_server(database: RegistryDatabase) -> None:
    deploy(database, "Grid", {"A-0": "master"})

    database.set_enabled("A-0", False, by=DisabledBy.FAILURE, reason="failed 5 times")
    assert database.server("A-0") == StoredServer(
        "A-0", "Grid", "master", False, DisabledBy.FAILURE, "failed 5 times"
    )
    database.set_enabled("A-0", False, by="user")
    assert database.server("A-0") == StoredServer("A-0", "Grid", "master", False, DisabledBy.USER)
    database.set_enabled("A-0", True)
    assert database.server("A-0") == StoredServer("A-0", "Grid", "master")


def test_recording_exits_keeps_the_last_one(database: RegistryDatabase) -> None:
    deploy(database, "Grid", {"A-0": "master"})

    database.record_exit("A-0", code=1, signal=None, description="exit 1", at=T0, restart_count=1)
    database.record_exit(
        "A-0", code=None, signal=11, description="SIGSEGV", at=T0 + 5, restart_count=2
    )

    server = database.server("A-0")
    assert server is not None
    assert (server.last_exit, server.restart_count) == (ServerExit(None, 11, "SIGSEGV", T0 + 5), 2)


def test_records_are_frozen(database: RegistryDatabase) -> None:
    deploy(database, "Grid", {"A-0": "master"}, variables={"k": "v"})
    app = database.application("Grid")
    server = database.server("A-0")
    assert app is not None and server is not None

    with pytest.raises(dataclasses.FrozenInstanceError):
        app.revision = 9  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        server.enabled = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        app.variables["k"] = "w"  # type: ignore[index]


# --------------------------------------------------------------------------- nodes


def test_nodes_register_are_seen_and_forgotten(database: RegistryDatabase) -> None:
    database.record_node(
        "node1", hostname="b", os="Linux", endpoints="tcp -p 1", version="0.1", now=T0
    )
    database.record_node("master", hostname="a", os="Linux", endpoints="", version="0.1", now=T0)
    assert database.node_seen("node1", T0 + 30) is True
    assert database.node_seen("ghost", T0 + 30) is False
    assert database.nodes() == [
        StoredNode("master", "a", "Linux", "", "0.1", T0, T0),
        StoredNode("node1", "b", "Linux", "tcp -p 1", "0.1", T0, T0 + 30),
    ]

    # Registering again replaces what the node said, and resets both times.
    database.record_node(
        "node1", hostname="c", os="Darwin", endpoints="tcp -p 2", version="0.2", now=T0 + 60
    )
    assert database.node("node1") == StoredNode(
        "node1", "c", "Darwin", "tcp -p 2", "0.2", T0 + 60, T0 + 60
    )

    assert database.forget_node("node1") is True
    assert database.forget_node("node1") is False
    assert database.node("node1") is None
    assert [n.name for n in database.nodes()] == ["master"]


# --------------------------------------------------------------------------- batches


def exit_of(code: int) -> dict[str, Any]:
    return {"code": code, "signal": None, "description": f"exit {code}", "at": T0 + code}


def test_writes_in_a_batch_land_together_and_an_unknown_server_fails_alone(
    database: RegistryDatabase,
) -> None:
    """A node reporting many exits at once: one transaction for all of them; a server removed
    meanwhile fails its own write only."""
    deploy(database, "Grid", {"A-0": "master", "A-1": "master"})
    failures = []
    with database.batch():
        database.record_exit("A-0", **exit_of(1), restart_count=0)
        try:
            database.record_exit("Gone-9", **exit_of(2), restart_count=0)
        except RegistryDatabaseError as error:
            failures.append(error)
        database.set_enabled("A-1", False, by="failure", reason="crashed")
        database.record_exit("A-1", **exit_of(3), restart_count=4)

    assert [str(f.message) for f in failures] == [
        "no server 'Gone-9' is deployed; nothing was written"
    ]
    first, second = database.servers()
    assert first.last_exit == ServerExit(1, None, "exit 1", T0 + 1)
    assert (second.enabled, second.last_exit, second.restart_count) == (
        False,
        ServerExit(3, None, "exit 3", T0 + 3),
        4,
    )


def test_an_sql_failure_in_a_batch_fails_what_follows_and_rolls_it_all_back(
    database: RegistryDatabase,
) -> None:
    deploy(database, "Grid", {"A-0": "master", "A-1": "master"})
    before = snapshot(database)
    seen = []
    with (
        pytest.raises(RegistryDatabaseError, match="no such table") as raised,
        database.batch(),
    ):
        database.record_exit("A-0", **exit_of(1), restart_count=0)
        with pytest.raises(RegistryDatabaseError, match="no such table") as failed:
            database._write(lambda connection: connection.execute("DELETE FROM missing"))
        seen.append(failed.value)
        with pytest.raises(RegistryDatabaseError, match="no such table"):
            database.record_exit("A-1", **exit_of(2), restart_count=0)
    assert raised.value is seen[0]
    assert snapshot(database) == before
    database.record_exit("A-1", **exit_of(2), restart_count=0)  # the next call is on its own
    after = database.server("A-1")
    assert after is not None and after.last_exit == ServerExit(2, None, "exit 2", T0 + 2)


def test_a_deploy_cannot_join_a_batch(
    database: RegistryDatabase,
) -> None:
    deploy(database, "Grid", {"A-0": "master"})
    with database.batch():
        with pytest.raises(RuntimeError, match="cannot be part of a batch"):
            deploy(database, "Grid", {"A-0": "master", "A-1": "master"})
        database.record_exit("A-0", **exit_of(1), restart_count=0)
    (only,) = database.servers()
    assert (only.server_id, only.last_exit) == ("A-0", ServerExit(1, None, "exit 1", T0 + 1))


# --------------------------------------------------------------------------- lifetime


def test_close_is_idempotent_and_a_closed_database_says_so(registry_dir: Path) -> None:
    db = RegistryDatabase.open(registry_dir)
    assert db.schema_version == 1
    db.close()
    db.close()

    with pytest.raises(RegistryDatabaseError, match="is closed") as caught:
        db.applications()
    assert isinstance(caught.value, ShoalError)


def test_a_failed_commit_is_reported(database: RegistryDatabase) -> None:
    # The work ends the transaction itself, so the final COMMIT fails: no silent success.
    with pytest.raises(RegistryDatabaseError, match="no transaction is active"):
        database._write(lambda connection: connection.execute("COMMIT"))
    assert deploy(database, "Grid", {"A-0": "master"}) == 1


# --------------------------------------------------------------------------- threads


@pytest.mark.asyncio
async def test_concurrent_calls_from_worker_threads_are_safe(database: RegistryDatabase) -> None:
    server_ids = [f"P-{i}" for i in range(12)]
    deploy(database, "Grid", dict.fromkeys(server_ids, "master"))

    async def exits(server_id: str) -> None:
        for count in range(1, 11):
            await asyncio.to_thread(
                database.record_exit,
                server_id,
                code=count,
                signal=None,
                description=f"exit {count}",
                at=T0 + count,
                restart_count=count,
            )

    async def toggles(server_id: str) -> None:
        for _ in range(5):
            await asyncio.to_thread(database.set_enabled, server_id, False, by="user")
            await asyncio.to_thread(database.set_enabled, server_id, True)

    async def deploys() -> list[int]:
        revisions = []
        for step in range(10):
            servers = {f"O-{i}": "node1" for i in range(step + 1)}
            revisions.append(await asyncio.to_thread(deploy, database, "Other", servers))
        return revisions

    async def readers() -> None:
        for _ in range(20):
            grid = await asyncio.to_thread(database.servers, "Grid")
            assert [s.server_id for s in grid] == sorted(server_ids)
            other = await asyncio.to_thread(database.application, "Other")
            if other is not None:
                # Snapshot reads: the servers match the revision read with them.
                servers = await asyncio.to_thread(database.servers, "Other")
                assert len(servers) >= other.revision

    results = await asyncio.gather(
        *(exits(s) for s in server_ids),
        *(toggles(s) for s in server_ids[:4]),
        deploys(),
        readers(),
        readers(),
    )

    assert results[len(server_ids) + 4] == list(range(1, 11))
    for server in database.servers("Grid"):
        assert (server.enabled, server.restart_count) == (True, 10)
        assert server.last_exit == ServerExit(10, None, "exit 10", T0 + 10)
    assert len(database.servers("Other")) == 10
