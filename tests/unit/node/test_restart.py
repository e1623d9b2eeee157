"""The restart policy decides from exits and the time alone: no process, no clock, no sleep."""

from __future__ import annotations

import signal

import pytest

from shoal.descriptor.model import Activation
from shoal.errors import ConfigError
from shoal.node.restart import (
    Decision,
    Exit,
    RestartAction,
    RestartPolicy,
    RestartTracker,
    describe_spawn_error,
    signal_name,
)

ALWAYS, MANUAL, ON_DEMAND = Activation.ALWAYS, Activation.MANUAL, Activation.ON_DEMAND


def crash(at: float, code: int = 1) -> Exit:
    return Exit(at=at, code=code)


def run_then_crash(tracker: RestartTracker, started: float, at: float, code: int = 1) -> Decision:
    """A process started at `started` and exited (unexpectedly) with `code` at `at`."""
    tracker.record_start(started)
    return tracker.decide(crash(at, code), at, ALWAYS, during_activation=False)


# --------------------------------------------------------------------------- Exit


@pytest.mark.parametrize(
    ("exit", "failure", "description", "reason"),
    [
        (Exit(at=0, code=0), False, "exited with code 0", "with exit code 0"),
        (Exit(at=0, code=1), True, "exited with code 1", "with exit code 1"),
        (Exit(at=0, signal=signal.SIGSEGV), True, "killed by SIGSEGV", "with signal SIGSEGV"),
        (Exit(at=0, signal=signal.SIGABRT), True, "killed by SIGABRT", "with signal SIGABRT"),
        (Exit(at=0, signal=signal.SIGILL), True, "killed by SIGILL", "with signal SIGILL"),
        (Exit(at=0, signal=signal.SIGBUS), True, "killed by SIGBUS", "with signal SIGBUS"),
        (Exit(at=0, signal=signal.SIGFPE), True, "killed by SIGFPE", "with signal SIGFPE"),
        (Exit(at=0, signal=signal.SIGTERM), False, "killed by SIGTERM", "with signal SIGTERM"),
        (Exit(at=0, signal=signal.SIGKILL), False, "killed by SIGKILL", "with signal SIGKILL"),
    ],
)
def test_exit_failure_and_wording_follow_icegrid(
    exit: Exit, failure: bool, description: str, reason: str
) -> None:
    assert exit.failure is failure
    assert exit.description == description
    assert exit.unexpected_reason == f"The server terminated unexpectedly {reason}"


def test_exec_failure_is_a_failure_worded_by_its_message() -> None:
    exit = Exit.exec_failure("executable not found: /opt/x", at=3.0)
    assert exit.failure
    assert exit.description == "executable not found: /opt/x"
    assert exit.unexpected_reason == "The server failed to start: executable not found: /opt/x"


def test_exit_from_popen_returncode_reads_negative_as_a_signal() -> None:
    assert Exit.from_returncode(-9, at=1.0, pid=7) == Exit(at=1.0, signal=9, pid=7)
    assert Exit.from_returncode(3, at=1.0) == Exit(at=1.0, code=3)


@pytest.mark.parametrize("fields", [{}, {"code": 1, "signal": 9}, {"code": 0, "exec_error": "x"}])
def test_exit_needs_exactly_one_way_to_end(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Exit(at=0, **fields)  # type: ignore[arg-type]


def test_unknown_signal_numbers_are_named_by_number() -> None:
    assert signal_name(signal.SIGSEGV) == "SIGSEGV"
    assert signal_name(99) == "signal 99"
    assert Exit(at=0, signal=99).description == "killed by signal 99"


def test_spawn_errors_are_one_line_reasons() -> None:
    assert (
        describe_spawn_error(FileNotFoundError(2, "No such file or directory", "/opt/x"), "/opt/x")
        == "executable not found: /opt/x"
    )
    assert describe_spawn_error(FileNotFoundError(2, "No such file"), "/opt/x") == (
        "executable not found: /opt/x"
    )
    assert describe_spawn_error(FileNotFoundError(2, "No such file", "/var/run/x"), "/opt/x") == (
        "cannot start /opt/x: no such file or directory: /var/run/x"
    )
    assert describe_spawn_error(PermissionError(13, "Permission denied", "/opt/x"), "/opt/x") == (
        "cannot execute /opt/x: permission denied: /opt/x"
    )
    assert describe_spawn_error(OSError(8, "Exec format error"), "/opt/x") == (
        "cannot execute /opt/x: Exec format error"
    )


# --------------------------------------------------------------------------- policy config


@pytest.mark.parametrize(
    "fields",
    [
        {"backoff_base": -1.0},
        {"backoff_base": 5.0, "backoff_cap": 1.0},
        {"crash_window": 0.0},
        {"stable_after": -1.0},
        {"crash_loop_limit": 0},
        {"startup_grace": -0.1},
    ],
)
def test_a_nonsensical_policy_is_a_config_error(fields: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RestartPolicy(**fields)  # type: ignore[arg-type]


def test_backoff_doubles_from_zero_up_to_the_cap() -> None:
    policy = RestartPolicy(backoff_base=0.1, backoff_cap=1.0)
    delays = [policy.backoff(n) for n in range(1, 9)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert policy.backoff(10_000) == 1.0


# --------------------------------------------------------------------------- restarts


def test_first_crash_of_an_always_server_restarts_at_once() -> None:
    tracker = RestartTracker(RestartPolicy())
    decision = run_then_crash(tracker, started=0.0, at=30.0)
    assert decision == Decision(RestartAction.RESTART, 0.0, "exited with code 1; restart at once")


def test_repeated_crashes_within_the_window_back_off() -> None:
    tracker = RestartTracker(RestartPolicy(backoff_base=0.1, crash_loop_limit=100))
    now, delays = 100.0, []
    for _ in range(6):
        decision = run_then_crash(tracker, started=now, at=now + 1.0)
        assert decision.action is RestartAction.RESTART
        delays.append(decision.delay)
        now += 1.0 + decision.delay
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.6])


def test_backoff_reason_names_the_streak_and_delay() -> None:
    tracker = RestartTracker(RestartPolicy(backoff_base=0.1))
    for at in (1.0, 2.0):
        run_then_crash(tracker, started=at - 0.5, at=at)
    decision = run_then_crash(tracker, started=2.5, at=3.0)
    assert decision.reason == "exited with code 1; exit 3 within 60 s, restart in 0.2 s"


def test_a_server_that_stayed_up_starts_a_new_streak() -> None:
    tracker = RestartTracker(RestartPolicy(stable_after=10.0))
    run_then_crash(tracker, started=0.0, at=1.0)
    assert run_then_crash(tracker, started=1.0, at=2.0).delay > 0
    # Up 10 s this time: back to a restart at once.
    assert run_then_crash(tracker, started=2.0, at=12.0).delay == 0
    assert tracker.streak == 1


def test_crashes_older_than_the_window_are_forgotten() -> None:
    tracker = RestartTracker(RestartPolicy(crash_window=60.0, stable_after=1000.0))
    run_then_crash(tracker, started=0.0, at=1.0)
    run_then_crash(tracker, started=1.0, at=2.0)
    assert tracker.streak == 2
    run_then_crash(tracker, started=2.0, at=100.0)
    assert tracker.streak == 1


def test_reset_forgets_the_streak() -> None:
    tracker = RestartTracker(RestartPolicy())
    run_then_crash(tracker, started=0.0, at=1.0)
    tracker.reset()
    assert tracker.streak == 0
    assert run_then_crash(tracker, started=1.0, at=2.0).delay == 0


def test_clean_exit_of_an_always_server_is_unexpected_and_restarts() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=-1))
    decision = run_then_crash(tracker, started=0.0, at=5.0, code=0)
    assert decision.action is RestartAction.RESTART


def test_sigkill_is_no_failure_so_disable_on_failure_does_not_apply() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=-1))
    tracker.record_start(0.0)
    decision = tracker.decide(Exit(at=5.0, signal=signal.SIGKILL), 5.0, ALWAYS, False)
    assert decision.action is RestartAction.RESTART


@pytest.mark.parametrize("activation", [MANUAL, ON_DEMAND, Activation.SESSION])
def test_servers_not_always_activated_stay_down(activation: Activation) -> None:
    tracker = RestartTracker(RestartPolicy())
    decision = tracker.decide(crash(5.0), 5.0, activation, during_activation=False)
    assert decision.action is RestartAction.STAY_DOWN
    assert decision.reason == f"exited with code 1; {activation} activation"


# --------------------------------------------------------------------------- disabling


def test_crash_loop_beyond_the_limit_disables_with_the_reason_kept() -> None:
    tracker = RestartTracker(RestartPolicy(crash_loop_limit=3))
    decisions = [run_then_crash(tracker, started=t, at=t + 0.5) for t in (0.0, 1.0, 2.0, 3.0)]
    assert [d.action for d in decisions[:3]] == [RestartAction.RESTART] * 3
    last = decisions[3]
    assert last.action is RestartAction.DISABLE
    assert last.reason == "crash loop: 4 unexpected exits within 60 s (last: exited with code 1)"
    assert last.reenable_at is None


def test_crash_loop_counts_for_on_demand_servers_too() -> None:
    tracker = RestartTracker(RestartPolicy(crash_loop_limit=1))
    tracker.decide(crash(1.0), 1.0, ON_DEMAND, False)
    assert tracker.decide(crash(2.0), 2.0, ON_DEMAND, False).action is RestartAction.DISABLE


def test_crash_loop_with_timed_disable_on_failure_reenables_later() -> None:
    # Exit 0 is no failure, so DisableOnFailure does not apply; the loop rule does.
    policy = RestartPolicy(crash_loop_limit=1, disable_on_failure=30)
    tracker = RestartTracker(policy)
    run_then_crash(tracker, started=0.0, at=1.0, code=0)
    decision = run_then_crash(tracker, started=1.0, at=2.0, code=0)
    assert decision.action is RestartAction.DISABLE
    assert decision.reenable_at == 32.0


def test_disable_on_failure_zero_never_disables_a_running_server() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=0))
    assert run_then_crash(tracker, started=0.0, at=50.0).action is RestartAction.RESTART


def test_disable_on_failure_positive_disables_for_n_seconds() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=3))
    tracker.record_start(0.0)
    decision = tracker.decide(crash(50.0), 50.0, MANUAL, during_activation=False)
    assert decision == Decision(
        RestartAction.DISABLE,
        0.0,
        "failed (exited with code 1); disabled on failure (IceGrid.Node.DisableOnFailure=3)",
        reenable_at=53.0,
    )


def test_disable_on_failure_negative_disables_until_enabled() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=-1))
    decision = tracker.decide(Exit(at=5.0, signal=signal.SIGSEGV), 5.0, ALWAYS, False)
    assert decision.action is RestartAction.DISABLE
    assert decision.reenable_at is None
    assert "killed by SIGSEGV" in decision.reason


def test_always_server_failing_during_activation_is_disabled_even_with_zero() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=0))
    decision = tracker.decide(crash(1.0), 1.0, ALWAYS, during_activation=True)
    assert decision.action is RestartAction.DISABLE
    assert decision.reason.startswith("failed during activation (exited with code 1)")
    assert decision.reenable_at is None


def test_an_exit_within_the_startup_grace_is_a_failure_during_activation() -> None:
    # Active at once (no adapters), dead 0.1 s later: IceGrid's rule for activation failures.
    tracker = RestartTracker(RestartPolicy(startup_grace=0.25))
    decision = run_then_crash(tracker, started=10.0, at=10.1)
    assert decision.action is RestartAction.DISABLE
    assert decision.reason.startswith("failed during activation (exited with code 1)")


def test_an_exit_after_the_startup_grace_restarts() -> None:
    tracker = RestartTracker(RestartPolicy(startup_grace=0.25))
    decision = run_then_crash(tracker, started=10.0, at=10.25)
    assert decision.action is RestartAction.RESTART


def test_manual_server_failing_during_activation_is_not_disabled_with_zero() -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=0))
    decision = tracker.decide(crash(1.0), 1.0, MANUAL, during_activation=True)
    assert decision.action is RestartAction.STAY_DOWN


@pytest.mark.parametrize("activation", list(Activation))
def test_exec_failure_fails_fast_whatever_the_mode(activation: Activation) -> None:
    tracker = RestartTracker(RestartPolicy(disable_on_failure=5))
    exit = Exit.exec_failure("executable not found: /opt/x", at=1.0)
    decision = tracker.decide(exit, 1.0, activation, during_activation=True)
    assert decision == Decision(RestartAction.DISABLE, 0.0, "executable not found: /opt/x")
