"""Replica-group load balancing as a pure function (shoal.registry.replicas): members and loads
in, the order a lookup answers with out; the random source is seeded, no I/O.

Scenario: three adapters of one group on nodes a, b, c. Round-robin spreads 300 lookups evenly
and skips a member whose server is not live; ordered always answers the best live priority;
adaptive puts the least loaded node first (an unreachable one last); random uses every member.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from shoal.descriptor.model import LoadBalancingType, ReplicaGroup
from shoal.registry import replicas
from shoal.registry.replicas import Member, RoundRobin, choose
from shoal.rpc import common_pb2


def group(policy: LoadBalancingType, n_replicas: int = 0, load_sample: int = 1) -> ReplicaGroup:
    return ReplicaGroup("G", load_balancing=policy, n_replicas=n_replicas, load_sample=load_sample)


def members(**changes: dict[str, object]) -> list[Member]:
    made = []
    for index, name in enumerate("abc"):
        values: dict[str, object] = {
            "adapter_id": f"S{name}.A",
            "server_id": f"S{name}",
            "node": name,
            "endpoints": f"tcp -h 127.0.0.1 -p {4000 + index}",
            "priority": index,
            "load": 0.5,
        }
        values.update(changes.get(name, {}))
        made.append(Member(**values))  # type: ignore[arg-type]
    return made


def first_of(policy: ReplicaGroup, candidates: list[Member], lookups: int) -> Counter[str]:
    rng, rotation = random.Random(7), RoundRobin()
    return Counter(
        choose(policy, candidates, rng=rng, rotation=rotation)[0].adapter_id for _ in range(lookups)
    )


def test_round_robin_over_three_members_spreads_300_lookups_evenly() -> None:
    counts = first_of(group(LoadBalancingType.ROUND_ROBIN), members(), 300)
    assert set(counts) == {"Sa.A", "Sb.A", "Sc.A"}
    assert all(abs(count - 100) <= 1 for count in counts.values()), counts


def test_round_robin_answers_every_member_in_rotated_order() -> None:
    rotation, rng = RoundRobin(), random.Random(0)
    answers = [
        [m.adapter_id for m in choose(group(LoadBalancingType.ROUND_ROBIN), members(), rng=rng,
                                      rotation=rotation)]
        for _ in range(3)
    ]  # fmt: skip
    assert answers == [
        ["Sa.A", "Sb.A", "Sc.A"],
        ["Sb.A", "Sc.A", "Sa.A"],
        ["Sc.A", "Sa.A", "Sb.A"],
    ]


def test_round_robin_skips_a_member_whose_server_is_not_live() -> None:
    counts = first_of(group(LoadBalancingType.ROUND_ROBIN), members(b={"endpoints": ""}), 300)
    assert "Sb.A" not in counts and set(counts) == {"Sa.A", "Sc.A"}


def test_ordered_always_answers_the_best_live_priority() -> None:
    candidates = members(a={"priority": 5}, b={"priority": 1}, c={"priority": 3})
    assert first_of(group(LoadBalancingType.ORDERED), candidates, 50) == {"Sb.A": 50}
    ordered = choose(
        group(LoadBalancingType.ORDERED), candidates, rng=random.Random(1), rotation=RoundRobin()
    )
    assert [m.adapter_id for m in ordered] == ["Sb.A", "Sc.A", "Sa.A"]
    # The best one's server is down: the next best live one.
    candidates = members(a={"priority": 5}, b={"priority": 1, "endpoints": ""}, c={"priority": 3})
    assert first_of(group(LoadBalancingType.ORDERED), candidates, 50) == {"Sc.A": 50}


def test_adaptive_prefers_the_less_loaded_node_and_puts_unreachable_last() -> None:
    candidates = members(a={"load": replicas.UNREACHABLE_LOAD}, b={"load": 0.9}, c={"load": 0.1})
    chosen = choose(
        group(LoadBalancingType.ADAPTIVE), candidates, rng=random.Random(3), rotation=RoundRobin()
    )
    assert [m.adapter_id for m in chosen] == ["Sc.A", "Sb.A", "Sa.A"]
    assert first_of(group(LoadBalancingType.ADAPTIVE), candidates, 50) == {"Sc.A": 50}


def test_random_uses_every_member_over_many_lookups() -> None:
    counts = first_of(group(LoadBalancingType.RANDOM), members(), 300)
    assert set(counts) == {"Sa.A", "Sb.A", "Sc.A"}
    assert min(counts.values()) > 50, counts


@pytest.mark.parametrize(("n_replicas", "expected"), [(0, 3), (1, 1), (2, 2), (5, 3)])
def test_n_replicas_keeps_the_first_n_after_the_policy(n_replicas: int, expected: int) -> None:
    chosen = choose(
        group(LoadBalancingType.ORDERED, n_replicas),
        members(),
        rng=random.Random(0),
        rotation=RoundRobin(),
    )
    assert [m.adapter_id for m in chosen] == ["Sa.A", "Sb.A", "Sc.A"][:expected]


def test_node_load_samples_the_average_and_applies_the_load_factor() -> None:
    load = common_pb2.LoadInfo(avg1=4.0, avg5=2.0, avg15=1.0)
    assert replicas.node_load(load, load_sample=1, load_factor=None, cpus=4) == 1.0
    assert replicas.node_load(load, load_sample=5, load_factor=None, cpus=4) == 0.5
    assert replicas.node_load(load, load_sample=15, load_factor=2.0, cpus=4) == 2.0
    assert replicas.node_load(None, load_sample=1, load_factor=1.0, cpus=1) == 999.9


def test_priority_of_reads_numbers_and_treats_the_rest_as_zero() -> None:
    assert [replicas.priority_of(t) for t in ("3", " -1 ", "", "high")] == [3, -1, 0, 0]
