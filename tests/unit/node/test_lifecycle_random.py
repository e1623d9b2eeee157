"""Random but legal event sequences: the machine never breaks, whatever the order of things.

A small model of the shell feeds the machine only what could really happen in its state (a pid
only while spawning, an exit only from a running process, the armed timers at their time), plus
every request at any time and some stale events; the invariants are checked after each step.
"""

from __future__ import annotations

import signal

from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.descriptor.model import Activation, ServerDescription
from shoal.node.lifecycle import (
    HISTORY_SIZE,
    Action,
    ArmTimer,
    CancelTimer,
    Destroy,
    Disable,
    DisabledBy,
    Enable,
    Event,
    Exited,
    Load,
    PublicState,
    Publish,
    Ready,
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

SID = "Jobs-0"
WITH_PROCESS = {
    State.WAIT_FOR_ACTIVATION,
    State.ACTIVATION_TIMED_OUT,
    State.ACTIVE,
    State.TERM_SENT,
    State.KILL_SENT,
}
ACTIVATIONS = [Activation.ALWAYS, Activation.ON_DEMAND, Activation.MANUAL, Activation.SESSION]
POLICIES = [
    RestartPolicy(),
    RestartPolicy(disable_on_failure=5),
    RestartPolicy(disable_on_failure=-1),
    RestartPolicy(crash_loop_limit=1, backoff_base=0.5, stable_after=3),
]


def describe(activation: Activation, pwd: str) -> ServerDescription:
    return ServerDescription(
        id=SID, node="node1", application="OMERO", exe="/bin/jobs", activation=activation, pwd=pwd
    )


def next_event(
    data: st.DataObject, machine: ServerMachine, activation: Activation, next_pid: int
) -> Event:
    """Something the outside world could send now: first what kind of thing, then which one.

    Destroy, the end of the story, comes rarely; exit times are set when the event is sent.
    """
    groups: dict[str, list[Event]] = {
        "request": [
            Start(),
            Start(requested_by=Requester.LOCATOR),
            Stop(),
            Stop(keep_down=True),
            Enable(),
            Disable(),
            Load(describe(activation, "/a")),
            Load(describe(activation, "/b")),
            TimerFired(TimerKind.RESTART),  # stale when not armed, as the others
        ],
    }
    if machine.state is State.SPAWNING:
        spawn: list[Event] = [Spawned(next_pid)] * 4
        groups["spawn"] = [*spawn, SpawnFailed("executable not found: x")]
    pid = machine.pid
    if pid is not None:
        groups["process"] = [*[Ready(pid)] * 4, Ready(), Ready(pid - 1)]
        groups["process"] += [Exited(Exit(at=0, code=code, pid=pid)) for code in (0, 1, 2)]
        groups["process"] += [
            Exited(Exit(at=0, signal=sig, pid=pid))
            for sig in (signal.SIGSEGV, signal.SIGTERM, signal.SIGKILL)
        ]
    if machine.timers:
        groups["timer"] = [TimerFired(kind) for kind in machine.timers]
    if data.draw(st.integers(0, 49)) == 0:
        return Destroy()
    # What the process does comes more often than requests, or it would seldom get far.
    weights = {"process": 3, "spawn": 3, "timer": 2, "request": 1}
    group = data.draw(st.sampled_from([g for g in sorted(groups) for _ in range(weights[g])]))
    return data.draw(st.sampled_from(groups[group]))


def check_invariants(
    machine: ServerMachine, actions: list[Action], shadow: dict[TimerKind, float]
) -> None:
    state = machine.state
    assert machine.public_state() in set(PublicState)
    assert machine.public_state() is public_state(
        state, destroying="DESTROY" in {p.name for p in machine.pending}
    )
    assert (machine.pid is not None) == (state in WITH_PROCESS)
    timers = machine.timers
    assert (TimerKind.ACTIVATION in timers) == (state is State.WAIT_FOR_ACTIVATION)
    assert (TimerKind.DEACTIVATION in timers) == (state is State.TERM_SENT)
    assert (TimerKind.RESTART in timers) == (state is State.WAITING_TO_RESTART)
    if TimerKind.REENABLE in timers:
        disabled = machine.disabled
        assert disabled is not None and disabled.by is DisabledBy.FAILURE
        assert disabled.until == timers[TimerKind.REENABLE]
    if state is State.DESTROYED:
        assert not timers and not machine.pending
    if any(isinstance(a, Spawn) for a in actions):
        assert state is State.SPAWNING and machine.enabled
    for action in actions:
        if isinstance(action, ArmTimer):
            shadow[action.kind] = action.at
        elif isinstance(action, CancelTimer):
            shadow.pop(action.kind)
        elif isinstance(action, Signal):
            assert action.process_group
        elif isinstance(action, Publish):
            assert action.server_id == SID
    assert len(machine.history) <= HISTORY_SIZE


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_legal_event_sequences_never_raise_an_invalid_transition(data: st.DataObject) -> None:
    activation = data.draw(st.sampled_from(ACTIVATIONS), label="activation")
    policy = data.draw(st.sampled_from(POLICIES), label="policy")
    machine = ServerMachine(SID, SupervisionConfig(wait_time=10.0, restart=policy))
    shadow: dict[TimerKind, float] = {}
    now, next_pid = 0.0, 100
    actions = machine.handle(Load(describe(activation, "/a")), now)
    check_invariants(machine, actions, shadow)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        event = next_event(data, machine, activation, next_pid)
        if isinstance(event, TimerFired) and event.kind in machine.timers:
            now = max(now, machine.timers[event.kind])  # a timer fires at its time
            shadow.pop(event.kind)  # and, fired, is no longer armed in the shell
        else:
            now += data.draw(st.sampled_from([0.0, 0.05, 1.0, 30.0]))
        if isinstance(event, Spawned):
            next_pid += 1
        # The machine fed the shell's own Exit with the time of the event.
        if isinstance(event, Exited):
            event = Exited(
                Exit(at=now, code=event.exit.code, signal=event.exit.signal, pid=event.exit.pid)
            )
        try:
            actions = machine.handle(event, now)
        except RequestRefused:
            actions = []
        check_invariants(machine, actions, shadow)
        assert shadow == dict(machine.timers)
