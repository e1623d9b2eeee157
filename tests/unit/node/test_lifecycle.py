"""A server's lifecycle driven event by event, with no process and no sleep: time is an argument."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any, TypeVar

import pytest

from shoal.descriptor.model import Activation, ServerDescription
from shoal.node.lifecycle import (
    _TRANSITIONS,
    HISTORY_SIZE,
    Action,
    ArmTimer,
    CancelTimer,
    Cause,
    Destroy,
    Disable,
    DisabledBy,
    Enable,
    Event,
    Exited,
    InvalidTransition,
    Load,
    Pending,
    PublicState,
    Publish,
    Ready,
    RecordExit,
    Requester,
    RequestRefused,
    ServerMachine,
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
from shoal.node.restart import Exit, RestartPolicy

SID = "Processor-0"
PID = 4242
ALWAYS, MANUAL, ON_DEMAND = Activation.ALWAYS, Activation.MANUAL, Activation.ON_DEMAND
LOCATOR = Requester.LOCATOR
A = TypeVar("A")


def describe(activation: Activation = MANUAL, **fields: Any) -> ServerDescription:
    fields.setdefault("activation_timeout", 5)
    fields.setdefault("deactivation_timeout", 3)
    return ServerDescription(
        id=SID,
        node="node1",
        application="OMERO",
        exe="/usr/bin/srv",
        activation=activation,
        **fields,
    )


def loaded(
    activation: Activation = MANUAL, policy: RestartPolicy | None = None, **fields: Any
) -> ServerMachine:
    """A machine with its description loaded at time 0."""
    config = SupervisionConfig(wait_time=60.0, restart=policy or RestartPolicy())
    machine = ServerMachine(SID, config)
    machine.handle(Load(describe(activation, **fields)), 0.0)
    return machine


def active(activation: Activation = MANUAL, now: float = 1.0, **kwargs: Any) -> ServerMachine:
    """A machine whose process (PID) was spawned and is ready, at `now`."""
    machine = loaded(activation, **kwargs)
    if machine.state is State.INACTIVE:
        machine.handle(Start(), now)
    machine.handle(Spawned(PID), now)
    machine.handle(Ready(PID), now)
    assert machine.state is State.ACTIVE
    return machine


def of(kind: type[A], actions: Sequence[Action]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def published(actions: Sequence[Action]) -> list[PublicState]:
    return [p.state for p in of(Publish, actions)]


def crash(at: float, code: int = 1, pid: int | None = PID) -> Exited:
    return Exited(Exit(at=at, code=code, pid=pid))


# --------------------------------------------------------------------------- activation


def test_manual_server_waits_for_a_start_after_load() -> None:
    machine = loaded(MANUAL)
    assert machine.state is State.INACTIVE
    assert machine.public_state() is PublicState.INACTIVE
    assert machine.history[-1].reason == "description loaded"
    assert machine.description == describe(MANUAL)


def test_always_server_starts_on_load() -> None:
    machine = ServerMachine(SID)
    actions = machine.handle(Load(describe(ALWAYS)), 0.0)
    assert of(Spawn, actions) == [Spawn(describe(ALWAYS))]
    assert published(actions) == [PublicState.ACTIVATING]
    assert machine.state is State.SPAWNING


def test_start_spawn_ready_reaches_active() -> None:
    machine = loaded(MANUAL)
    assert of(Spawn, machine.handle(Start(), 1.0)) == [Spawn(describe())]
    actions = machine.handle(Spawned(PID), 1.5)
    assert actions[-1] == ArmTimer(TimerKind.ACTIVATION, 6.5)
    assert (machine.pid, machine.started_at) == (PID, 1.5)
    assert machine.public_state() is PublicState.ACTIVATING
    actions = machine.handle(Ready(PID), 2.0)
    assert published(actions) == [PublicState.ACTIVE]
    assert CancelTimer(TimerKind.ACTIVATION) in actions
    assert machine.timers == {}


def test_zero_activation_timeout_means_the_node_wait_time() -> None:
    machine = loaded(MANUAL, activation_timeout=0)
    machine.handle(Start(), 1.0)
    assert machine.handle(Spawned(PID), 1.0)[-1] == ArmTimer(TimerKind.ACTIVATION, 61.0)


def test_activation_timeout_then_late_ready_becomes_active() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Spawned(PID), 1.0)
    actions = machine.handle(TimerFired(TimerKind.ACTIVATION), 6.0)
    assert published(actions) == [PublicState.ACTIVATION_TIMED_OUT]
    assert machine.history[-1].reason == "not ready 5 s after spawn"
    assert published(machine.handle(Ready(PID), 20.0)) == [PublicState.ACTIVE]


def test_start_while_activation_timed_out_is_refused_as_icegrid() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Spawned(PID), 1.0)
    machine.handle(TimerFired(TimerKind.ACTIVATION), 6.0)
    with pytest.raises(RequestRefused, match="activation timed out"):
        machine.handle(Start(), 7.0)


def test_start_while_starting_or_active_does_nothing() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    assert machine.handle(Start(), 1.1) == []
    machine.handle(Spawned(PID), 1.2)
    assert machine.handle(Start(), 1.3) == []
    machine.handle(Ready(PID), 1.4)
    assert machine.handle(Start(requested_by=LOCATOR), 1.5) == []


def test_on_demand_server_starts_for_the_locator() -> None:
    machine = loaded(ON_DEMAND)
    assert of(Spawn, machine.handle(Start(requested_by=LOCATOR), 1.0))


def test_manual_server_refuses_a_locator_start() -> None:
    machine = loaded(MANUAL)
    with pytest.raises(RequestRefused, match="activation is manual") as refused:
        machine.handle(Start(requested_by=LOCATOR), 1.0)
    assert refused.value.hint == f"start it with `shoal admin ice server start {SID}`"
    assert machine.state is State.INACTIVE


def test_start_before_any_description_is_refused() -> None:
    with pytest.raises(RequestRefused, match="no description"):
        ServerMachine(SID).handle(Start(), 0.0)


def test_a_description_of_another_server_is_a_bug() -> None:
    with pytest.raises(ValueError, match="Other"):
        ServerMachine(SID).handle(Load(describe().__class__(**{**_fields(), "id": "Other"})), 0.0)


def _fields() -> dict[str, Any]:
    description = describe()
    return {name: getattr(description, name) for name in description.__dataclass_fields__}


# --------------------------------------------------------------------------- stopping


def test_stop_sends_sigterm_to_the_group_and_arms_the_deadline() -> None:
    machine = active(MANUAL, now=1.0)
    actions = machine.handle(Stop(), 10.0)
    assert actions == [
        Publish(SID, PublicState.DEACTIVATING, True, "stop requested", 10.0, PID),
        Signal(PID, signal.SIGTERM, process_group=True),
        ArmTimer(TimerKind.DEACTIVATION, 13.0),
    ]
    assert machine.state is State.TERM_SENT


def test_stop_sequence_term_then_deadline_then_kill() -> None:
    machine = active(MANUAL, now=1.0, deactivation_timeout=0)  # 0: the node's wait time
    assert machine.handle(Stop(), 10.0)[-1] == ArmTimer(TimerKind.DEACTIVATION, 70.0)
    actions = machine.handle(TimerFired(TimerKind.DEACTIVATION), 70.0)
    assert actions == [Signal(PID, signal.SIGKILL)]
    assert machine.state is State.KILL_SENT
    assert machine.public_state() is PublicState.DEACTIVATING
    exit = Exit(at=70.1, signal=signal.SIGKILL, pid=PID)
    actions = machine.handle(Exited(exit), 70.1)
    assert published(actions) == [PublicState.INACTIVE]
    assert RecordExit(SID, exit, expected=True) in actions
    assert (machine.pid, machine.last_exit, machine.restart_count) == (None, exit, 0)
    assert machine.history[-1].reason == "stopped (killed by SIGKILL)"


def test_exit_before_the_deadline_cancels_it() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 10.0)
    actions = machine.handle(Exited(Exit(at=11.0, code=0, pid=PID)), 11.0)
    assert CancelTimer(TimerKind.DEACTIVATION) in actions
    assert machine.timers == {}
    assert not of(Spawn, actions)


def test_stop_during_activation_cancels_the_activation_timer() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Spawned(PID), 1.0)
    actions = machine.handle(Stop(), 2.0)
    assert actions[0] == CancelTimer(TimerKind.ACTIVATION)
    assert set(machine.timers) == {TimerKind.DEACTIVATION}


def test_stop_while_spawning_wins_once_the_pid_is_known() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    assert machine.handle(Stop(), 1.1) == []
    assert machine.pending == {Pending.STOP}
    actions = machine.handle(Spawned(PID), 1.2)
    assert Signal(PID, signal.SIGTERM) in actions
    assert not any(isinstance(a, ArmTimer) and a.kind is TimerKind.ACTIVATION for a in actions)
    assert machine.public_state() is PublicState.DEACTIVATING
    assert not of(Spawn, machine.handle(Exited(Exit(at=2.0, code=0, pid=PID)), 2.0))
    assert machine.state is State.INACTIVE


def test_stop_beats_a_pending_start() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 10.0)
    machine.handle(Start(), 10.5)
    assert machine.pending == {Pending.START}
    machine.handle(Stop(), 10.6)
    assert machine.pending == set()
    assert not of(Spawn, machine.handle(Exited(Exit(at=11.0, code=0, pid=PID)), 11.0))


def test_start_during_deactivation_runs_after_the_exit() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 10.0)
    assert machine.handle(Start(), 10.5) == []
    assert machine.history[-1].reason == "start by user queued until the process exits"
    actions = machine.handle(Exited(Exit(at=11.0, code=0, pid=PID)), 11.0)
    assert published(actions) == [PublicState.INACTIVE, PublicState.ACTIVATING]
    assert of(Spawn, actions) == [Spawn(describe())]


def test_start_after_a_stop_while_spawning_runs_after_that_stop() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Stop(), 1.1)
    machine.handle(Start(), 1.2)
    assert machine.pending == {Pending.STOP, Pending.START}
    assert Signal(PID, signal.SIGTERM) in machine.handle(Spawned(PID), 1.3)
    assert of(Spawn, machine.handle(Exited(Exit(at=2.0, code=0, pid=PID)), 2.0))


def test_stopping_an_always_server_restarts_it_as_icegrid() -> None:
    machine = active(ALWAYS)
    machine.handle(Stop(), 10.0)
    actions = machine.handle(Exited(Exit(at=11.0, code=0, pid=PID)), 11.0)
    assert of(Spawn, actions)
    assert machine.history[-1].reason == "always activation: restarted after stop"
    assert machine.restart_count == 0  # asked for, not the policy's


def test_stop_keep_down_leaves_an_always_server_down() -> None:
    machine = active(ALWAYS)
    machine.handle(Stop(keep_down=True), 10.0)
    assert not of(Spawn, machine.handle(Exited(Exit(at=11.0, code=0, pid=PID)), 11.0))
    assert machine.state is State.INACTIVE


def test_stop_keep_down_cancels_a_restart_back_off() -> None:
    machine = waiting_to_restart()
    actions = machine.handle(Stop(keep_down=True), 3.0)
    assert CancelTimer(TimerKind.RESTART) in actions
    assert machine.state is State.INACTIVE


def test_plain_stop_between_restarts_of_an_always_server_keeps_the_restart() -> None:
    machine = waiting_to_restart()
    assert machine.handle(Stop(), 3.0) == []
    assert machine.state is State.WAITING_TO_RESTART


def test_stop_when_inactive_does_nothing() -> None:
    assert loaded(MANUAL).handle(Stop(), 1.0) == []


# --------------------------------------------------------------------------- restarts


def waiting_to_restart() -> ServerMachine:
    """An always server that crashed twice quickly, once up: waiting 0.1 s to restart."""
    machine = active(ALWAYS, now=1.0)
    machine.handle(crash(1.5), 1.5)
    machine.handle(Spawned(PID + 1), 1.5)
    machine.handle(Ready(PID + 1), 1.6)  # a crash before Ready would disable it (IceGrid)
    actions = machine.handle(crash(2.0, pid=PID + 1), 2.0)
    assert actions[-1] == ArmTimer(TimerKind.RESTART, 2.0 + RestartPolicy().backoff_base)
    assert machine.state is State.WAITING_TO_RESTART
    return machine


def test_always_server_restarts_at_once_on_a_first_crash() -> None:
    machine = active(ALWAYS, now=1.0)
    exit = Exit(at=30.0, code=1, pid=PID)
    actions = machine.handle(Exited(exit), 30.0)
    reason = "The server terminated unexpectedly with exit code 1"
    assert actions == [
        Publish(SID, PublicState.INACTIVE, True, reason, 30.0, None),
        RecordExit(SID, exit, expected=False),
        Publish(SID, PublicState.ACTIVATING, True, "exited with code 1; restart at once", 30.0),
        Spawn(describe(ALWAYS)),
    ]
    assert (machine.restart_count, machine.last_exit, machine.pid) == (1, exit, None)


def test_repeated_crashes_back_off_then_restart_on_the_timer() -> None:
    machine = waiting_to_restart()
    assert machine.public_state() is PublicState.INACTIVE
    assert machine.restart_count == 1
    actions = machine.handle(TimerFired(TimerKind.RESTART), 2.1)
    assert of(Spawn, actions)
    assert machine.restart_count == 2


def test_back_off_resets_after_the_server_stayed_up() -> None:
    machine = waiting_to_restart()
    machine.handle(TimerFired(TimerKind.RESTART), 2.1)
    machine.handle(Spawned(PID + 2), 2.1)
    machine.handle(Ready(PID + 2), 2.2)
    actions = machine.handle(crash(100.0, pid=PID + 2), 100.0)
    assert of(Spawn, actions)  # up 98 s: a first crash again, restarted at once


def test_start_during_back_off_starts_now() -> None:
    machine = waiting_to_restart()
    actions = machine.handle(Start(), 2.05)
    assert actions[0] == CancelTimer(TimerKind.RESTART)
    assert of(Spawn, actions)


def test_manual_server_stays_down_after_a_crash() -> None:
    machine = active(MANUAL)
    actions = machine.handle(crash(5.0), 5.0)
    assert not of(Spawn, actions)
    assert machine.state is State.INACTIVE
    assert machine.history[-1].reason == "exited with code 1; manual activation"


def test_crash_loop_disables_with_the_reason_and_start_says_why() -> None:
    machine = active(ALWAYS, now=0.0, policy=RestartPolicy(crash_loop_limit=2, backoff_base=0))
    pid = PID
    for at in (1.0, 2.0):
        machine.handle(crash(at, pid=pid), at)
        pid += 1
        machine.handle(Spawned(pid), at)
        machine.handle(Ready(pid), at)
    actions = machine.handle(crash(3.0, pid=pid), 3.0)
    reason = "crash loop: 3 unexpected exits within 60 s (last: exited with code 1)"
    assert of(Publish, actions)[-1] == Publish(
        SID, PublicState.INACTIVE, False, f"disabled: {reason}", 3.0
    )
    assert not of(Spawn, actions)
    assert machine.disabled is not None
    assert (machine.disabled.by, machine.disabled.reason) == (DisabledBy.FAILURE, reason)
    with pytest.raises(RequestRefused, match="is disabled \\(crash loop") as refused:
        machine.handle(Start(), 4.0)
    assert refused.value.hint == f"enable it with `shoal admin ice server enable {SID}`"
    actions = machine.handle(Enable(), 5.0)
    assert machine.enabled
    assert of(Spawn, actions)  # always: enabling starts it


# --------------------------------------------------------------------------- DisableOnFailure


def test_disable_on_failure_zero_keeps_a_manual_server_enabled() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=0))
    machine.handle(crash(5.0), 5.0)
    assert machine.enabled


def test_disable_on_failure_n_reenables_on_the_timer() -> None:
    machine = active(ALWAYS, now=1.0, policy=RestartPolicy(disable_on_failure=3))
    actions = machine.handle(Exited(Exit(at=5.0, signal=signal.SIGSEGV, pid=PID)), 5.0)
    assert actions[-1] == ArmTimer(TimerKind.REENABLE, 8.0)
    assert machine.disabled is not None and machine.disabled.until == 8.0
    with pytest.raises(RequestRefused, match="disabled"):
        machine.handle(Start(requested_by=LOCATOR), 6.0)
    actions = machine.handle(TimerFired(TimerKind.REENABLE), 8.0)
    assert machine.enabled
    assert of(Spawn, actions)  # an always server restarts when re-enabled
    assert [p.enabled for p in of(Publish, actions)] == [True, True]


def test_disable_on_failure_n_manual_server_is_only_reenabled() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=3))
    machine.handle(crash(5.0), 5.0)
    assert not of(Spawn, machine.handle(TimerFired(TimerKind.REENABLE), 8.0))
    assert machine.enabled


def test_a_user_start_reenables_a_timed_failure_disable_at_once() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=30))
    machine.handle(crash(5.0), 5.0)
    actions = machine.handle(Start(), 6.0)
    assert actions[0] == CancelTimer(TimerKind.REENABLE)
    assert machine.enabled
    assert of(Spawn, actions)


def test_disable_on_failure_negative_refuses_starts_until_enabled() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=-1))
    machine.handle(crash(5.0), 5.0)
    assert machine.timers == {}
    with pytest.raises(RequestRefused, match="disabled"):
        machine.handle(Start(), 6.0)
    assert not of(Spawn, machine.handle(Enable(), 7.0))  # manual: enabled, not started
    assert of(Spawn, machine.handle(Start(), 8.0))


def test_always_server_failing_during_activation_is_disabled() -> None:
    machine = loaded(ALWAYS)
    machine.handle(Spawned(PID), 0.0)
    machine.handle(crash(0.5), 0.5)
    assert machine.disabled is not None
    assert machine.disabled.reason.startswith("failed during activation (exited with code 1)")
    assert machine.state is State.INACTIVE


def test_exec_failure_fails_fast() -> None:
    machine = loaded(ALWAYS)
    actions = machine.handle(SpawnFailed("executable not found: /usr/bin/srv"), 0.1)
    exit = Exit.exec_failure("executable not found: /usr/bin/srv", at=0.1)
    assert RecordExit(SID, exit, expected=False) in actions
    assert machine.last_exit == exit
    assert not of(Spawn, actions)
    assert machine.disabled is not None
    assert machine.disabled.reason == "executable not found: /usr/bin/srv"
    with pytest.raises(RequestRefused, match="executable not found"):
        machine.handle(Start(), 1.0)


# --------------------------------------------------------------------------- enable, disable


def test_disable_keeps_a_running_server_but_stops_its_restarts() -> None:
    machine = active(ALWAYS)
    actions = machine.handle(Disable(), 2.0)
    assert actions == [Publish(SID, PublicState.ACTIVE, False, "disabled by user", 2.0, PID)]
    assert machine.handle(Disable(), 2.5) == []
    actions = machine.handle(crash(3.0), 3.0)
    assert not of(Spawn, actions)
    assert machine.history[-1].reason.startswith("not restarted: disabled")


def test_disable_cancels_a_pending_restart() -> None:
    machine = waiting_to_restart()
    actions = machine.handle(Disable(), 2.05)
    assert CancelTimer(TimerKind.RESTART) in actions
    assert machine.state is State.INACTIVE


def test_disable_drops_a_queued_start() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 2.0)
    machine.handle(Start(), 2.1)
    machine.handle(Disable(), 2.2)
    assert not of(Spawn, machine.handle(Exited(Exit(at=3.0, code=0, pid=PID)), 3.0))


def test_user_disable_replaces_a_failure_disable() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=30))
    machine.handle(crash(5.0), 5.0)
    actions = machine.handle(Disable(), 6.0)
    assert actions[0] == CancelTimer(TimerKind.REENABLE)
    assert machine.disabled is not None and machine.disabled.by is DisabledBy.USER
    with pytest.raises(RequestRefused):
        machine.handle(Start(), 7.0)  # a user disable is not lifted by a start


def test_enable_when_enabled_does_nothing() -> None:
    assert loaded().handle(Enable(), 1.0) == []


def test_a_failure_while_user_disabled_stays_a_user_disable() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=-1))
    machine.handle(Disable(), 2.0)
    machine.handle(crash(3.0), 3.0)
    assert machine.disabled is not None and machine.disabled.by is DisabledBy.USER


# --------------------------------------------------------------------------- new descriptions


def test_new_description_reenables_a_server_disabled_by_failure() -> None:
    machine = active(MANUAL, policy=RestartPolicy(disable_on_failure=30))
    machine.handle(crash(5.0), 5.0)
    actions = machine.handle(Load(describe(MANUAL, pwd="/srv")), 6.0)
    assert CancelTimer(TimerKind.REENABLE) in actions
    assert machine.enabled
    assert machine.history[-2].reason == "re-enabled by a new description"


def test_new_description_keeps_a_user_disable() -> None:
    machine = loaded(ALWAYS)
    machine.handle(Disable(), 0.5)
    machine.handle(Load(describe(ALWAYS, pwd="/srv")), 1.0)
    assert machine.disabled is not None and machine.disabled.by is DisabledBy.USER


def test_same_description_changes_nothing() -> None:
    machine = active(MANUAL)
    assert machine.handle(Load(describe(MANUAL)), 2.0) == []


def test_changed_description_restarts_a_running_server_whatever_its_mode() -> None:
    machine = active(MANUAL)
    actions = machine.handle(Load(describe(MANUAL, pwd="/srv")), 2.0)
    assert Signal(PID, signal.SIGTERM) in actions
    actions = machine.handle(Exited(Exit(at=3.0, code=0, pid=PID)), 3.0)
    assert of(Spawn, actions) == [Spawn(describe(MANUAL, pwd="/srv"))]


def test_changed_description_while_spawning_restarts_once_spawned() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Load(describe(MANUAL, pwd="/srv")), 1.1)
    assert Signal(PID, signal.SIGTERM) in machine.handle(Spawned(PID), 1.2)
    actions = machine.handle(Exited(Exit(at=2.0, code=0, pid=PID)), 2.0)
    assert of(Spawn, actions) == [Spawn(describe(MANUAL, pwd="/srv"))]


def test_changed_description_during_back_off_restarts_now() -> None:
    machine = waiting_to_restart()
    actions = machine.handle(Load(describe(ALWAYS, pwd="/srv")), 2.05)
    assert CancelTimer(TimerKind.RESTART) in actions
    assert of(Spawn, actions) == [Spawn(describe(ALWAYS, pwd="/srv"))]


def test_changed_description_while_stopping_is_used_by_the_next_start() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 2.0)
    assert machine.handle(Load(describe(MANUAL, pwd="/srv")), 2.1) == []
    machine.handle(Exited(Exit(at=3.0, code=0, pid=PID)), 3.0)
    assert of(Spawn, machine.handle(Start(), 4.0)) == [Spawn(describe(MANUAL, pwd="/srv"))]


def test_changed_description_of_an_inactive_always_server_starts_it() -> None:
    machine = loaded(ALWAYS)
    machine.handle(Spawned(PID), 0.1)
    machine.handle(Ready(PID), 0.2)
    machine.handle(Stop(keep_down=True), 1.0)
    machine.handle(Exited(Exit(at=1.5, code=0, pid=PID)), 1.5)
    assert of(Spawn, machine.handle(Load(describe(ALWAYS, pwd="/srv")), 2.0))
    manual = loaded(MANUAL)
    assert not of(Spawn, manual.handle(Load(describe(MANUAL, pwd="/srv")), 2.0))


# --------------------------------------------------------------------------- destroying


def test_destroy_an_inactive_server() -> None:
    machine = loaded(MANUAL)
    actions = machine.handle(Destroy(), 1.0)
    assert published(actions) == [PublicState.DESTROYED]
    assert machine.handle(Destroy(), 1.1) == []
    assert machine.handle(Stop(), 1.2) == []
    for request in (Start(), Load(describe(pwd="/x")), Enable(), Disable()):
        with pytest.raises(RequestRefused, match="destroyed"):
            machine.handle(request, 2.0)


def test_destroy_a_running_server_stops_it_first() -> None:
    machine = active(MANUAL)
    actions = machine.handle(Destroy(), 2.0)
    assert Signal(PID, signal.SIGTERM) in actions
    assert machine.public_state() is PublicState.DESTROYING
    with pytest.raises(RequestRefused, match="being destroyed"):
        machine.handle(Start(), 2.5)
    actions = machine.handle(Exited(Exit(at=3.0, code=0, pid=PID)), 3.0)
    assert published(actions) == [PublicState.DESTROYED]
    assert machine.timers == {}


def test_destroy_while_stopping_shows_destroying() -> None:
    machine = active(MANUAL)
    machine.handle(Stop(), 2.0)
    machine.handle(Start(), 2.1)
    actions = machine.handle(Destroy(), 2.2)
    assert published(actions) == [PublicState.DESTROYING]
    assert machine.pending == {Pending.DESTROY}
    machine.handle(Exited(Exit(at=3.0, code=0, pid=PID)), 3.0)
    assert machine.state is State.DESTROYED


def test_destroy_while_spawning_then_spawn_failure() -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 1.0)
    machine.handle(Destroy(), 1.1)
    assert machine.public_state() is PublicState.DESTROYING
    machine.handle(SpawnFailed("executable not found: /usr/bin/srv"), 1.2)
    assert machine.state is State.DESTROYED


def test_destroy_during_back_off_cancels_the_restart() -> None:
    machine = waiting_to_restart()
    actions = machine.handle(Destroy(), 2.05)
    assert actions[0] == CancelTimer(TimerKind.RESTART)
    assert machine.state is State.DESTROYED


# --------------------------------------------------------------------------- illegal and stale


@pytest.mark.parametrize(
    ("event", "from_state", "to_state"),
    [
        (Spawned(PID), State.INACTIVE, State.WAIT_FOR_ACTIVATION),
        (SpawnFailed("x"), State.INACTIVE, State.INACTIVE),
        (Ready(), State.INACTIVE, State.ACTIVE),
        (Exited(Exit(at=1.0, code=0)), State.INACTIVE, State.INACTIVE),
    ],
)
def test_illegal_events_raise_invalid_transition_with_the_story(
    event: Event, from_state: State, to_state: State
) -> None:
    machine = loaded(MANUAL)
    with pytest.raises(InvalidTransition) as raised:
        machine.handle(event, 1.0)
    error = raised.value
    assert (error.server_id, error.from_state, error.to_state) == (SID, from_state, to_state)
    message = str(error)
    assert SID in message
    assert f"{from_state.value} -> {to_state.value}" in message
    assert "0.000 Inactive: description loaded" in message
    assert error.history == machine.history
    assert machine.state is from_state  # nothing changed


@pytest.mark.parametrize(
    "event", [SpawnFailed("x"), Spawned(PID + 1), Exited(Exit(at=1.0, code=0))]
)
def test_process_events_in_the_wrong_state_are_illegal(event: Event) -> None:
    machine = loaded(MANUAL)
    machine.handle(Start(), 0.5)
    if not isinstance(event, Exited):
        machine.handle(Spawned(PID), 0.6)
    with pytest.raises(InvalidTransition, match=SID):
        machine.handle(event, 1.0)


def test_stale_events_are_ignored() -> None:
    machine = active(MANUAL)
    assert machine.handle(Ready(PID + 1), 2.0) == []
    assert machine.handle(Ready(PID), 2.0) == []  # twice: no news
    assert machine.handle(crash(2.0, pid=PID + 1), 2.0) == []
    assert machine.handle(TimerFired(TimerKind.ACTIVATION), 2.0) == []
    machine.handle(Stop(), 3.0)
    assert machine.handle(Ready(PID), 3.1) == []  # too late to matter
    assert machine.state is State.TERM_SENT


def test_history_is_bounded_and_readable() -> None:
    machine = loaded(MANUAL)
    for at in range(1, 40):
        machine.handle(Disable() if at % 2 else Enable(), float(at))
    assert len(machine.history) == HISTORY_SIZE
    assert str(machine.history[-1]) == "39.000 Inactive: disabled by user"
    machine.handle(Enable(), 40.0)
    machine.handle(Start(), 41.0)
    entry = machine.history[-1]
    assert (entry.cause, str(entry)) == (
        Cause.START,
        "41.000 Inactive -> Spawning: start requested by user",
    )


# --------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize(
    ("state", "public"),
    [
        (State.INACTIVE, PublicState.INACTIVE),
        (State.WAITING_TO_RESTART, PublicState.INACTIVE),
        (State.SPAWNING, PublicState.ACTIVATING),
        (State.WAIT_FOR_ACTIVATION, PublicState.ACTIVATING),
        (State.ACTIVATION_TIMED_OUT, PublicState.ACTIVATION_TIMED_OUT),
        (State.ACTIVE, PublicState.ACTIVE),
        (State.TERM_SENT, PublicState.DEACTIVATING),
        (State.KILL_SENT, PublicState.DEACTIVATING),
        (State.DESTROYED, PublicState.DESTROYED),
    ],
)
def test_public_state_uses_icegrid_names(state: State, public: PublicState) -> None:
    assert public_state(state) is public


@pytest.mark.parametrize("state", [State.SPAWNING, State.TERM_SENT, State.KILL_SENT])
def test_stopping_on_the_way_to_destruction_is_destroying(state: State) -> None:
    assert public_state(state, destroying=True) is PublicState.DESTROYING


def test_every_public_name_is_icegrid_spelling() -> None:
    assert [p.value for p in PublicState] == [
        "Inactive",
        "Activating",
        "ActivationTimedOut",
        "Active",
        "Deactivating",
        "Destroying",
        "Destroyed",
    ]


# --------------------------------------------------------------------------- every allowed move


def _exit0(pid: int = PID) -> Exited:
    return Exited(Exit(at=0.0, code=0, pid=pid))


# Event sequences that, together, make every (from, to, cause) of the table happen.
UP: list[Event] = [Spawned(PID), Ready(PID)]
SCENARIOS: dict[str, tuple[Activation, RestartPolicy, list[list[Event]]]] = {
    "manual start, ready, stop, kill": (
        MANUAL,
        RestartPolicy(),
        [[Start(), *UP, Stop()], [TimerFired(TimerKind.DEACTIVATION), _exit0()]],
    ),
    "timed out, late ready, crash": (
        MANUAL,
        RestartPolicy(),
        [[Start(), Spawned(PID), TimerFired(TimerKind.ACTIVATION), Ready(PID), crash(0.0)]],
    ),
    "timed out then crash or stop": (
        MANUAL,
        RestartPolicy(),
        [
            [Start(), Spawned(PID), TimerFired(TimerKind.ACTIVATION), crash(0.0)],
            [Start(), Spawned(PID), TimerFired(TimerKind.ACTIVATION), Stop()],
        ],
    ),
    "crash or stop while activating": (
        MANUAL,
        RestartPolicy(),
        [[Start(), Spawned(PID), crash(0.0)], [Start(), Spawned(PID), Stop(), _exit0(), Destroy()]],
    ),
    "reload in every running state, destroy": (
        MANUAL,
        RestartPolicy(),
        [
            [Start(), Spawned(PID), Load(describe(pwd="/a")), _exit0(), Spawned(PID)],
            [TimerFired(TimerKind.ACTIVATION), Load(describe(pwd="/b")), _exit0()],
            [*UP, Load(describe(pwd="/c")), _exit0(), Spawned(PID), Destroy()],
            [TimerFired(TimerKind.DEACTIVATION), _exit0()],
        ],
    ),
    "destroy while activating": (MANUAL, RestartPolicy(), [[Start(), Spawned(PID), Destroy()]]),
    "destroy timed out": (
        MANUAL,
        RestartPolicy(),
        [[Start(), Spawned(PID), TimerFired(TimerKind.ACTIVATION), Destroy()]],
    ),
    "destroy active, then exit": (MANUAL, RestartPolicy(), [[Start(), *UP, Destroy(), _exit0()]]),
    "spawn failure, destroy while spawning": (
        MANUAL,
        RestartPolicy(),
        [[Start(), SpawnFailed("x"), Enable(), Start(), Destroy(), Spawned(PID)]],
    ),
    "destroy while spawning, spawn fails": (
        MANUAL,
        RestartPolicy(),
        [[Start(), Destroy(), SpawnFailed("x")]],
    ),
    "always: crash twice, back-off timer, start, stop, disable, enable": (
        ALWAYS,
        RestartPolicy(),
        [
            [*UP, crash(0.0), *UP, crash(0.0), TimerFired(TimerKind.RESTART)],
            [*UP, crash(0.0), Start(), *UP, crash(0.0), Stop(keep_down=True)],
            [Disable(), Enable()],
        ],
    ),
    "always: back-off then disable, load, destroy": (
        ALWAYS,
        RestartPolicy(crash_loop_limit=100),
        [
            [*UP, crash(0.0), *UP, crash(0.0), Disable(), Enable()],
            [*UP, crash(0.0), *UP, crash(0.0), Load(describe(ALWAYS, pwd="/x"))],
            [*UP, crash(0.0), *UP, crash(0.0), Destroy()],
        ],
    ),
    "re-enable timer": (
        ALWAYS,
        RestartPolicy(disable_on_failure=1),
        [[*UP, crash(0.0), TimerFired(TimerKind.REENABLE)]],
    ),
    "queued start, destroy": (
        MANUAL,
        RestartPolicy(),
        [[Start(), *UP, Stop(), Start(), _exit0(), Destroy()]],
    ),
}


def moves_made(
    activation: Activation, policy: RestartPolicy, events: list[list[Event]]
) -> set[tuple[State, State, Cause]]:
    """Every (from, to, cause) the machine went through while handling `events` after a Load."""
    machine = ServerMachine(SID, SupervisionConfig(restart=policy))
    seen: set[tuple[State, State, Cause]] = set()
    flat = [event for chunk in events for event in chunk]
    for at, event in enumerate([Load(describe(activation)), *flat]):
        machine.handle(event, float(at))
        seen.update((h.from_state, h.to_state, h.cause) for h in machine.history if h.cause)
    return seen


def test_every_allowed_move_happens_in_some_scenario() -> None:
    seen: set[tuple[State, State, Cause]] = set()
    for activation, policy, events in SCENARIOS.values():
        seen |= moves_made(activation, policy, events)
    allowed = {(a, b, cause) for (a, b), causes in _TRANSITIONS.items() for cause in causes}
    assert seen <= allowed
    assert allowed - seen == set()
