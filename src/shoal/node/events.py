"""The values a server's state machine (`lifecycle.ServerMachine`) works with: its states and
IceGrid's public names for them, the events fed in, the actions handed out, the status values
beside the state (disabled, history, pending requests), its settings and its errors. Plain
frozen data, no behaviour: the shell (`supervisor`) and the tests build and read them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType

from shoal.descriptor.model import ServerDescription
from shoal.errors import ShoalError
from shoal.node.restart import Exit, RestartPolicy

__all__ = [
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
    "public_state",
]


class State(StrEnum):
    """The machine's own, fine-grained states (see `public_state` for IceGrid's names)."""

    INACTIVE = "Inactive"  # no process
    WAITING_TO_RESTART = "WaitingToRestart"  # no process; the restart timer is armed
    SPAWNING = "Spawning"  # Spawn asked; waiting for Spawned or SpawnFailed
    WAIT_FOR_ACTIVATION = "WaitForActivation"  # running, not ready; activation timer armed
    ACTIVATION_TIMED_OUT = "ActivationTimedOut"  # running, not ready, past its timeout
    ACTIVE = "Active"  # running and ready
    TERM_SENT = "TermSent"  # SIGTERM sent to the group; deactivation timer armed
    KILL_SENT = "KillSent"  # SIGKILL sent to the group; waiting for the exit
    DESTROYED = "Destroyed"  # gone for good


class PublicState(StrEnum):
    """IceGrid's server states (`IceGrid::ServerState`), as status and the admin tools show."""

    INACTIVE = "Inactive"
    ACTIVATING = "Activating"
    ACTIVATION_TIMED_OUT = "ActivationTimedOut"
    ACTIVE = "Active"
    DEACTIVATING = "Deactivating"
    DESTROYING = "Destroying"
    DESTROYED = "Destroyed"


_PUBLIC: Mapping[State, PublicState] = MappingProxyType(
    {
        State.INACTIVE: PublicState.INACTIVE,
        State.WAITING_TO_RESTART: PublicState.INACTIVE,
        State.SPAWNING: PublicState.ACTIVATING,
        State.WAIT_FOR_ACTIVATION: PublicState.ACTIVATING,
        State.ACTIVATION_TIMED_OUT: PublicState.ACTIVATION_TIMED_OUT,
        State.ACTIVE: PublicState.ACTIVE,
        State.TERM_SENT: PublicState.DEACTIVATING,
        State.KILL_SENT: PublicState.DEACTIVATING,
        State.DESTROYED: PublicState.DESTROYED,
    }
)


def public_state(state: State, *, destroying: bool = False) -> PublicState:
    """IceGrid's name for a state; stopping a server on its way to destruction is Destroying."""
    if destroying and state in (State.SPAWNING, State.TERM_SENT, State.KILL_SENT):
        return PublicState.DESTROYING
    return _PUBLIC[state]


class Cause(StrEnum):
    """What moved the machine: an event, or a timer of a kind."""

    LOAD = "load"
    START = "start"
    STOP = "stop"
    DESTROY = "destroy"
    ENABLE = "enable"
    DISABLE = "disable"
    SPAWNED = "spawned"
    SPAWN_FAILED = "spawn failed"
    READY = "ready"
    EXITED = "exited"
    ACTIVATION_TIMER = "activation timer"
    DEACTIVATION_TIMER = "deactivation timer"
    RESTART_TIMER = "restart timer"
    REENABLE_TIMER = "re-enable timer"


# --------------------------------------------------------------------------- events


class Requester(StrEnum):
    USER = "user"  # an admin command, or the registry on the user's behalf
    LOCATOR = "locator"  # a client looked up one of the server's adapters (on-demand)


@dataclass(frozen=True)
class Load:
    """The server's (new) expanded description. `live` (a no-restart deploy): if only its
    properties changed and a process runs, keep the process; the shell pushes them to it."""

    description: ServerDescription
    live: bool = False


@dataclass(frozen=True)
class Start:
    """Start the process, or queue the start while the last one stops (else `RequestRefused`)."""

    requested_by: Requester = Requester.USER


@dataclass(frozen=True)
class Stop:
    """Stop the process. An `always` server restarts after it, as in IceGrid (`server stop` is
    how one restarts it; disable it to keep it down) unless `keep_down` (the node shuts down)."""

    keep_down: bool = False


@dataclass(frozen=True)
class Destroy:
    """Stop the process if any, then forget the server (removed from the descriptor)."""


@dataclass(frozen=True)
class Enable:
    """Lift the disabled flag, whoever set it; an inactive `always` server starts."""


@dataclass(frozen=True)
class Disable:
    """Disable the server (by the user): a running process keeps running; none is started."""


@dataclass(frozen=True)
class Spawned:
    """The Spawn action made a process."""

    pid: int  # also the process group id: servers run in their own session


@dataclass(frozen=True)
class SpawnFailed:
    """The Spawn action made no process (a missing executable, a bad working directory...)."""

    error: str  # one line: `restart.describe_spawn_error` words it


@dataclass(frozen=True)
class Ready:
    """The shell judged the server ready: adapters registered, or its ports accept."""

    pid: int | None = None  # when given, a Ready about another process is stale


@dataclass(frozen=True)
class Exited:
    """The process ended, and was reaped."""

    exit: Exit  # `exit.pid`, when given, must be the current process's


class TimerKind(StrEnum):
    ACTIVATION = "activation"
    DEACTIVATION = "deactivation"
    RESTART = "restart"
    REENABLE = "re-enable"


@dataclass(frozen=True)
class TimerFired:
    """The timer an ArmTimer armed reached its time (stale if cancelled or re-armed since)."""

    kind: TimerKind


Event = (
    Load
    | Start
    | Stop
    | Destroy
    | Enable
    | Disable
    | Spawned
    | SpawnFailed
    | Ready
    | Exited
    | TimerFired
)

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Spawn:
    """Start a process for this description; the shell answers Spawned or SpawnFailed."""

    description: ServerDescription


@dataclass(frozen=True)
class Signal:
    """Send `signal` to the process (and, by default, to its whole group)."""

    pid: int
    signal: signal.Signals
    process_group: bool = True  # to the whole group: the server's children go too


@dataclass(frozen=True)
class ArmTimer:
    """Arm (or re-arm) the timer of this kind to fire `TimerFired(kind)` at time `at`."""

    kind: TimerKind
    at: float


@dataclass(frozen=True)
class CancelTimer:
    """Disarm the timer of this kind, if armed."""

    kind: TimerKind


@dataclass(frozen=True)
class Publish:
    """The public state or the enabled flag changed: tell the registry and observers."""

    server_id: str
    state: PublicState
    enabled: bool
    reason: str
    at: float
    pid: int | None = None


@dataclass(frozen=True)
class RecordExit:
    """A process ended: keep it for status, diagnostics and the server's log."""

    server_id: str
    exit: Exit
    expected: bool  # the end of a requested stop


Action = Spawn | Signal | ArmTimer | CancelTimer | Publish | RecordExit

# --------------------------------------------------------------------------- status values


class DisabledBy(StrEnum):
    USER = "user"  # only Enable undoes it
    FAILURE = "failure"  # Enable, a new description, a user start (if timed) or the timer


@dataclass(frozen=True)
class Disabled:
    """Why, since when and until when a server is disabled (an enabled one has None)."""

    by: DisabledBy
    reason: str
    at: float
    until: float | None = None  # re-enabled then (DisableOnFailure=N>0); None: until enabled


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the server's bounded history: a move, or a request or flag change."""

    at: float
    from_state: State
    to_state: State
    reason: str
    cause: Cause | None = None  # None: not a move (a request queued, a flag changed)

    def __str__(self) -> str:
        move = (
            self.from_state.value
            if self.from_state is self.to_state
            else f"{self.from_state.value} -> {self.to_state.value}"
        )
        return f"{self.at:.3f} {move}: {self.reason}"


class Pending(IntEnum):
    """Requests waiting for the process to get somewhere; lower value runs first (IceGrid's
    order: stop > destroy > load > start; a load is applied at once here, its start waits)."""

    STOP = 0
    DESTROY = 1
    START = 2


@dataclass(frozen=True)
class SupervisionConfig:
    """The node-wide settings every server machine shares."""

    wait_time: float = 60.0  # IceGrid.Node.WaitTime: the timeout a 0 in the descriptor means
    restart: RestartPolicy = field(default_factory=RestartPolicy)


# --------------------------------------------------------------------------- errors


class InvalidTransition(ShoalError):
    """An event the transition table does not allow in the current state: a bug in the shell."""

    def __init__(
        self,
        server_id: str,
        from_state: State,
        to_state: State,
        cause: Cause,
        history: Iterable[HistoryEntry],
    ) -> None:
        self.server_id = server_id
        self.from_state = from_state
        self.to_state = to_state
        self.cause = cause
        self.history = tuple(history)
        recent = "; ".join(str(h) for h in self.history[-5:]) or "none"
        super().__init__(
            f"server {server_id}: illegal move {from_state.value} -> {to_state.value}"
            f" on {cause.value}; recent history: {recent}",
            "this is a bug in Shoal's node: please report it with the node's log",
        )


class RequestRefused(ShoalError):
    """A request the server's state cannot honour (start a disabled server): the user's answer."""

    def __init__(self, server_id: str, message: str, hint: str = "") -> None:
        self.server_id = server_id
        super().__init__(f"server {server_id}: {message}", hint)
