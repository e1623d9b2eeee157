"""The deploy diff: which servers a new expanded application adds, removes, changes or leaves."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from expand_builders import application, instance, node, props, server, template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import applications

from shoal.descriptor.diff import ApplicationDiff, changed_fields, diff_applications
from shoal.descriptor.expand import expand
from shoal.descriptor.model import (
    Application,
    ApplicationDescriptor,
    Node,
    ReplicaGroupDescriptor,
    ServerDescription,
)
from shoal.errors import DescriptorError


def site(
    processor_level: str = "20", *, node2: str = "node2", extra: bool = False
) -> ApplicationDescriptor:
    """master with Jobs-0, node1 and node2 with one processor each (the seed's layout)."""
    processor = template(
        "ProcessorTemplate",
        server("Processor-${index}", "python", property_set=props(("level", "${level}"))),
        "index",
        "level",
        defaults={"level": "20"},
    )
    master = [server("Jobs-0", "python")] + ([server("Extra", "python")] if extra else [])
    return application(
        node("master", *master),
        node("node1", instance("ProcessorTemplate", index="1", level=processor_level)),
        node(node2, instance("ProcessorTemplate", index="2")),
        templates=[processor],
    )


def test_application_against_itself_is_empty() -> None:
    app = expand(site())
    diff = diff_applications(app, app)
    assert diff.is_empty
    assert diff.unchanged == ("Jobs-0", "Processor-1", "Processor-2")
    assert diff.summary() == "no change"


def test_one_property_changed_on_one_server() -> None:
    diff = diff_applications(expand(site()), expand(site(processor_level="10")))
    assert dict(diff.changed) == {"Processor-1": ("properties",)}
    assert diff.unchanged == ("Jobs-0", "Processor-2")
    assert (diff.added, diff.removed) == ((), ())
    assert not diff.is_empty


def test_first_deploy_adds_every_server() -> None:
    diff = diff_applications(None, expand(site()))
    assert diff.added == ("Jobs-0", "Processor-1", "Processor-2")
    assert (diff.removed, diff.unchanged, dict(diff.changed)) == ((), (), {})
    assert diff.nodes == ("master", "node1", "node2")


def test_added_and_removed_servers() -> None:
    old, new = expand(site()), expand(site(extra=True))
    assert diff_applications(old, new).added == ("Extra",)
    assert diff_applications(new, old).removed == ("Extra",)


def test_server_moved_to_another_node_changes_its_node() -> None:
    diff = diff_applications(expand(site()), expand(site(node2="node3")))
    assert dict(diff.changed) == {"Processor-2": ("node",)}
    assert diff.nodes == ("node2", "node3")


def test_reordered_options_change_the_server() -> None:
    """IceGrid compares options as sets; a different order is a different argv for Shoal."""
    old = expand(application(node("n", server(options=("-a", "-b")))))
    new = expand(application(node("n", server(options=("-b", "-a")))))
    assert dict(diff_applications(old, new).changed) == {"S": ("options",)}


def test_changed_fields_are_named_from_the_dataclass() -> None:
    a = ServerDescription(id="S", node="n", application="A", exe="x")
    b = dataclasses.replace(a, exe="y", user="u", envs=("A=1",))
    assert changed_fields(a, b) == ("exe", "user", "envs")
    assert changed_fields(a, a) == ()


def test_replica_group_node_and_description_changes() -> None:
    old = expand(application(node("n"), replica_groups=[ReplicaGroupDescriptor("RG")]))
    new = expand(
        application(
            node("n", load_factor="2"),
            replica_groups=[ReplicaGroupDescriptor("RG", filter="f"), ReplicaGroupDescriptor("X")],
            description="new",
        )
    )
    diff = diff_applications(old, new)
    assert (diff.replica_groups, diff.nodes, diff.description_changed) == (
        ("RG", "X"),
        ("n",),
        True,
    )
    assert not diff.is_empty
    assert diff.summary() == (
        "replica groups updated: RG, X\nnodes updated: n\ndescription updated"
    )


def test_summary_lists_every_outcome() -> None:
    diff = ApplicationDiff(
        added=("A",),
        removed=("R",),
        changed=MappingProxyType({"C": ("properties", "node")}),
        unchanged=("U", "V"),
    )
    assert diff.summary() == (
        "added: A\nremoved: R\nrestarted: C (properties, node)\nleft running: U, V"
    )


# --------------------------------------------------------------------------- properties

_ids = st.sampled_from(["A", "B", "C", "D"])
_servers = st.builds(
    ServerDescription,
    id=_ids,
    node=st.sampled_from(["n1", "n2"]),
    application=st.just("App"),
    exe=st.sampled_from(["x", "y"]),
    options=st.lists(st.sampled_from(["-a", "-b"]), max_size=2).map(tuple),
)


@st.composite
def expanded(draw: st.DrawFn) -> Application:
    servers = {s.id: s for s in draw(st.lists(_servers, max_size=4))}
    by_node: dict[str, list[ServerDescription]] = {}
    for s in servers.values():
        by_node.setdefault(s.node, []).append(s)
    nodes = {name: Node(name, servers=tuple(group)) for name, group in by_node.items()}
    return Application("App", nodes=MappingProxyType(nodes))


@given(expanded())
def test_diff_with_itself_is_empty(app: Application) -> None:
    diff = diff_applications(app, app)
    assert diff.is_empty
    assert diff.unchanged == tuple(sorted(app.servers()))


@given(expanded(), expanded())
def test_diff_is_symmetric_and_partitions_the_servers(old: Application, new: Application) -> None:
    forward, backward = diff_applications(old, new), diff_applications(new, old)
    assert (forward.added, forward.removed) == (backward.removed, backward.added)
    assert forward.changed.keys() == backward.changed.keys()
    assert forward.unchanged == backward.unchanged
    common = sorted(old.servers().keys() & new.servers().keys())
    assert sorted([*forward.changed, *forward.unchanged]) == common
    for names in forward.changed.values():
        assert names


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications())
def test_any_valid_descriptor_expands_or_reports_problems(
    descriptor: ApplicationDescriptor,
) -> None:
    """Expansion never fails with anything but a DescriptorError, and a successful expansion
    compares equal to itself (the diff of a redeploy is empty)."""
    try:
        app = expand(descriptor)
    except DescriptorError as error:
        assert error.problems
        return
    assert diff_applications(app, expand(descriptor)).is_empty
