"""One server's lifecycle as a pure state machine: events in, actions out, no I/O, no clock.

The node daemon (the shell) runs the actions (spawn, signal, timers, publish) and feeds back what
happened (spawned, exited, ready, timer fired); tests drive the machine with no process at all.

          Load (always), Start, Enable,
          re-enable timer, restart now                  Spawned
  Inactive ------------------------------> Spawning ------------> WaitForActivation
   ^ ^ ^  |                                 |    |                  |            |
   | | |  | back-off          SpawnFailed   |    |       activation |            | Ready
   | | |  v                                 |    |            timer v            v
   | | | WaitingToRestart                   |    |     ActivationTimedOut ---> Active
   | | |  | restart timer, Start            |    |               |     Ready     |
   | | |  +--> Spawning                     |    | Spawned,      +-------+-------+
   | | +------------------------------------+    | a stop                | Stop, Destroy,
   | |                                           | pending               | Load (changed)
   | | Exited, unexpected (from WaitFor-         +---------------------> v   SIGTERM
   | | Activation, ActivationTimedOut, Active):                       TermSent
   | | the RestartPolicy decides what next                             |  deactivation
   | |                                                                 |  timer: SIGKILL
   | +------------------------ Exited ---------------------------------+  v
   |                                                                    KillSent
   +----------------------------------- Exited -----------------------------+

  After an expected exit a queued Start, or an always server, spawns again; with a Destroy
  pending the move is to Destroyed instead. Destroy in Inactive or WaitingToRestart: Destroyed.

`_TRANSITIONS` below is the authority: every allowed move with the events that may cause it.
Disabled is a flag beside the state, as in IceGrid (`isServerEnabled`), not a state: a server
disabled while running keeps running; disabled, it is not started (and `always` is not restarted).
Requests that the state cannot honour (start a disabled server) raise `RequestRefused`; events
that cannot happen in a state (a pid spawned while Inactive) raise `InvalidTransition`, a bug in
the shell. Events about another process than the current one (a late Ready) and timers that are
no longer armed are stale and ignored: they race with the events that made them so.
"""

from __future__ import annotations

import dataclasses
import signal
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from shoal.descriptor.model import Activation, ServerDescription
from shoal.node.events import (
    Action,
    ArmTimer,
    CancelTimer,
    Cause,
    Destroy,
    Disable,
    Disabled,
    DisabledBy,
    Enable,
    Event,
    Exited,
    HistoryEntry,
    InvalidTransition,
    Load,
    Pending,
    PublicState,
    Publish,
    Ready,
    RecordExit,
    Requester,
    RequestRefused,
    Signal,
    Spawn,
    Spawned,
    SpawnFailed,
    Start,
    State,
    Stop,
    SupervisionConfig,
    TimerFired,
    TimerKind,
    public_state,
)
from shoal.node.restart import Exit, RestartAction, RestartTracker

# The machine's vocabulary lives in shoal.node.events; it is importable from here too, so
# that `lifecycle` alone is the machine's whole interface.
__all__ = [
    "HISTORY_SIZE",
    "Action",
    "ArmTimer",
    "CancelTimer",
    "Cause",
    "Destroy",
    "Disable",
    "Disabled",
    "DisabledBy",
    "Enable",
    "Event",
    "Exited",
    "HistoryEntry",
    "InvalidTransition",
    "Load",
    "Pending",
    "PublicState",
    "Publish",
    "Ready",
    "RecordExit",
    "RequestRefused",
    "Requester",
    "ServerMachine",
    "Signal",
    "Spawn",
    "SpawnFailed",
    "Spawned",
    "Start",
    "State",
    "Stop",
    "SupervisionConfig",
    "TimerFired",
    "TimerKind",
    "properties_only",
    "public_state",
]

HISTORY_SIZE = 20


def _moves(*causes: Cause) -> frozenset[Cause]:
    return frozenset(causes)


S, C = State, Cause
# Every allowed move and what may cause it. Anything else raises InvalidTransition.
_TRANSITIONS: Mapping[tuple[State, State], frozenset[Cause]] = MappingProxyType(
    {
        # An exit lands in Inactive, then may go on at once: a restart, an always server's start.
        (S.INACTIVE, S.SPAWNING): _moves(C.LOAD, C.START, C.ENABLE, C.REENABLE_TIMER, C.EXITED),
        (S.INACTIVE, S.WAITING_TO_RESTART): _moves(C.EXITED),  # back-off after a crash
        (S.INACTIVE, S.DESTROYED): _moves(C.DESTROY),
        (S.WAITING_TO_RESTART, S.SPAWNING): _moves(C.RESTART_TIMER, C.START, C.LOAD),
        (S.WAITING_TO_RESTART, S.INACTIVE): _moves(C.STOP, C.DISABLE),
        (S.WAITING_TO_RESTART, S.DESTROYED): _moves(C.DESTROY),
        (S.SPAWNING, S.WAIT_FOR_ACTIVATION): _moves(C.SPAWNED),
        (S.SPAWNING, S.TERM_SENT): _moves(C.SPAWNED),  # a stop, destroy or reload was pending
        (S.SPAWNING, S.INACTIVE): _moves(C.SPAWN_FAILED),
        (S.SPAWNING, S.DESTROYED): _moves(C.SPAWN_FAILED),  # a destroy was pending
        (S.WAIT_FOR_ACTIVATION, S.ACTIVE): _moves(C.READY),
        (S.WAIT_FOR_ACTIVATION, S.ACTIVATION_TIMED_OUT): _moves(C.ACTIVATION_TIMER),
        (S.WAIT_FOR_ACTIVATION, S.TERM_SENT): _moves(C.STOP, C.DESTROY, C.LOAD),
        (S.WAIT_FOR_ACTIVATION, S.INACTIVE): _moves(C.EXITED),
        (S.ACTIVATION_TIMED_OUT, S.ACTIVE): _moves(C.READY),  # late, but welcome
        (S.ACTIVATION_TIMED_OUT, S.TERM_SENT): _moves(C.STOP, C.DESTROY, C.LOAD),
        (S.ACTIVATION_TIMED_OUT, S.INACTIVE): _moves(C.EXITED),
        (S.ACTIVE, S.TERM_SENT): _moves(C.STOP, C.DESTROY, C.LOAD),
        (S.ACTIVE, S.INACTIVE): _moves(C.EXITED),
        (S.TERM_SENT, S.KILL_SENT): _moves(C.DEACTIVATION_TIMER),
        (S.TERM_SENT, S.INACTIVE): _moves(C.EXITED),
        (S.TERM_SENT, S.DESTROYED): _moves(C.EXITED),
        (S.KILL_SENT, S.INACTIVE): _moves(C.EXITED),
        (S.KILL_SENT, S.DESTROYED): _moves(C.EXITED),
    }
)
del S, C

_RUNNING = frozenset(
    {State.WAIT_FOR_ACTIVATION, State.ACTIVATION_TIMED_OUT, State.ACTIVE}
)  # a process that nobody asked to stop


def properties_only(old: ServerDescription | None, new: ServerDescription) -> bool:
    """`new` differs from `old` in its properties alone: a running process can take it."""
    return old is not None and dataclasses.replace(old, properties=new.properties) == new


# --------------------------------------------------------------------------- the machine


class ServerMachine:
    """One server on a node: its state, the flags beside it and what it last did."""

    def __init__(self, server_id: str, config: SupervisionConfig | None = None) -> None:
        self.server_id = server_id
        self.config = config or SupervisionConfig()
        self._tracker = RestartTracker(self.config.restart)
        self._state = State.INACTIVE
        self._description: ServerDescription | None = None
        self._disabled: Disabled | None = None
        self._pending: set[Pending] = set()
        self._keep_down = False
        self._timers: dict[TimerKind, float] = {}
        self._history: deque[HistoryEntry] = deque(maxlen=HISTORY_SIZE)
        self._pid: int | None = None
        self._started_at: float | None = None
        self._last_exit: Exit | None = None
        self._restart_count = 0
        self._published: tuple[PublicState, bool, int | None] = (self.public_state(), True, None)
        self._actions: list[Action] = []
        self._now = 0.0

    # ----------------------------------------------------------------- read-only status

    @property
    def state(self) -> State:
        return self._state

    def public_state(self) -> PublicState:
        return public_state(self._state, destroying=Pending.DESTROY in self._pending)

    @property
    def description(self) -> ServerDescription | None:
        return self._description

    @property
    def enabled(self) -> bool:
        return self._disabled is None

    @property
    def disabled(self) -> Disabled | None:
        """Who disabled the server, why, when and until when; None when enabled."""
        return self._disabled

    @property
    def pending(self) -> frozenset[Pending]:
        return frozenset(self._pending)

    @property
    def timers(self) -> Mapping[TimerKind, float]:
        """The armed timers and when they fire."""
        return MappingProxyType(dict(self._timers))

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """The last `HISTORY_SIZE` changes, oldest first."""
        return tuple(self._history)

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def started_at(self) -> float | None:
        """When the current process was spawned."""
        return self._started_at

    @property
    def last_exit(self) -> Exit | None:
        return self._last_exit

    @property
    def restart_count(self) -> int:
        """Restarts the restart policy made (not the ones people asked for)."""
        return self._restart_count

    # ----------------------------------------------------------------- the one entry point

    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply one event at time `now`; return the actions for the shell, in order."""
        self._actions = []
        self._now = now
        match event:
            case Load(description, live):
                self._on_load(description, live=live)
            case Start(requested_by):
                self._on_start(requested_by)
            case Stop(keep_down):
                self._on_stop(keep_down)
            case Destroy():
                self._on_destroy()
            case Enable():
                self._on_enable()
            case Disable():
                self._on_disable()
            case Spawned(pid):
                self._on_spawned(pid)
            case SpawnFailed(error):
                self._on_spawn_failed(error)
            case Ready(pid):
                self._on_ready(pid)
            case Exited(exit):
                self._on_exited(exit)
            case TimerFired(kind):
                self._on_timer(kind)
        actions, self._actions = self._actions, []
        return actions

    # ----------------------------------------------------------------- requests

    def _on_load(self, description: ServerDescription, *, live: bool = False) -> None:
        if description.id != self.server_id:
            raise ValueError(f"description of {description.id} loaded into {self.server_id}")
        if self._state is State.DESTROYED:
            raise RequestRefused(self.server_id, "the server is destroyed")
        if description == self._description:
            return
        first = self._description is None
        if live and self._state in _RUNNING and properties_only(self._description, description):
            # IceGrid's noRestartUpdate: the process keeps running; the shell rewrites its
            # config and tells it. Its next start uses the new description anyway.
            self._description = description
            self._note("properties updated without a restart")
            return
        self._description = description
        self._tracker.reset()
        if self._disabled is not None and self._disabled.by is DisabledBy.FAILURE:
            # IceGrid (ServerI.cpp updateImpl): a new descriptor lifts a failure, not a user's word.
            self._cancel(TimerKind.REENABLE)
            self._set_enabled(None, "re-enabled by a new description")
        if first:
            self._note("description loaded")
            if self._should_run_always():
                self._spawn(Cause.LOAD, "always activation: started on load")
            return
        # A server on its way up restarts with the new description, whatever its mode, unless
        # disabled or already asked to stop.
        restart = self._disabled is None and not self._pending & {Pending.STOP, Pending.DESTROY}
        if restart and self._state in (*_RUNNING, State.SPAWNING):
            self._pending.add(Pending.START)
        if self._state in _RUNNING:
            self._terminate(
                Cause.LOAD,
                "description changed: restarting" if restart else "description changed: stopping",
            )
        elif self._state is State.SPAWNING:
            self._pending.add(Pending.STOP)
            self._note("description changed while spawning: stop once spawned")
        elif self._state is State.WAITING_TO_RESTART:
            self._cancel(TimerKind.RESTART)
            self._spawn(Cause.LOAD, "description changed: restarting now")
        elif self._state is State.INACTIVE:
            self._note("description changed")
            if self._should_run_always():
                self._spawn(Cause.LOAD, "always activation: started with the new description")
        else:  # TERM_SENT, KILL_SENT: the next start uses the new description
            self._note("description changed while stopping")

    def _on_start(self, requested_by: Requester) -> None:
        stopping = bool(self._pending & {Pending.STOP, Pending.DESTROY})
        if self._state in (State.WAIT_FOR_ACTIVATION, State.ACTIVE) or (
            self._state is State.SPAWNING and not stopping
        ):
            return  # already on its way: the caller waits for Active
        self._check_start(requested_by)
        if self._disabled is not None:  # a user start lifts a timed failure disable (IceGrid)
            self._cancel(TimerKind.REENABLE)
            self._tracker.reset()
            self._set_enabled(None, "re-enabled by a start")
        if self._state in (State.SPAWNING, State.TERM_SENT, State.KILL_SENT):
            self._pending.add(Pending.START)
            self._note(f"start by {requested_by} queued until the process exits")
            return
        if self._state is State.WAITING_TO_RESTART:
            self._cancel(TimerKind.RESTART)
        self._spawn(Cause.START, f"start requested by {requested_by}")

    def _check_start(self, requested_by: Requester) -> None:
        """Raise RequestRefused when a start cannot be honoured (IceGrid's ServerStartException)."""
        sid = self.server_id
        if self._state is State.DESTROYED or Pending.DESTROY in self._pending:
            raise RequestRefused(sid, "the server is destroyed or being destroyed")
        if self._description is None:
            raise RequestRefused(sid, "no description is loaded", "deploy an application first")
        if self._state is State.ACTIVATION_TIMED_OUT:
            raise RequestRefused(
                sid,
                "the server activation timed out: it runs but is not ready",
                f"stop it with `shoal admin ice server stop {sid}`, or wait for it",
            )
        disabled = self._disabled
        if disabled is not None:
            lifted_by_start = (
                disabled.by is DisabledBy.FAILURE
                and disabled.until is not None
                and requested_by is Requester.USER
            )
            if not lifted_by_start:
                raise RequestRefused(
                    sid,
                    f"the server is disabled ({disabled.reason})",
                    f"enable it with `shoal admin ice server enable {sid}`",
                )
        activation = self._description.activation
        if requested_by is Requester.LOCATOR and activation is Activation.MANUAL:
            raise RequestRefused(
                sid,
                "the server activation is manual: it does not start on demand",
                f"start it with `shoal admin ice server start {sid}`",
            )

    def _on_stop(self, keep_down: bool) -> None:
        self._keep_down = self._keep_down or keep_down
        self._pending.discard(Pending.START)  # stop beats start
        if self._state is State.SPAWNING:
            self._pending.add(Pending.STOP)
            self._note("stop requested while spawning: stopping once spawned")
        elif self._state in _RUNNING:
            self._terminate(Cause.STOP, "stop requested")
        elif self._state is State.WAITING_TO_RESTART and keep_down:
            self._cancel(TimerKind.RESTART)
            self._move(State.INACTIVE, Cause.STOP, "stop requested: restart cancelled")
        # Inactive, Destroyed, already stopping, or an always server between restarts: no-op.

    def _on_destroy(self) -> None:
        self._pending.discard(Pending.START)
        if self._state is State.DESTROYED:
            return
        if self._state in (State.INACTIVE, State.WAITING_TO_RESTART):
            self._cancel_all_timers()
            self._move(State.DESTROYED, Cause.DESTROY, "destroyed")
            return
        self._pending.add(Pending.DESTROY)
        if self._state in _RUNNING:
            self._terminate(Cause.DESTROY, "destroy requested: stopping")
        else:  # SPAWNING, TERM_SENT, KILL_SENT: destroyed once the process is gone
            self._note("destroy requested: destroyed once the process is gone")

    def _on_enable(self) -> None:
        if self._state is State.DESTROYED:
            raise RequestRefused(self.server_id, "the server is destroyed")
        if self._disabled is None:
            return
        self._cancel(TimerKind.REENABLE)
        self._tracker.reset()
        self._set_enabled(None, "enabled by user")
        if self._state is State.INACTIVE and self._should_run_always():
            self._spawn(Cause.ENABLE, "always activation: started on enable")

    def _on_disable(self) -> None:
        if self._state is State.DESTROYED:
            raise RequestRefused(self.server_id, "the server is destroyed")
        if self._disabled is not None and self._disabled.by is DisabledBy.USER:
            return
        self._cancel(TimerKind.REENABLE)
        self._pending.discard(Pending.START)
        self._set_enabled(
            Disabled(DisabledBy.USER, "disabled by user", self._now), "disabled by user"
        )
        if self._state is State.WAITING_TO_RESTART:
            self._cancel(TimerKind.RESTART)
            self._move(State.INACTIVE, Cause.DISABLE, "disabled: restart cancelled")

    # ----------------------------------------------------------------- what the process did

    def _on_spawned(self, pid: int) -> None:
        stop_first = self._state is State.SPAWNING and self._next_pending() in (
            Pending.STOP,
            Pending.DESTROY,
        )
        self._check(State.TERM_SENT if stop_first else State.WAIT_FOR_ACTIVATION, Cause.SPAWNED)
        self._pid, self._started_at = pid, self._now
        self._tracker.record_start(self._now)
        if stop_first:
            self._pending.discard(Pending.STOP)
            self._terminate(Cause.SPAWNED, f"spawned pid {pid}; stopping it as requested")
        else:
            self._move(State.WAIT_FOR_ACTIVATION, Cause.SPAWNED, f"spawned pid {pid}")
            self._arm(TimerKind.ACTIVATION, self._now + self._timeout("activation_timeout"))

    def _on_spawn_failed(self, error: str) -> None:
        exit = Exit.exec_failure(error, self._now)
        destroy = Pending.DESTROY in self._pending
        self._move(State.DESTROYED if destroy else State.INACTIVE, Cause.SPAWN_FAILED, error)
        self._record_exit(exit, expected=False)
        self._pending.clear()
        if not destroy:
            self._apply_policy(exit, during_activation=True)

    def _on_ready(self, pid: int | None) -> None:
        if pid is not None and pid != self._pid:
            return  # about a process that is gone
        if self._state in (State.ACTIVE, State.TERM_SENT, State.KILL_SENT):
            return  # again, or too late to matter
        self._move(State.ACTIVE, Cause.READY, "ready")
        self._cancel(TimerKind.ACTIVATION)

    def _on_exited(self, exit: Exit) -> None:
        if exit.pid is not None and exit.pid != self._pid:
            return  # about a process that is gone
        state = self._state
        expected = state in (State.TERM_SENT, State.KILL_SENT)
        next_request = self._next_pending()
        destroy = expected and next_request is Pending.DESTROY
        target = State.DESTROYED if destroy else State.INACTIVE
        reason = f"stopped ({exit.description})" if expected else exit.unexpected_reason
        self._check(target, Cause.EXITED)
        self._pid = None
        self._move(target, Cause.EXITED, reason)
        self._record_exit(exit, expected)
        if target is State.DESTROYED:
            self._cancel_all_timers()
            self._pending.clear()
            return
        self._cancel_process_timers()
        if not expected:
            self._apply_policy(exit, during_activation=state is not State.ACTIVE)
        elif next_request is Pending.START:
            self._pending.clear()
            self._spawn(Cause.EXITED, "queued start")  # Disable drops a queued start
        elif self._should_run_always() and not self._keep_down:
            self._spawn(Cause.EXITED, "always activation: restarted after stop")

    def _on_timer(self, kind: TimerKind) -> None:
        if self._timers.pop(kind, None) is None:
            return  # cancelled, or already handled: stale
        if kind is TimerKind.ACTIVATION:
            self._move(
                State.ACTIVATION_TIMED_OUT,
                Cause.ACTIVATION_TIMER,
                f"not ready {self._timeout('activation_timeout'):g} s after spawn",
            )
        elif kind is TimerKind.DEACTIVATION:
            self._move(
                State.KILL_SENT,
                Cause.DEACTIVATION_TIMER,
                f"still running {self._timeout('deactivation_timeout'):g} s after SIGTERM:"
                " SIGKILL sent",
            )
            self._signal(signal.SIGKILL)
        elif kind is TimerKind.RESTART:
            self._restart_count += 1
            self._spawn(Cause.RESTART_TIMER, "restart after back-off")
        else:  # REENABLE
            self._tracker.reset()
            self._set_enabled(None, "re-enabled after its failure (IceGrid.Node.DisableOnFailure)")
            if self._state is State.INACTIVE and self._should_run_always():
                self._spawn(Cause.REENABLE_TIMER, "always activation: started on re-enable")

    # ----------------------------------------------------------------- steps

    def _apply_policy(self, exit: Exit, during_activation: bool) -> None:
        """An unexpected exit left us Inactive: restart, wait, disable or stay down."""
        assert self._description is not None  # a process ran, so a description was loaded
        decision = self._tracker.decide(
            exit, self._now, self._description.activation, during_activation
        )
        if decision.action is RestartAction.DISABLE:
            if self._disabled is None or self._disabled.by is not DisabledBy.USER:
                disabled = Disabled(
                    DisabledBy.FAILURE, decision.reason, self._now, decision.reenable_at
                )
                self._set_enabled(disabled, f"disabled: {decision.reason}")
                if decision.reenable_at is not None:
                    self._arm(TimerKind.REENABLE, decision.reenable_at)
        elif decision.action is RestartAction.RESTART:
            if self._disabled is not None:
                self._note(f"not restarted: disabled ({decision.reason})")
            elif decision.delay == 0:
                self._restart_count += 1
                self._spawn(Cause.EXITED, decision.reason)
            else:
                self._move(State.WAITING_TO_RESTART, Cause.EXITED, decision.reason)
                self._arm(TimerKind.RESTART, self._now + decision.delay)
        else:
            self._note(decision.reason)

    def _next_pending(self) -> Pending | None:
        """The pending request to run first: stop beats destroy beats start."""
        return min(self._pending, default=None)

    def _spawn(self, cause: Cause, reason: str) -> None:
        assert self._description is not None
        self._move(State.SPAWNING, cause, reason)
        self._keep_down = False  # a new process: the stop that wanted it down is over
        self._actions.append(Spawn(self._description))

    def _terminate(self, cause: Cause, reason: str) -> None:
        """SIGTERM to the process group, and the deadline for SIGKILL."""
        self._cancel(TimerKind.ACTIVATION)
        self._move(State.TERM_SENT, cause, reason)
        self._signal(signal.SIGTERM)
        self._arm(TimerKind.DEACTIVATION, self._now + self._timeout("deactivation_timeout"))

    def _signal(self, sig: signal.Signals) -> None:
        assert self._pid is not None
        self._actions.append(Signal(self._pid, sig))

    def _timeout(self, name: str) -> float:
        """A descriptor timeout in seconds; 0 means the node's wait time (IceGrid)."""
        assert self._description is not None
        seconds: int = getattr(self._description, name)
        return float(seconds) if seconds > 0 else self.config.wait_time

    def _should_run_always(self) -> bool:
        return (
            self._description is not None
            and self._description.activation is Activation.ALWAYS
            and self._disabled is None
        )

    def _record_exit(self, exit: Exit, expected: bool) -> None:
        self._last_exit = exit
        self._started_at = None
        self._actions.append(RecordExit(self.server_id, exit, expected))

    # ----------------------------------------------------------------- timers

    def _arm(self, kind: TimerKind, at: float) -> None:
        self._timers[kind] = at
        self._actions.append(ArmTimer(kind, at))

    def _cancel(self, kind: TimerKind) -> None:
        if self._timers.pop(kind, None) is not None:
            self._actions.append(CancelTimer(kind))

    def _cancel_process_timers(self) -> None:
        for kind in (TimerKind.ACTIVATION, TimerKind.DEACTIVATION, TimerKind.RESTART):
            self._cancel(kind)

    def _cancel_all_timers(self) -> None:
        for kind in list(self._timers):
            self._cancel(kind)

    # ----------------------------------------------------------------- the one place that moves

    def _move(self, to: State, cause: Cause, reason: str) -> None:
        """Change state if the table allows it; record why; publish what the public sees."""
        from_state = self._state
        self._check(to, cause)
        self._state = to
        self._history.append(HistoryEntry(self._now, from_state, to, reason, cause))
        self._publish_if_changed(reason)

    def _check(self, to: State, cause: Cause) -> None:
        """Raise InvalidTransition unless the table allows moving to `to` for this cause."""
        if cause not in _TRANSITIONS.get((self._state, to), frozenset()):
            raise InvalidTransition(self.server_id, self._state, to, cause, self._history)

    def _note(self, reason: str) -> None:
        """Record a change that is not a move (a request queued, a flag set)."""
        self._history.append(HistoryEntry(self._now, self._state, self._state, reason))
        self._publish_if_changed(reason)

    def _set_enabled(self, disabled: Disabled | None, reason: str) -> None:
        self._disabled = disabled
        self._note(reason)

    def _publish_if_changed(self, reason: str) -> None:
        # The pid counts: after a crash the new process is spawned while the public state stays
        # Activating, and whoever waits for "a new pid" must hear of it then, not at Active.
        seen = (self.public_state(), self.enabled, self._pid)
        if seen != self._published:
            self._published = seen
            self._actions.append(
                Publish(self.server_id, seen[0], seen[1], reason, self._now, self._pid)
            )
