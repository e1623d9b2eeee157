"""Run-time adapters and objects without processes: who may register an adapter through the
Locator (SetAdapterEndpoints), what the lookups and listings then show, and `object add|remove`.

Scenario: `Lazy` (manual, on node1) declares `Lazy.A` holding `obj/Lazy`. A program may set
`Lazy.A` while Lazy does not run, never while it runs; an undeclared id needs
IceGrid.Registry.DynamicRegistration. Objects added at a direct proxy or an adapter resolve
through FindObjectById; a declared object cannot be removed.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from test_locator_on_demand import grid, server

from shoal.descriptor.model import Activation
from shoal.errors import (
    AdapterNotFoundError,
    AlreadyExistsError,
    InvalidArgumentError,
    ObjectNotFoundError,
)
from shoal.registry.locator import LocatorServicer, adapter_infos, check_settable, object_infos
from shoal.registry.objects import matches, parse_added_proxy
from shoal.registry.state import RegistryState
from shoal.rpc import common_pb2, locator_pb2

ENDPOINTS = "tcp -h 127.0.0.1 -p 4000"
NO_CONTEXT = cast(Any, None)


def lazy_grid() -> RegistryState:
    return grid(server("Lazy", Activation.MANUAL))


def set_endpoints(
    locator: LocatorServicer, adapter_id: str, endpoints: str, group: str = ""
) -> None:
    request = locator_pb2.SetAdapterEndpointsRequest(
        adapter_id=adapter_id, replica_group_id=group, endpoints=endpoints
    )
    asyncio.run(locator.SetAdapterEndpoints(request, NO_CONTEXT))


def find_adapter(locator: LocatorServicer, adapter_id: str) -> locator_pb2.FindAdapterByIdReply:
    request = locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id)
    return asyncio.run(locator.FindAdapterById(request, NO_CONTEXT))


def find_object(locator: LocatorServicer, identity: str) -> locator_pb2.FindObjectByIdReply:
    request = locator_pb2.FindObjectByIdRequest(identity=identity)
    return asyncio.run(locator.FindObjectById(request, NO_CONTEXT))


def make_locator(state: RegistryState, *, dynamic: bool) -> LocatorServicer:
    return LocatorServicer(
        instance_name="IceGrid", internal_endpoints="", state=state, dynamic_registration=dynamic
    )


def test_undeclared_adapter_is_refused_with_dynamic_registration_off() -> None:
    locator = make_locator(lazy_grid(), dynamic=False)
    with pytest.raises(AdapterNotFoundError) as caught:
        set_endpoints(locator, "Program.A", ENDPOINTS)
    assert str(caught.value) == (
        "adapter `Program.A' is not deployed and dynamic registration is off"
        " (IceGrid.Registry.DynamicRegistration)"
    )
    assert caught.value.name == "Program.A"
    assert "DynamicRegistration=1" in caught.value.hint
    with pytest.raises(AdapterNotFoundError):
        find_adapter(locator, "Program.A")


def test_undeclared_adapter_is_stored_listed_found_and_removed_with_dynamic_registration() -> None:
    state = lazy_grid()
    locator = make_locator(state, dynamic=True)
    set_endpoints(locator, "Program.A", "tcp -h 127.0.0.1 -p 4000")
    assert find_adapter(locator, "Program.A").endpoints == ENDPOINTS
    listed = {i.adapter_id: i for i in adapter_infos(state, dynamic_registration=True)}
    assert listed["Program.A"].server_id == "" and listed["Program.A"].endpoints == ENDPOINTS
    set_endpoints(locator, "Program.A", "")
    with pytest.raises(AdapterNotFoundError):
        find_adapter(locator, "Program.A")


def test_declared_adapter_is_settable_only_while_its_server_does_not_run() -> None:
    state = lazy_grid()
    locator = make_locator(state, dynamic=False)
    set_endpoints(locator, "Lazy.A", ENDPOINTS)  # Lazy is Inactive
    assert find_adapter(locator, "Lazy.A").endpoints == ENDPOINTS
    state.servers["Lazy"].status.CopyFrom(
        common_pb2.ServerStatus(server_id="Lazy", state=common_pb2.ACTIVE, pid=42, enabled=True)
    )
    with pytest.raises(AlreadyExistsError) as caught:
        check_settable(state, "Lazy.A", dynamic_registration=True)
    assert "deployed for server `Lazy', which is running" in str(caught.value)


def test_bad_requests_are_invalid_arguments() -> None:
    locator = make_locator(lazy_grid(), dynamic=True)
    with pytest.raises(InvalidArgumentError):
        set_endpoints(locator, "", ENDPOINTS)
    with pytest.raises(InvalidArgumentError):
        set_endpoints(locator, "Program.A", "tcp -h 127.0.0.1 -p nope")
    with pytest.raises(AdapterNotFoundError, match="couldn't find replica group `Ghost'"):
        set_endpoints(locator, "Program.A", ENDPOINTS, group="Ghost")


def test_added_objects_resolve_beside_declared_ones() -> None:
    state = lazy_grid()
    locator = make_locator(state, dynamic=True)
    set_endpoints(locator, "Program.A", ENDPOINTS)
    state.dynamic.add_object(parse_added_proxy("thing@Program.A"), "::T")
    state.dynamic.add_object(parse_added_proxy("cat/direct:tcp -h 127.0.0.1 -p 4001"), "")

    assert [(o.identity, o.proxy, o.application) for o in object_infos(state)] == [
        ("cat/direct", "cat/direct:tcp -h 127.0.0.1 -p 4001", ""),
        ("obj/Lazy", "obj/Lazy@Lazy.A", "App"),
        ("thing", "thing@Program.A", ""),
    ]
    thing = find_object(locator, "thing")
    assert (thing.endpoints, thing.adapter_id, thing.type) == (ENDPOINTS, "Program.A", "::T")
    direct = find_object(locator, "cat/direct")
    assert (direct.endpoints, direct.adapter_id) == ("tcp -h 127.0.0.1 -p 4001", "")

    with pytest.raises(AlreadyExistsError):
        state.dynamic.add_object(parse_added_proxy("thing@Other"), "")
    state.dynamic.remove_object("thing")
    with pytest.raises(ObjectNotFoundError):
        find_object(locator, "thing")
    with pytest.raises(ObjectNotFoundError):
        state.dynamic.remove_object("thing")


@pytest.mark.parametrize("text", ["plain", "bad proxy :", "id@"])
def test_object_add_needs_endpoints_or_an_adapter(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_added_proxy(text)


@pytest.mark.parametrize(
    ("expression", "identity", "expected"),
    [
        ("", "anything", True),
        ("hello/greeter", "hello/greeter", True),
        ("hello/greeter", "hello/greeter2", False),
        ("hello/*", "hello/greeter", True),
        ("hel*", "other", False),
        ("*", "x", True),
    ],
)
def test_expressions_are_exact_or_a_prefix_with_a_trailing_star(
    expression: str, identity: str, expected: bool
) -> None:
    assert matches(expression, identity) is expected
