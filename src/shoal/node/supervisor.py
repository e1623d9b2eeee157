"""One server on the node: the thin asyncio shell around its `ServerMachine`.

It feeds the machine events (requests, Spawned, SpawnFailed, Ready, Exited, TimerFired) and runs
the actions it returns: Spawn (hooks, then the Activator), Signal, ArmTimer/CancelTimer (the
loop's monotonic clock, which is also the machine's `now`), Publish (a callback: the session's
ReportState and local waiters), RecordExit (the log). Waiting calls (`start`, `stop`, `destroy`)
watch the machine after each step; they never decide anything themselves.

Acting and reporting are apart. Spawn, Signal and the timers run as the event is fed; the
reports (Publish's log line and ServerStatus, RecordExit's log line) go out at the end of the
loop's turn (call_soon), built from a snapshot (`_Seen`) taken right after the event. Why: a
node stopping or destroying 50 servers (NodeService asks each one, then waits for them all) used
to format a line and build a status for each server before it signalled the next, so the 50th
SIGTERM left ~25-50 ms after the request. Now the SIGTERMs go out first, each with its SIGKILL
deadline armed, and the lines and statuses follow. The machine and the order of its actions are
untouched (when to run them is the shell's business); each server's reports keep their order
(one queue, flushed in order, and a waiter woken by a change resumes after that change's
reports: the flush is scheduled before the wake-up); and they tell the server as it was at the
change, not at the flush (disabled then enabled in one turn: a disabled status, then an enabled
one).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import signal as signals
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType

from google.protobuf.timestamp_pb2 import Timestamp

from shoal.descriptor.expand import resolve_node_variables
from shoal.descriptor.model import Activation, ServerDescription
from shoal.errors import BadSignalError, ServerDisabledError, ShoalError, TimedOutError
from shoal.node import lifecycle as lc
from shoal.node.activator import (
    Activator,
    BadSignal,
    NotRunning,
    RunningProcess,
    SpawnSpec,
    clean_base_env,
    parse_signal,
    signal_name,
)
from shoal.node.activator import Exit as ProcessExit
from shoal.node.hooks import Launch, Readiness, ServerHook, server_config_path, server_data_dir
from shoal.node.restart import Exit
from shoal.rpc import common_pb2

__all__ = ["LoadResult", "NodeSettings", "Supervisor"]

_log = logging.getLogger(__name__)

_RUNNING_PUBLIC = frozenset(
    {lc.PublicState.ACTIVATING, lc.PublicState.ACTIVE, lc.PublicState.ACTIVATION_TIMED_OUT}
)
# A process nobody asked to stop: a no-restart deploy keeps it (lifecycle's _RUNNING).
_LIVE_STATES = frozenset(
    {lc.State.WAIT_FOR_ACTIVATION, lc.State.ACTIVATION_TIMED_OUT, lc.State.ACTIVE}
)
_DISABLED_BY = {
    None: common_pb2.ServerStatus.NONE,
    lc.DisabledBy.USER: common_pb2.ServerStatus.USER,
    lc.DisabledBy.FAILURE: common_pb2.ServerStatus.FAILURE,
}


@dataclass(frozen=True)
class NodeSettings:
    """What every server on this node shares: read once from the node's properties."""

    node_name: str
    node_data: Path  # IceGrid.Node.Data, absolute
    node_values: Mapping[str, str]  # node.os, node.hostname ... for resolve_node_variables
    supervision: lc.SupervisionConfig = field(default_factory=lc.SupervisionConfig)
    base_env: Mapping[str, str] | None = None  # None: activator.clean_base_env(), taken here

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_values", MappingProxyType(dict(self.node_values)))
        # Once, not at every spawn: it walks (and decodes) the node's whole environment.
        base_env = clean_base_env() if self.base_env is None else self.base_env
        object.__setattr__(self, "base_env", MappingProxyType(dict(base_env)))


class LoadResult(Enum):
    """What loading a description did (LoadOutcome.Result's names)."""

    UNCHANGED = "unchanged"
    ADDED = "added"
    UPDATED = "updated"
    RESTARTED = "restarted"
    LIVE = "updated without a restart"  # a no-restart deploy: call `reconfigure` next


class Supervisor:
    """Runs one server's machine: actions to processes and timers, process news to events."""

    def __init__(
        self,
        server_id: str,
        settings: NodeSettings,
        activator: Activator,
        *,
        hooks: Sequence[ServerHook] = (),
        readiness: Readiness,
        on_publish: Callable[[common_pb2.ServerStatus], None] = lambda status: None,
        adapters: Callable[[str, int], Sequence[common_pb2.AdapterStatus]] = lambda sid, pid: (),
    ) -> None:
        self.server_id = server_id
        self._adapters = adapters  # (server id, pid) -> what that process registered
        self.settings = settings
        self.revision = 0
        self._activator = activator
        self._hooks = tuple(hooks)
        self._readiness = readiness
        self._on_publish = on_publish
        self._loop = asyncio.get_running_loop()
        self._machine = lc.ServerMachine(server_id, settings.supervision)
        # Made once (pathlib joins are slow), for every spawn's Launch.
        self._config_path = server_config_path(settings.node_data, server_id)
        self._data_dir = server_data_dir(settings.node_data, server_id)
        self._raw: ServerDescription | None = None  # as received, before node variables
        self._process: RunningProcess | None = None
        self._timers: dict[lc.TimerKind, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._readiness_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._unexpected_exits = 0  # counters waiters compare: "did *my* process end?"
        self._expected_exits = 0
        # Reports not yet made (see the module docstring), sent by one call_soon.
        self._outbox: list[_Report] = []
        # History entries as status shows them, by id (see _changes_of).
        self._changes: dict[int, tuple[lc.HistoryEntry, common_pb2.StateChange]] = {}

    # ----------------------------------------------------------------- views

    @property
    def machine(self) -> lc.ServerMachine:
        return self._machine

    @property
    def description(self) -> ServerDescription | None:
        """The description as the registry sent it (node variables not yet resolved)."""
        return self._raw

    @property
    def process(self) -> RunningProcess | None:
        return self._process

    @property
    def running(self) -> bool:
        """A process exists (or is being spawned, or stopped)."""
        return self._machine.state not in (
            lc.State.INACTIVE,
            lc.State.WAITING_TO_RESTART,
            lc.State.DESTROYED,
        )

    def status(self) -> common_pb2.ServerStatus:
        """What `server state|pid|list` show: the ServerStatus message."""
        return self._status_of(self._seen())

    def _seen(self) -> _Seen:
        """The facts status() shows, as they are now (immutable values: cheap to keep)."""
        machine = self._machine
        return _Seen(
            state=machine.public_state(),
            pid=machine.pid or 0,
            enabled=machine.enabled,
            disabled=machine.disabled,
            restart_count=machine.restart_count,
            started_at=machine.started_at,
            last_exit=machine.last_exit,
            history=machine.history,
            raw=self._raw,
            revision=self.revision,
        )

    def _status_of(self, seen: _Seen) -> common_pb2.ServerStatus:
        raw = seen.raw
        disabled = seen.disabled
        status = common_pb2.ServerStatus(
            server_id=self.server_id,
            node=self.settings.node_name,
            application=raw.application if raw is not None else "",
            state=_PB_STATE[seen.state],
            pid=seen.pid,
            enabled=seen.enabled,
            disabled_by=_DISABLED_BY[disabled.by if disabled else None],
            restart_count=seen.restart_count,
            activation=str(raw.activation) if raw is not None else "",
            revision=seen.revision,
            adapters=self._adapters(self.server_id, seen.pid),
        )
        # The machine counts on the loop's monotonic clock; status shows wall-clock times.
        to_wall = time.time() - self._loop.time()
        if disabled is not None and disabled.until is not None:
            _stamp(status.reenable_at, disabled.until + to_wall)
        if seen.started_at is not None:
            _stamp(status.started_at, seen.started_at + to_wall)
        last = seen.last_exit
        if last is not None:
            last_exit = status.last_exit
            last_exit.signal = signal_name(last.signal) if last.signal is not None else ""
            last_exit.description = last.description
            last_exit.failure = last.failure
            _stamp(last_exit.at, last.at + to_wall)
            if last.code is not None:
                last_exit.code = last.code
        status.history.extend(self._changes_of(seen.history, to_wall))
        return status

    def _changes_of(
        self, history: tuple[lc.HistoryEntry, ...], to_wall: float
    ) -> list[common_pb2.StateChange]:
        """The history as StateChange messages, each made once: a server's status is built at
        every change it makes, with up to HISTORY_SIZE entries that rarely change."""
        made = self._changes
        changes = []
        kept: dict[int, tuple[lc.HistoryEntry, common_pb2.StateChange]] = {}
        for entry in history:
            hit = made.get(id(entry))
            if hit is None or hit[0] is not entry:  # (an id is only unique among live objects)
                change = common_pb2.StateChange(
                    state=_PB_STATE[lc.public_state(entry.to_state)], reason=entry.reason
                )
                _stamp(change.at, entry.at + to_wall)
                hit = (entry, change)
            kept[id(entry)] = hit
            changes.append(hit[1])
        self._changes = kept
        return changes

    # ----------------------------------------------------------------- requests

    def load(
        self, description: ServerDescription, revision: int = 0, *, live: bool = False
    ) -> LoadResult:
        """Give the server its (new) description; a ShoalError if node variables fail.
        `live` (a no-restart deploy): a running process whose properties alone changed keeps
        running (LoadResult.LIVE); then `reconfigure` rewrites its config and tells it."""
        if description == self._raw:
            self.revision = revision or self.revision
            return LoadResult.UNCHANGED
        resolved = resolve_node_variables(description, self.settings.node_values)
        was_running = self._machine.public_state() in _RUNNING_PUBLIC
        first = self._raw is None
        # The machine keeps exactly such a process (lc.ServerMachine._on_load).
        kept = (
            live
            and self._machine.state in _LIVE_STATES
            and lc.properties_only(self._machine.description, resolved)
        )
        self._feed(lc.Load(resolved, live=live))
        self._raw, self.revision = description, revision
        if first:
            return LoadResult.ADDED
        if kept:
            return LoadResult.LIVE
        restarting = self.running or lc.Pending.START in self._machine.pending
        if was_running and restarting:
            return LoadResult.RESTARTED
        if resolved.activation is Activation.ALWAYS and self.running:
            return LoadResult.RESTARTED
        return LoadResult.UPDATED

    async def reconfigure(self) -> None:
        """After a LIVE load: the hooks rewrite the running server's config (ConfigWriter),
        then a process that registered adapters through shoal.server gets SIGHUP and re-reads
        it. Any other process is not signalled (SIGHUP's default action would end it): it finds
        the new file when it looks, or at its next start."""
        server, process = self._machine.description, self._process
        if server is None or process is None:
            return
        launch = self._launch(server)
        try:
            for hook in self._hooks:
                await hook.reconfigure(launch)
        except (ShoalError, OSError) as exc:  # the process runs on with its old properties
            _log.warning("server %s: cannot rewrite its config: %s", self.server_id, exc)
            return
        if not self._adapters(self.server_id, process.pid):
            _log.info("server %s: config rewritten; not told (no shoal.server)", self.server_id)
            return
        try:
            self._activator.signal(process, signals.SIGHUP)
        except (NotRunning, OSError) as exc:  # it ended meanwhile: its next start reads it
            _log.info("server %s: config rewritten; not told: %s", self.server_id, exc)
            return
        _log.info("server %s: config rewritten, SIGHUP sent (pid %d)", self.server_id, process.pid)

    async def start(self) -> common_pb2.ServerStatus:
        """Start the server and wait until it is Active; errors say why it is not."""
        unexpected = self._unexpected_exits
        self._feed(lc.Start())

        def settled() -> bool:
            machine = self._machine
            if machine.public_state() in (
                lc.PublicState.ACTIVE,
                lc.PublicState.ACTIVATION_TIMED_OUT,
                lc.PublicState.DESTROYED,
            ):
                return True
            if self._unexpected_exits != unexpected:
                return True  # the process we started ended (or never ran)
            return not self.running and lc.Pending.START not in machine.pending

        await self._wait_until(settled)
        machine = self._machine
        state = machine.public_state()
        if state is lc.PublicState.ACTIVE:
            return self.status()
        if state is lc.PublicState.ACTIVATION_TIMED_OUT:
            raise TimedOutError(
                f"server `{self.server_id}': the server activation timed out",
                "it runs but is not ready; look at its output (`server stderr`)",
            )
        if state is lc.PublicState.DESTROYED:
            raise ShoalError(f"server `{self.server_id}' was destroyed while starting")
        why = machine.last_exit.unexpected_reason if machine.last_exit else "it was stopped"
        if machine.disabled is not None:
            why += f"; disabled: {machine.disabled.reason}"
        raise ShoalError(
            f"server `{self.server_id}' did not start: {why}",
            f"see its output with `shoal admin ice server stderr {self.server_id}`",
        )

    async def stop(self, *, keep_down: bool = False) -> common_pb2.ServerStatus:
        """Stop the process (TERM, KILL after the deactivation timeout); wait for its exit.
        An `always` server starts again right after, unless `keep_down` (node shutdown)."""
        await self.stopping(keep_down=keep_down)
        return self.status()

    def stopping(self, *, keep_down: bool = False) -> Coroutine[None, None, None]:
        """`stop` in two steps, for stopping many servers at once: the stop is asked before
        this returns (its SIGTERM is sent); the coroutine, to be awaited, waits for the exit."""
        expected = self._expected_exits
        self._feed(lc.Stop(keep_down=keep_down))
        # An `always` server may be running again already: its old process's exit is the end.
        return self._wait_until(lambda: not self.running or self._expected_exits != expected)

    async def destroy(self) -> None:
        """Stop the process if any and forget the server; its hooks let go of it."""
        await self.destroying()

    def destroying(self) -> Coroutine[None, None, None]:
        """`destroy` in two steps, as `stopping`: asked now, the coroutine waits for the end."""
        self._feed(lc.Destroy())
        return self._destroyed()

    async def _destroyed(self) -> None:
        await self._wait_until(lambda: self._machine.state is lc.State.DESTROYED)
        for hook in self._hooks:
            hook.destroyed(self.server_id)

    def enable(self) -> common_pb2.ServerStatus:
        self._feed(lc.Enable())
        return self.status()

    def disable(self) -> common_pb2.ServerStatus:
        self._feed(lc.Disable())
        return self.status()

    def republish(self) -> None:
        """Report the status again: something it shows changed outside the machine (adapters).
        Queued behind the reports not yet made, so that the registry hears them in order."""
        self._queue(_Report((), self._seen(), publishes=1))

    def send_signal(self, sig: str) -> int:
        """Send a signal (a name or a number 1-63) to the server's process group."""
        try:
            number = parse_signal(_signal_argument(sig))  # a bad signal is reported first
        except BadSignal as exc:
            raise BadSignalError(exc.message, exc.hint, signal=sig) from exc
        process = self._process
        try:
            if process is None:
                raise NotRunning(f"server `{self.server_id}' is not running")
            return self._activator.signal(process, number)
        except NotRunning as exc:
            raise ShoalError(
                f"server `{self.server_id}' is not running",
                f"start it with `shoal admin ice server start {self.server_id}`",
            ) from exc

    # ----------------------------------------------------------------- the machine's shell

    def _feed(self, event: lc.Event) -> None:
        """One event in, its actions run in order (reports queued), then waiters look again."""
        try:
            actions = self._machine.handle(event, self._loop.time())
        except lc.RequestRefused as refused:
            if self._machine.disabled is not None and isinstance(event, lc.Start):
                raise ServerDisabledError(
                    refused.message, refused.hint, server_id=self.server_id
                ) from refused
            raise
        reports: list[lc.Publish | lc.RecordExit] = []
        publishes = 0
        for action in actions:
            if isinstance(action, lc.Publish):
                reports.append(action)
                publishes += 1
            elif isinstance(action, lc.RecordExit):
                reports.append(action)
                self._count_exit(action.expected)
            else:
                self._run(action)
        if reports:
            self._queue(_Report(tuple(reports), self._seen() if publishes else None, publishes))
        # Woken after the reports are made: _queue's call_soon comes first.
        self._changed.set()
        self._changed = asyncio.Event()

    def _run(self, action: lc.Action) -> None:
        match action:
            case lc.Spawn(description):
                self._spawn_task(description)
            case lc.Signal(pid, sig, _):
                self._signal(pid, sig)
            case lc.ArmTimer(kind, at):
                self._cancel_timer(kind)
                self._timers[kind] = self._loop.call_at(at, self._timer_fired, kind)
            case lc.CancelTimer(kind):
                self._cancel_timer(kind)

    def _count_exit(self, expected: bool) -> None:
        if expected:
            self._expected_exits += 1
        else:
            self._unexpected_exits += 1

    # ----------------------------------------------------------------- reports

    def _queue(self, report: _Report) -> None:
        if not self._outbox:
            self._loop.call_soon(self._send_reports)
        self._outbox.append(report)

    def _send_reports(self) -> None:
        outbox, self._outbox = self._outbox, []
        _log_reports([action for report in outbox for action in report.actions])
        for report in outbox:
            if report.seen is None:
                continue
            try:
                status = self._status_of(report.seen)
                for _ in range(report.publishes):
                    self._on_publish(status)
            except Exception:  # a broken observer must not break the server
                _log.exception("server %s: publishing its state failed", self.server_id)

    def _timer_fired(self, kind: lc.TimerKind) -> None:
        self._timers.pop(kind, None)
        self._feed(lc.TimerFired(kind))

    def _cancel_timer(self, kind: lc.TimerKind) -> None:
        handle = self._timers.pop(kind, None)
        if handle is not None:
            handle.cancel()

    def _signal(self, pid: int, sig: signals.Signals) -> None:
        process = self._process
        if process is None or process.pid != pid or process.exit is not None:
            return  # it exited meanwhile: its Exited event is on its way
        with contextlib.suppress(NotRunning, ProcessLookupError):
            self._activator.signal(process, int(sig))

    def _spawn_task(self, description: ServerDescription) -> None:
        self._keep(self._loop.create_task(self._spawn(description), name=f"spawn {self.server_id}"))

    def _keep(self, task: asyncio.Task[None]) -> None:
        """Hold a reference to a background task; a failure in it is a bug worth a traceback."""
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error(
                "server %s: %s failed", self.server_id, task.get_name(), exc_info=task.exception()
            )

    def _launch(self, server: ServerDescription) -> Launch:
        """What the hooks see of a server: its description, config file and data directory."""
        return Launch(server, config_path=self._config_path, data_dir=self._data_dir)

    async def _spawn(self, server: ServerDescription) -> None:
        launch = self._launch(server)
        try:
            for hook in self._hooks:
                await hook.prestart(launch)
            spec = SpawnSpec.for_server(
                server,
                config_path=str(launch.config_path),
                data_dir=str(launch.data_dir),
                base_env=self.settings.base_env,
            )
            # (ConfigWriter sets SHOAL_CONFIG as the spec has it already: no new spec then.)
            added = {
                name: value for name, value in launch.env.items() if spec.env.get(name) != value
            }
            if added:
                spec = dataclasses.replace(spec, env={**spec.env, **added})
            process = await self._activator.spawn(
                spec, stdout_fd=launch.stdout_fd, stderr_fd=launch.stderr_fd
            )
        except (ShoalError, OSError) as exc:
            message = exc.message if isinstance(exc, ShoalError) else f"cannot start: {exc}"
            self._feed(lc.SpawnFailed(message))
            return
        except Exception as exc:  # a bug in a hook: the server must not stay Activating
            _log.exception("server %s: spawning failed", self.server_id)
            self._feed(lc.SpawnFailed(f"cannot start: {type(exc).__name__}: {exc}"))
            return
        finally:
            launch.cleanup()
        self._process = process
        self._feed(lc.Spawned(process.pid))
        for hook in self._hooks:
            hook.poststart(launch, process)
        self._watch(process)
        self._check_ready(server, process)

    def _check_ready(self, server: ServerDescription, process: RunningProcess) -> None:
        if self._machine.state is not lc.State.WAIT_FOR_ACTIVATION:
            return  # already being stopped (a stop was pending)
        waiting = self._readiness.check(server, process)
        if waiting is None:
            self._feed(lc.Ready(process.pid))
            return

        async def wait_ready() -> None:
            await waiting
            self._feed(lc.Ready(process.pid))

        self._readiness_task = self._loop.create_task(wait_ready(), name=f"ready {server.id}")
        self._keep(self._readiness_task)

    def _watch(self, process: RunningProcess) -> None:
        def exited(ended: ProcessExit) -> None:
            try:
                if self._readiness_task is not None:
                    self._readiness_task.cancel()
                    self._readiness_task = None
                if self._process is process:
                    self._process = None
                self._feed(lc.Exited(_machine_exit(ended, self._loop.time())))
            except Exception:  # a bug: the server must not look alive forever unnoticed
                _log.exception("server %s: taking its exit failed", self.server_id)

        process.when_exited(exited)

    async def _wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a ServerStatus shows of a server at one moment (see `Supervisor._seen`)."""

    state: lc.PublicState
    pid: int
    enabled: bool
    disabled: lc.Disabled | None
    restart_count: int
    started_at: float | None
    last_exit: Exit | None
    history: tuple[lc.HistoryEntry, ...]
    raw: ServerDescription | None
    revision: int


@dataclass(frozen=True, slots=True)
class _Report:
    """One event's reports: its log lines, and `publishes` statuses as `seen` then."""

    actions: tuple[lc.Publish | lc.RecordExit, ...]
    seen: _Seen | None
    publishes: int


def _log_reports(actions: Sequence[lc.Publish | lc.RecordExit]) -> None:
    """One line per run of state changes in a row: the last state, with every reason; and one
    per exit the node did not ask for. A start is one line (`Active (pid 42): spawned pid 42;
    ready`), not one per step: a deploy of 50 servers logs 50 lines fewer (the steps are in each
    server's history). The end of a requested stop is its Inactive line (`stopped (killed by
    SIGTERM)`), the pid being on the Deactivating line before it: a stop of 50 servers logs
    100 lines, not 150."""
    run: list[lc.Publish] = []
    for action in actions:
        if isinstance(action, lc.Publish):
            run.append(action)
            continue
        if run:  # an exit ends a run: a restart's Inactive line comes before its Activating one
            _log_publish(run)
            run = []
        if not action.expected:
            _log_exit(action)
    if run:
        _log_publish(run)


def _log_publish(run: Sequence[lc.Publish]) -> None:
    last = run[-1]
    _log.info(
        "server %s: %s%s (pid %s): %s",
        last.server_id,
        last.state.value,
        "" if last.enabled else ", disabled",
        last.pid or "-",
        "; ".join(publish.reason for publish in run),
    )


def _log_exit(action: lc.RecordExit) -> None:
    """An exit the node did not ask for: a warning when it is a failure."""
    exit = action.exit
    _log.log(
        logging.WARNING if exit.failure else logging.INFO,
        "server %s: pid %s %s (unexpected)",
        action.server_id,
        exit.pid or "-",
        exit.description,
    )


def _stamp(stamp: Timestamp, seconds: float) -> None:
    """Set a Timestamp field in place (no message built and copied, no checks in Python)."""
    whole = math.floor(seconds)
    stamp.seconds = whole
    stamp.nanos = int((seconds - whole) * 1e9)


def _machine_exit(ended: ProcessExit, now: float) -> Exit:
    """The activator's exit as the lifecycle counts it (the machine's clock, not the wall)."""
    if ended.signal is not None:
        return Exit(at=now, signal=ended.signal, pid=ended.pid)
    return Exit(at=now, code=ended.code if ended.code is not None else -1, pid=ended.pid)


def _pb_state_name(state: lc.PublicState) -> str:
    """`ActivationTimedOut` -> `ACTIVATION_TIMED_OUT` (common.proto's ServerState)."""
    name = state.value
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()


#: common.proto's ServerState of each public state, built once: status() runs at every change
#: of every server, and a stop of 50 servers builds ~150 of them with their histories.
_PB_STATE: dict[lc.PublicState, common_pb2.ServerState] = {
    state: common_pb2.ServerState.Value(_pb_state_name(state)) for state in lc.PublicState
}


def _signal_argument(sig: str) -> str | int:
    """`HUP` means SIGHUP (the proto allows both spellings); numbers stay strings for parsing."""
    if sig and sig.isascii() and not sig.isdigit() and not sig.upper().startswith("SIG"):
        return f"SIG{sig.upper()}"
    return sig
