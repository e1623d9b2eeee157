"""Replica-group load balancing (IceGrid's AdapterCache.cpp): which members of a group a lookup
returns, in which order. Pure: members, loads and the random source come in; no I/O, no clock.

    random       shuffle
    ordered      ascending adapter priority (ties shuffled)
    round-robin  rotate by a per-group counter (one step per lookup), in adapter-id order
    adaptive     shuffle, then ascending node load (avg1/5/15 per load-sample × load-factor;
                 an unreachable node counts as UNREACHABLE_LOAD)

Members whose server is not live (no registered endpoints) are dropped after ordering, so a
policy skips them; n-replicas then keeps the first N (0: all; negative: 1).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shoal.descriptor.model import LoadBalancingType, ReplicaGroup
from shoal.rpc import common_pb2

__all__ = ["UNREACHABLE_LOAD", "Member", "RoundRobin", "choose", "node_load", "order"]

#: The load of a node without a session (IceGrid's 999.9): last choice of adaptive.
UNREACHABLE_LOAD = 999.9


@dataclass(frozen=True)
class Member:
    """One adapter of a replica group as a lookup sees it."""

    adapter_id: str
    server_id: str
    node: str
    #: Registered endpoints; empty while its server is not live.
    endpoints: str = ""
    #: The adapter's `priority` (lower first for `ordered`); 0 when unset or not a number.
    priority: int = 0
    #: Its node's load as `adaptive` compares them (see `node_load`).
    load: float = UNREACHABLE_LOAD

    @property
    def live(self) -> bool:
        return bool(self.endpoints)


def priority_of(text: str) -> int:
    """An adapter's `priority` attribute as a number (IceGrid: unset or bad is 0)."""
    try:
        return int(text.strip() or 0)
    except ValueError:
        return 0


def node_load(
    load: common_pb2.LoadInfo | None,
    *,
    load_sample: int,
    load_factor: float | None,
    cpus: int,
) -> float:
    """A node's load for `adaptive`: the sampled average (1, 5 or 15 minutes; anything else is
    1) times the load factor, which defaults to 1/cpus. None (no session): UNREACHABLE_LOAD."""
    if load is None:
        return UNREACHABLE_LOAD
    average = {5: load.avg5, 15: load.avg15}.get(load_sample, load.avg1)
    factor = load_factor if load_factor is not None else 1.0 / max(cpus, 1)
    return float(average) * factor


class RoundRobin:
    """The rotation counters, one per group. A lookup advances its group's counter once, in one
    synchronous step (no await), so concurrent lookups are serialized by the event loop."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def advance(self, group_id: str) -> int:
        """This lookup's offset into the group; the next lookup gets the following one."""
        offset = self._next.get(group_id, 0)
        self._next[group_id] = offset + 1
        return offset

    def forget(self, group_id: str) -> None:
        self._next.pop(group_id, None)


def order(
    group: ReplicaGroup,
    members: Iterable[Member],
    *,
    rng: random.Random,
    rotation: RoundRobin,
) -> list[Member]:
    """Every member in the group's policy order, live or not."""
    ordered = sorted(members, key=lambda m: m.adapter_id)
    policy = group.load_balancing
    if policy is LoadBalancingType.ROUND_ROBIN:
        if not ordered:
            return ordered
        offset = rotation.advance(group.id) % len(ordered)
        return ordered[offset:] + ordered[:offset]
    rng.shuffle(ordered)
    if policy is LoadBalancingType.ORDERED:
        ordered.sort(key=lambda m: m.priority)  # stable: ties stay shuffled
    elif policy is LoadBalancingType.ADAPTIVE:
        ordered.sort(key=lambda m: m.load)
    return ordered


def limit(group: ReplicaGroup, members: Sequence[Member]) -> list[Member]:
    """The first n-replicas members (0: all; negative: 1)."""
    wanted = group.n_replicas
    if wanted == 0:
        return list(members)
    return list(members[: max(wanted, 1)])


def choose(
    group: ReplicaGroup,
    members: Iterable[Member],
    *,
    rng: random.Random,
    rotation: RoundRobin,
) -> list[Member]:
    """The live members a lookup returns, in policy order, cut to n-replicas."""
    return limit(group, [m for m in order(group, members, rng=rng, rotation=rotation) if m.live])
