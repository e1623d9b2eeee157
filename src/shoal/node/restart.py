"""What to do when a server exits on its own: restart now, restart after a back-off, stay down, or
disable it. A pure decision object: fed exits and the time, it reads no clock and touches nothing.

IceGrid restarts an `always` server a fixed 500 ms after every exit, forever, and disables a
server only on `IceGrid.Node.DisableOnFailure`. Shoal does better, and keeps IceGrid's rules:

* the first crash restarts at once (delay 0): a one-off crash costs no downtime;
* crashes that repeat within `crash_window` seconds back off: 0, base, 2·base, 4·base ... up
  to `backoff_cap`; a server that stayed up `stable_after` seconds starts again from zero;
* more than `crash_loop_limit` unexpected exits within the window disable the server, with the
  reason kept ("restart fails, eventually the server will be disabled", says OMERO.grid): a
  demanding user expects a crash loop to stop, not to burn a CPU and fill a disk with logs.
  Every unexpected exit counts here, a clean `exit 0` or a SIGKILL from the OOM killer too;
* a missing executable (or any exec failure) fails fast: disabled at once, no retry;
* IceGrid's failure rule: a non-zero exit code, death by SIGABRT/SIGILL/SIGBUS/SIGFPE/SIGSEGV,
  or an exec failure is a *failure*; SIGTERM and SIGKILL are not (but remain unexpected exits,
  which an `always` server restarts after). A failure disables the server when
  DisableOnFailure != 0, or when an `always` server fails during its activation;
* DisableOnFailure N > 0 re-enables after N seconds (`Decision.reenable_at`, for the shell's
  timer), N < 0 keeps it disabled until enabled, 0 never disables (but for the rule above).
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from shoal.descriptor.model import Activation
from shoal.errors import ConfigError

# Deaths IceGrid counts as failures (`ServerI::terminated`); SIGTERM/SIGKILL are not among them.
FAILURE_SIGNALS = frozenset(
    {signal.SIGABRT, signal.SIGILL, signal.SIGBUS, signal.SIGFPE, signal.SIGSEGV}
)


def signal_name(number: int) -> str:
    """`SIGSEGV` for 11; `signal 99` for a number Python does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_spawn_error(error: OSError, exe: str) -> str:
    """The one-line reason for an exec failure, from the error `subprocess` raised."""
    culprit = error.filename if error.filename is not None else exe
    if isinstance(error, FileNotFoundError):
        if culprit == exe:
            return f"executable not found: {exe}"
        return f"cannot start {exe}: no such file or directory: {culprit}"
    if isinstance(error, PermissionError):
        return f"cannot execute {exe}: permission denied: {culprit}"
    return f"cannot execute {exe}: {error.strerror or error}"


@dataclass(frozen=True)
class Exit:
    """How a server process ended: an exit code, a signal, or a failure to exec it at all.

    Exactly one of `code`, `signal` and `exec_error` is set; `at` is when it was seen.
    """

    at: float
    code: int | None = None
    signal: int | None = None
    exec_error: str | None = None
    pid: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.code, self.signal, self.exec_error) if v is not None]
        if len(given) != 1:
            raise ValueError("an Exit has exactly one of code, signal and exec_error")

    @classmethod
    def from_returncode(cls, returncode: int, at: float, pid: int | None = None) -> Exit:
        """From `Popen.returncode`'s convention: negative means killed by that signal."""
        if returncode < 0:
            return cls(at=at, signal=-returncode, pid=pid)
        return cls(at=at, code=returncode, pid=pid)

    @classmethod
    def exec_failure(cls, message: str, at: float) -> Exit:
        return cls(at=at, exec_error=message)

    @property
    def failure(self) -> bool:
        """IceGrid's failure: non-zero code, a crash signal, or no exec at all."""
        if self.exec_error is not None:
            return True
        if self.signal is not None:
            return self.signal in FAILURE_SIGNALS
        return self.code != 0

    @property
    def description(self) -> str:
        """`exited with code 1`, `killed by SIGSEGV`, or the exec failure's message."""
        if self.exec_error is not None:
            return self.exec_error
        if self.signal is not None:
            return f"killed by {signal_name(self.signal)}"
        return f"exited with code {self.code}"

    @property
    def unexpected_reason(self) -> str:
        """IceGrid's wording for an exit nobody asked for."""
        if self.exec_error is not None:
            return f"The server failed to start: {self.exec_error}"
        if self.signal is not None:
            return f"The server terminated unexpectedly with signal {signal_name(self.signal)}"
        return f"The server terminated unexpectedly with exit code {self.code}"


@dataclass(frozen=True)
class RestartPolicy:
    """The node's restart configuration, one per node (all values in seconds but the limit)."""

    disable_on_failure: float = (
        0  # IceGrid.Node.DisableOnFailure: 0 never, N>0 for N s, <0 until enabled
    )
    backoff_base: float = 0.1  # the delay before the second restart of a streak
    backoff_cap: float = 10.0  # the longest delay between restarts
    crash_window: float = 60.0  # exits closer than this belong to one streak
    crash_loop_limit: int = 5  # more unexpected exits than this within the window: disable
    stable_after: float = 10.0  # up this long, the server's next exit starts a new streak
    # An exit this soon after the spawn is a failure during activation even when the server
    # was already Active (a program with no adapters is Active once it runs, as in IceGrid):
    # shoal.node.startup_grace_ms, supervisord's startsecs without the wait before Active.
    startup_grace: float = 0.0  # the pure policy's own default; nodes pass their setting

    def __post_init__(self) -> None:
        if self.backoff_base < 0 or self.backoff_cap < self.backoff_base:
            raise ConfigError(
                f"back-off base {self.backoff_base} s and cap {self.backoff_cap} s:"
                " need 0 <= base <= cap"
            )
        if self.startup_grace < 0:
            raise ConfigError(
                f"shoal.node.startup_grace_ms is negative ({self.startup_grace * 1000:g})",
                hint="use 0 or more milliseconds (default 250)",
            )
        if self.crash_window <= 0 or self.stable_after < 0:
            raise ConfigError("the crash window must be positive, stable-after not negative")
        if self.crash_loop_limit < 1:
            raise ConfigError(f"crash loop limit {self.crash_loop_limit}: must be at least 1")

    def backoff(self, streak: int) -> float:
        """The delay before restarting after the `streak`-th exit in a row: 0 for the first."""
        if streak <= 1:
            return 0.0
        # 2 ** big overflows to a huge float, never an error: the cap applies.
        return min(self.backoff_cap, self.backoff_base * 2.0 ** min(streak - 2, 64))


class RestartAction(StrEnum):
    RESTART = "restart"
    DISABLE = "disable"
    STAY_DOWN = "stay_down"


@dataclass(frozen=True)
class Decision:
    """What to do after an unexpected exit, in how many seconds, and why."""

    action: RestartAction
    delay: float
    reason: str
    reenable_at: float | None = None  # DISABLE only: when to enable again (None: until asked)


class RestartTracker:
    """One server's recent exits, and the decision each new exit calls for."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._exits: deque[float] = deque()  # unexpected exits of the current streak, oldest first
        self._started_at: float | None = None

    @property
    def streak(self) -> int:
        """Unexpected exits in the current streak."""
        return len(self._exits)

    def record_start(self, now: float) -> None:
        """A process of this server started (was spawned) at `now`."""
        self._started_at = now

    def reset(self) -> None:
        """Forget the streak: the server was enabled again, or got a new description."""
        self._exits.clear()

    def decide(
        self, exit: Exit, now: float, activation: Activation, during_activation: bool
    ) -> Decision:
        """The decision for an unexpected exit (a requested stop is no business of ours)."""
        policy = self.policy
        if self._started_at is not None and now - self._started_at < policy.startup_grace:
            during_activation = True
        if exit.exec_error is not None:
            # Fail fast: retrying an exec that cannot work only hides the real problem.
            self._count(exit, now)
            return Decision(RestartAction.DISABLE, 0.0, exit.exec_error, None)
        streak = self._count(exit, now)
        timed = policy.disable_on_failure > 0
        reenable_at = now + policy.disable_on_failure if timed else None
        if exit.failure and (
            policy.disable_on_failure != 0
            or (activation is Activation.ALWAYS and during_activation)
        ):
            why = (
                f"failed during activation ({exit.description})"
                if during_activation
                else f"failed ({exit.description})"
            )
            if policy.disable_on_failure == 0:
                # IceGrid's rule for `always` servers, not the setting (0 means never).
                rule = "not restarted: an `always` server that fails while it starts is disabled"
            else:
                rule = (
                    "disabled on failure (IceGrid.Node.DisableOnFailure="
                    f"{_seconds(policy.disable_on_failure)})"
                )
            return Decision(RestartAction.DISABLE, 0.0, f"{why}; {rule}", reenable_at)
        if streak > policy.crash_loop_limit:
            return Decision(
                RestartAction.DISABLE,
                0.0,
                f"crash loop: {streak} unexpected exits within"
                f" {_seconds(policy.crash_window)} s (last: {exit.description})",
                reenable_at,
            )
        if activation is not Activation.ALWAYS:
            return Decision(
                RestartAction.STAY_DOWN, 0.0, f"{exit.description}; {activation} activation"
            )
        delay = policy.backoff(streak)
        if delay == 0:
            when = "restart at once" if streak == 1 else "restart"
            return Decision(RestartAction.RESTART, 0.0, f"{exit.description}; {when}")
        return Decision(
            RestartAction.RESTART,
            delay,
            f"{exit.description}; exit {streak} within {_seconds(policy.crash_window)} s,"
            f" restart in {_seconds(delay)} s",
        )

    def _count(self, exit: Exit, now: float) -> int:
        """Add this exit to the streak (starting a new one if the server was stable)."""
        policy = self.policy
        if self._started_at is not None and exit.at - self._started_at >= policy.stable_after:
            self._exits.clear()
        while self._exits and self._exits[0] < now - policy.crash_window:
            self._exits.popleft()
        self._exits.append(now)
        return len(self._exits)


def _seconds(value: float) -> str:
    """`60` for 60.0, `0.4` for 0.4: seconds as people write them."""
    return f"{value:g}"
