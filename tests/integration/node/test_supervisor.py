"""A supervisor with the real Activator: spawn, crash and restart, crash loop, stop, signal.

Each test drives one server made of tests/servers/misbehave.py and waits on its state or its
output (bounded), never on the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import pytest

from shoal.config.properties import load_file
from shoal.descriptor.model import Activation
from shoal.errors import BadSignalError, ServerDisabledError, ShoalError
from shoal.node import lifecycle as lc
from shoal.node.activator import RunningProcess
from shoal.node.hooks import Launch, ReadyAtSpawn, ServerHook
from shoal.node.restart import RestartPolicy
from shoal.node.service import NodeService
from shoal.node.supervisor import LoadResult, NodeSettings, Supervisor
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.convert import server_to_pb

from .conftest import NodeParts, clean_up, make_parts, output_has, server, until


@pytest.mark.asyncio
async def test_start_runs_the_server_with_its_config_and_output_captured(parts: NodeParts) -> None:
    """A manual server: start waits for Active; the config file and output are where IceGrid
    puts them, and SHOAL_CONFIG names the file."""
    sup = parts.supervisor("Echo-1")
    description = server(
        "Echo-1",
        "--show",
        "env:SHOAL_CONFIG",
        "--show",
        "cwd",
        properties=(("Echo.Greeting", "hello # world"), ("Echo.Dir", "${server.data}")),
    )
    assert sup.load(description) is LoadResult.ADDED
    status = await sup.start()
    assert status.state == common_pb2.ACTIVE and status.pid > 0
    config = parts.settings.node_data / "servers" / "Echo-1" / "config" / "config"
    data_dir = parts.settings.node_data / "servers" / "Echo-1" / "data"
    text = await output_has(parts.root / "log" / "Echo-1.out", "ready")
    assert f"env:SHOAL_CONFIG={config}" in text
    assert f"cwd={data_dir}" in text
    read = load_file(config).as_dict()
    assert read["Echo.Greeting"] == "hello # world"
    assert read["Echo.Dir"] == str(data_dir)
    assert read["Ice.Admin.ServerId"] == "Echo-1"
    assert read["Ice.Default.Locator"] == "IceGrid/Locator:tcp -p 4061"
    assert [s.state for s in parts.published][-1] == common_pb2.ACTIVE


def test_the_node_environment_servers_get_is_taken_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers' base environment is filtered from the node's when the node starts, not again
    at each spawn (it walks the node's whole environment)."""
    monkeypatch.setenv("LC_SHOAL_TEST", "at start")
    settings = NodeSettings(node_name="node1", node_data=tmp_path, node_values={})
    monkeypatch.setenv("LC_SHOAL_TEST", "later")
    assert settings.base_env is not None and settings.base_env["LC_SHOAL_TEST"] == "at start"
    assert "PATH" in settings.base_env and "PYTHONDONTWRITEBYTECODE" not in settings.base_env


@pytest.mark.asyncio
async def test_an_always_server_that_crashes_is_restarted_with_a_new_pid(
    parts: NodeParts,
) -> None:
    sup = parts.supervisor("Always-1")
    sup.load(server("Always-1", activation=Activation.ALWAYS))
    await until(lambda: sup.machine.state is lc.State.ACTIVE, "Always-1 active")
    first = sup.machine.pid
    assert first is not None
    await output_has(parts.root / "log" / "Always-1.out", "ready")
    sup.send_signal("SIGSEGV")
    await until(
        lambda: sup.machine.state is lc.State.ACTIVE and sup.machine.pid not in (None, first),
        "Always-1 restarted",
    )
    assert sup.machine.restart_count == 1
    assert sup.status().last_exit.signal == "SIGSEGV"
    assert sup.status().last_exit.failure


@pytest.mark.asyncio
async def test_a_stop_logs_no_exit_line_and_a_crash_does(
    parts: NodeParts, caplog: pytest.LogCaptureFixture
) -> None:
    """The end of a requested stop is told by its Inactive line (the pid is on the
    Deactivating line): no line of its own. An exit nobody asked for has one, a warning."""
    sup = parts.supervisor("Told-1")
    sup.load(server("Told-1"))
    with caplog.at_level(logging.INFO, logger="shoal.node"):
        await sup.start()
        pid = sup.machine.pid
        await output_has(parts.root / "log" / "Told-1.out", "ready")
        await sup.stop()
        await sup.start()
        crashed = sup.machine.pid
        output = parts.root / "log" / "Told-1.out"
        await until(lambda: output.read_text().count("ready") == 2, "Told-1 ready again")
        sup.send_signal("SIGSEGV")
        await until(lambda: not sup.running, "Told-1 crashed")
        await asyncio.sleep(0)  # its reports go out at the end of the loop's turn
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    stopping = lines.index(("INFO", f"server Told-1: Deactivating (pid {pid}): stop requested"))
    assert lines[stopping + 1] == (
        "INFO",
        "server Told-1: Inactive (pid -): stopped (killed by SIGTERM)",
    )
    assert not any(f"pid {pid} killed" in line for _, line in lines)
    assert ("WARNING", f"server Told-1: pid {crashed} killed by SIGSEGV (unexpected)") in lines


@pytest.mark.asyncio
async def test_a_crash_loop_disables_the_server_with_its_reason(tmp_path: Path) -> None:
    """exit 1 after a moment, again and again: disabled once over the crash loop limit."""
    parts = make_parts(
        tmp_path, policy=RestartPolicy(backoff_base=0.01, backoff_cap=0.02, crash_loop_limit=2)
    )
    try:
        sup = parts.supervisor("Loop-1")
        sup.load(server("Loop-1", "--exit", "1", "--after", "50"))
        await sup.start()
        # A manual server is not restarted: start it again after each exit.
        for _ in range(2):
            await until(lambda: not sup.running, "Loop-1 exited")
            await sup.start()
        await until(lambda: not sup.machine.enabled, "Loop-1 disabled")
        status = sup.status()
        assert status.disabled_by == common_pb2.ServerStatus.FAILURE
        assert "crash loop" in sup.machine.disabled.reason  # type: ignore[union-attr]
        with pytest.raises(ServerDisabledError):
            await sup.start()
    finally:
        await clean_up(parts)


@pytest.mark.asyncio
async def test_an_always_server_failing_at_once_is_disabled(parts: NodeParts) -> None:
    """An always server that fails before it is ready is disabled (IceGrid's rule), and start
    says why."""
    sup = parts.supervisor("Bad-1")
    sup.load(server("Bad-1", exe="/nonexistent/server", activation=Activation.ALWAYS))
    await until(lambda: not sup.machine.enabled, "Bad-1 disabled")
    assert "/nonexistent/server" in (sup.machine.disabled.reason)  # type: ignore[union-attr]
    with pytest.raises(ServerDisabledError):
        await sup.start()


@pytest.mark.asyncio
@pytest.mark.slow
async def test_stop_sends_term_then_kill_after_the_deactivation_timeout(
    parts: NodeParts,
) -> None:
    sup = parts.supervisor("Stubborn-1")
    sup.load(server("Stubborn-1", "--ignore-term", deactivation_timeout=1))
    await sup.start()
    await output_has(parts.root / "log" / "Stubborn-1.out", "ready")
    status = await sup.stop()
    assert status.state == common_pb2.INACTIVE
    assert status.last_exit.signal == "SIGKILL"
    reasons = [h.reason for h in status.history]
    assert any("SIGKILL sent" in r for r in reasons)


@pytest.mark.asyncio
async def test_stop_waits_for_the_exit_and_an_always_server_comes_back(
    parts: NodeParts,
) -> None:
    sup = parts.supervisor("Always-2")
    sup.load(server("Always-2", activation=Activation.ALWAYS))
    await until(lambda: sup.machine.state is lc.State.ACTIVE, "Always-2 active")
    first = sup.machine.pid
    await output_has(parts.root / "log" / "Always-2.out", "ready")
    status = await sup.stop()
    assert status.last_exit.signal == "SIGTERM"
    await until(lambda: sup.machine.pid not in (None, first), "Always-2 restarted after stop")
    status = await sup.stop(keep_down=True)
    assert status.state == common_pb2.INACTIVE


@pytest.mark.asyncio
async def test_signal_reaches_the_server_and_bad_signals_are_refused(parts: NodeParts) -> None:
    sup = parts.supervisor("Sig-1")
    sup.load(server("Sig-1"))
    with pytest.raises(ShoalError, match="not running"):
        sup.send_signal("SIGUSR1")
    with pytest.raises(BadSignalError):
        sup.send_signal("SIGFOO")
    await sup.start()
    await output_has(parts.root / "log" / "Sig-1.out", "ready")
    assert sup.send_signal("USR1") == signal.SIGUSR1
    await until(lambda: not sup.running, "Sig-1 killed by SIGUSR1")
    assert sup.status().last_exit.signal == "SIGUSR1"


@pytest.mark.asyncio
async def test_an_unchanged_description_keeps_the_process(parts: NodeParts) -> None:
    sup = parts.supervisor("Keep-1")
    description = server("Keep-1", activation=Activation.ALWAYS)
    sup.load(description)
    await until(lambda: sup.machine.state is lc.State.ACTIVE, "Keep-1 active")
    pid = sup.machine.pid
    assert sup.load(description) is LoadResult.UNCHANGED
    assert sup.machine.pid == pid
    changed = server("Keep-1", "--show", "pid", activation=Activation.ALWAYS)
    assert sup.load(changed) is LoadResult.RESTARTED
    await until(
        lambda: sup.machine.state is lc.State.ACTIVE and sup.machine.pid != pid, "Keep-1 reloaded"
    )


@pytest.mark.asyncio
async def test_destroy_stops_the_server_and_forgets_it(parts: NodeParts) -> None:
    sup = parts.supervisor("Gone-1")
    sup.load(server("Gone-1"))
    await sup.start()
    pid = sup.machine.pid
    assert pid is not None
    await sup.destroy()
    assert sup.status().state == common_pb2.DESTROYED
    assert pid not in parts.activator.running


class _BrokenHook(ServerHook):
    async def prestart(self, launch: Launch) -> None:
        raise RuntimeError("a bug in a hook")


@pytest.mark.asyncio
async def test_a_hook_that_fails_with_a_bug_fails_the_start_instead_of_hanging(
    parts: NodeParts,
) -> None:
    """A prestart hook raising something other than a ShoalError or OSError (a bug): the spawn
    fails with the error's words and `start` returns its error; the server is not left
    Activating for ever."""
    sup = Supervisor(
        "Broken-1",
        parts.settings,
        parts.activator,
        hooks=(_BrokenHook(),),
        readiness=ReadyAtSpawn(),
        on_publish=parts.published.append,
    )
    sup.load(server("Broken-1"))
    with pytest.raises(ShoalError, match="a bug in a hook"):
        await asyncio.wait_for(sup.start(), 5.0)
    assert sup.machine.public_state() is lc.PublicState.INACTIVE


@pytest.mark.asyncio
async def test_stopping_the_node_cancels_the_restart_of_a_server_in_back_off(
    tmp_path: Path,
) -> None:
    """An always server crashes twice and waits 5 s to restart; the node stops (stop_all): the
    server is Inactive with no restart timer left, so nothing spawns while the node exits."""
    parts = make_parts(tmp_path, policy=RestartPolicy(backoff_base=5.0, backoff_cap=5.0))
    service = parts.service()
    try:
        request = internal_pb2.LoadServersRequest(
            servers=[server_to_pb(server("Crash-1", activation=Activation.ALWAYS))], complete=True
        )
        await service.LoadServers(request, None)  # type: ignore[arg-type]
        sup = service.supervisor("Crash-1")
        for _ in range(2):
            await until(lambda: sup.machine.state is lc.State.ACTIVE, "Crash-1 active")
            pid = sup.machine.pid
            sup.send_signal("SIGSEGV")
            await until(lambda pid=pid: sup.machine.pid != pid, f"Crash-1 (pid {pid}) exited")
        await until(lambda: sup.machine.state is lc.State.WAITING_TO_RESTART, "Crash-1 in back-off")
        await service.stop_all()
        assert sup.machine.state is lc.State.INACTIVE
        assert lc.TimerKind.RESTART not in sup.machine.timers
    finally:
        await clean_up(parts, service)


# --------------------------------------------------------------------------- many at once


class Journal:
    """What a node did, in order: the activator's signals and the statuses it published."""

    def __init__(self, parts: NodeParts) -> None:
        self.events: list[tuple[str, str, int]] = []
        real_signal = parts.activator.signal

        def signal_and_note(process: RunningProcess, sig: str | int) -> int:
            number = real_signal(process, sig)
            self.events.append(("signal", process.server_id, number))
            return number

        parts.activator.signal = signal_and_note  # type: ignore[method-assign]
        self.service = NodeService(
            parts.settings,
            parts.activator,
            output=parts.output,
            hooks=parts.hooks()[:1],
            readiness=ReadyAtSpawn(),
            on_publish=lambda status: self.events.append(
                ("publish", status.server_id, status.state)
            ),
        )

    def states(self, server_id: str) -> list[int]:
        return [e[2] for e in self.events if e[0] == "publish" and e[1] == server_id]


async def running_always_servers(journal: Journal, server_ids: list[str]) -> None:
    service = journal.service
    request = internal_pb2.LoadServersRequest(
        servers=[server_to_pb(server(i, activation=Activation.ALWAYS)) for i in server_ids],
        complete=True,
    )
    await service.LoadServers(request, None)  # type: ignore[arg-type]
    # Reported active (the reports of a change come at the end of the loop's turn).
    await until(
        lambda: all(common_pb2.ACTIVE in journal.states(i) for i in server_ids),
        f"{server_ids} reported active",
    )
    journal.events.clear()


@pytest.mark.asyncio
async def test_a_node_starting_many_servers_writes_each_config_and_fails_only_the_broken_one(
    parts: NodeParts, caplog: pytest.LogCaptureFixture
) -> None:
    """Six `always` servers loaded at once: their config files are written by shared jobs in
    worker threads, and each spawn waits for its own. One server's directory cannot be made
    (a file is in the way): that server alone fails to start, with the reason; the others run
    with their own config file, are in the pid record, and each start is one log line."""
    journal = Journal(parts)
    service = journal.service
    good = [f"Many-{i}" for i in range(5)]
    servers_dir = parts.settings.node_data / "servers"
    servers_dir.mkdir(parents=True)
    (servers_dir / "Broken-1").write_text("not a directory")
    request = internal_pb2.LoadServersRequest(
        revision=3,
        servers=[
            server_to_pb(server(i, "--show", "env:SHOAL_CONFIG", activation=Activation.ALWAYS))
            for i in [*good, "Broken-1"]
        ],
        complete=True,
    )
    try:
        with caplog.at_level(logging.INFO, logger="shoal.node"):
            await service.LoadServers(request, None)  # type: ignore[arg-type]
            await until(
                lambda: all(common_pb2.ACTIVE in journal.states(i) for i in good),
                f"{good} reported active",
            )
            broken = service.supervisor("Broken-1").machine
            await until(lambda: not broken.enabled, "Broken-1 disabled after failing to start")
        assert "Not a directory" in broken.disabled.reason  # type: ignore[union-attr]
        for server_id in good:
            config = servers_dir / server_id / "config" / "config"
            assert load_file(config).as_dict()["Ice.Admin.ServerId"] == server_id
            text = await output_has(parts.root / "log" / f"{server_id}.out", "ready")
            assert f"env:SHOAL_CONFIG={config}" in text
        recorded = parts.activator._record.entries()  # type: ignore[union-attr]
        assert sorted(e.server_id for e in recorded) == good
        lines = [r.getMessage() for r in caplog.records]
        assert "6 servers added (revision 3): " + ", ".join([*good, "Broken-1"]) in lines
        for server_id in good:
            pid = service.supervisor(server_id).machine.pid
            started = [line for line in lines if line.startswith(f"server {server_id}: ")]
            assert started == [
                f"server {server_id}: Activating (pid -): always activation: started on load",
                f"server {server_id}: Active (pid {pid}): spawned pid {pid}; ready",
            ]
    finally:
        await clean_up(parts, service)


@pytest.mark.asyncio
async def test_the_output_pipes_of_a_server_are_closed_once_it_has_exited(
    parts: NodeParts,
) -> None:
    """The node reads a server's output from pipes; at the end of the output (the server and
    everything holding the pipes gone) it closes its read ends: no descriptor left behind."""
    sup = parts.supervisor("Brief-1")
    sup.load(server("Brief-1", "--exit", "0", "--after", "50"))
    before = _pipes()
    await sup.start()
    assert len(_pipes() - before) == 2, "its stdout and stderr are read"
    await output_has(parts.root / "log" / "Brief-1.out", "ready")
    await until(lambda: not sup.running, "Brief-1 exited")
    await until(lambda: _pipes() <= before, "the read ends of Brief-1's pipes closed")


def _pipes() -> set[str]:
    """This process's descriptors open on pipes (`fd -> pipe:[inode]`)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor, gone
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith("pipe:"):
                found.add(f"{name} {target}")
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["stop_all", "destroy"])
async def test_a_node_stopping_many_servers_signals_every_one_before_any_report(
    parts: NodeParts, how: str
) -> None:
    """The node stops (or destroys) five running `always` servers at once: all five SIGTERMs
    go out before the first status is published (the log lines and statuses come after).
    Each server's statuses still come in order, and the `always` servers stay down."""
    journal = Journal(parts)
    service = journal.service
    server_ids = [f"Many-{i}" for i in range(5)]
    try:
        await running_always_servers(journal, server_ids)
        if how == "stop_all":
            await service.stop_all()
            expected = [common_pb2.DEACTIVATING, common_pb2.INACTIVE]
        else:
            assert await service.destroy(server_ids) == server_ids
            expected = [common_pb2.DESTROYING, common_pb2.DESTROYED]

        kinds = [kind for kind, _, _ in journal.events]
        signals = [e for e in journal.events if e[0] == "signal"]
        assert sorted(e[1] for e in signals) == server_ids
        assert {e[2] for e in signals} == {signal.SIGTERM}
        assert kinds[: len(server_ids)] == ["signal"] * len(server_ids), journal.events
        for server_id in server_ids:
            assert journal.states(server_id) == expected
        assert not parts.activator.running
        if how == "stop_all":
            assert all(s.machine.state is lc.State.INACTIVE for s in service.servers.values())
        else:
            assert not service.servers
    finally:
        await clean_up(parts, service)


class _FailingFarewell(ServerHook):
    """A hook whose `destroyed` fails for one server and notes every call."""

    def __init__(self, failing: str) -> None:
        self.failing = failing
        self.told: list[str] = []

    def destroyed(self, server_id: str) -> None:
        self.told.append(server_id)
        if server_id == self.failing:
            raise ShoalError(f"cannot let go of {server_id}")


@pytest.mark.asyncio
async def test_a_failing_hook_does_not_spare_the_servers_destroyed_after_it(
    parts: NodeParts,
) -> None:
    hook = _FailingFarewell("Bye-0")
    service = NodeService(
        parts.settings,
        parts.activator,
        output=parts.output,
        hooks=(*parts.hooks()[:1], hook),
        readiness=ReadyAtSpawn(),
        on_publish=lambda status: None,
    )
    server_ids = [f"Bye-{i}" for i in range(3)]
    request = internal_pb2.LoadServersRequest(
        servers=[server_to_pb(server(i, activation=Activation.ALWAYS)) for i in server_ids],
        complete=True,
    )
    try:
        await service.LoadServers(request, None)  # type: ignore[arg-type]
        await until(lambda: len(parts.activator.running) == 3, "three servers running")

        with pytest.raises(ShoalError, match="cannot let go of Bye-0"):
            await service.destroy(server_ids)

        assert hook.told == server_ids  # the first one's failure spared neither of the others
        assert not parts.activator.running
    finally:
        await clean_up(parts, service)


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_server_ignoring_sigterm_is_killed_after_its_timeout_when_the_node_stops(
    parts: NodeParts,
) -> None:
    """stop_all signals every server first, and each one's SIGKILL deadline is armed with its
    SIGTERM: a server that ignores SIGTERM is killed 1 s later, the others end at once."""
    journal = Journal(parts)
    service = journal.service
    stubborn = server("Stubborn-2", "--ignore-term", deactivation_timeout=1)
    request = internal_pb2.LoadServersRequest(
        servers=[server_to_pb(stubborn), server_to_pb(server("Meek-1"))], complete=True
    )
    try:
        await service.LoadServers(request, None)  # type: ignore[arg-type]
        for server_id in ("Stubborn-2", "Meek-1"):
            await service.supervisor(server_id).start()
        await output_has(parts.root / "log" / "Stubborn-2.out", "ready")
        await asyncio.wait_for(service.stop_all(), 10)
        status = service.supervisor("Stubborn-2").status()
        assert status.state == common_pb2.INACTIVE
        assert status.last_exit.signal == "SIGKILL"
        assert service.supervisor("Meek-1").status().last_exit.signal == "SIGTERM"
        assert not parts.activator.running
    finally:
        await clean_up(parts, service)


@pytest.mark.asyncio
async def test_statuses_published_later_show_the_server_as_it_was_at_each_change(
    parts: NodeParts,
) -> None:
    """Disabled then enabled again in one go: both statuses go out after the fact, the first
    one disabled, the second enabled (each taken at its change, not when it is sent)."""
    sup = parts.supervisor("Flags-1")
    sup.load(server("Flags-1"))  # manual: nothing to report
    sup.disable()
    sup.enable()
    assert parts.published == []  # reported at the end of the loop's turn
    await until(lambda: len(parts.published) == 2, "two statuses published")
    assert [s.enabled for s in parts.published] == [False, True]
    assert [h.reason for h in parts.published[0].history][-1] == "disabled by user"
    assert [h.reason for h in parts.published[1].history][-1] == "enabled by user"
