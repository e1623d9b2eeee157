"""One adapter's lookup (find_adapter, what FindAdapterById answers) agrees with the listing
(adapter_infos, what `adapter list` shows) without building it.

Scenario: one grid holds every case the listing's rules tell apart: a live server's registered
adapter, a declared one whose server does not run, an IceBox service's adapter, an id a
server registered without declaring it, another server registering an adapter it does not
declare, adapters programs registered (declared and not), and two servers declaring the same
id. For each id the lookup answers the listing's entry, with dynamic registration on and off;
an id nobody declared or registered is NOT_FOUND_ADAPTER.
"""

from __future__ import annotations

import dataclasses

import pytest
from test_locator_on_demand import grid, server

from shoal.descriptor.model import Activation, Adapter, Service
from shoal.errors import AdapterNotFoundError
from shoal.registry.locator import adapter_infos, find_adapter
from shoal.registry.state import RegistryState
from shoal.rpc import common_pb2


def registered(adapter_id: str, port: int, group: str = "") -> common_pb2.AdapterStatus:
    return common_pb2.AdapterStatus(
        adapter_id=adapter_id, endpoints=f"tcp -h 127.0.0.1 -p {port}", replica_group=group
    )


def run(state: RegistryState, server_id: str, *adapters: common_pb2.AdapterStatus) -> None:
    """`server_id` runs and has registered `adapters`."""
    status = state.servers[server_id].status
    status.state = common_pb2.ACTIVE
    status.adapters.extend(adapters)


def every_case() -> RegistryState:
    icebox = dataclasses.replace(
        server("Box", Activation.ALWAYS),
        adapters=(),
        services=(Service("Svc", "svc:create", adapters=(Adapter("A", "Box.Svc.A", ""),)),),
    )
    twin = dataclasses.replace(
        server("Twin", Activation.ALWAYS), adapters=(Adapter("A", "Live.A", ""),)
    )
    state = grid(
        server("Live", Activation.ALWAYS),
        server("Idle", Activation.ON_DEMAND),
        server("Other", Activation.ALWAYS),
        icebox,
        twin,
    )
    run(state, "Live", registered("Live.A", 4001), registered("Live.Extra", 4002, "G"))
    run(state, "Box", registered("Box.Svc.A", 4003))
    # Registers its own adapter, an id another server declares, and one Live registered too.
    run(state, "Other", registered("Other.A", 4004), registered("Idle.A", 4005))
    run(state, "Other", registered("Live.Extra", 4006))
    run(state, "Twin", registered("Live.A", 4007))
    state.dynamic.set_adapter("Idle.A", "", "tcp -h 127.0.0.1 -p 4008")
    state.dynamic.set_adapter("Program.A", "G", "tcp -h 127.0.0.1 -p 4009")
    return state


@pytest.mark.parametrize("dynamic", [False, True])
def test_each_adapters_lookup_answers_its_entry_in_the_listing(dynamic: bool) -> None:
    state = every_case()
    listed = adapter_infos(state, dynamic_registration=dynamic)
    assert {info.adapter_id for info in listed} >= {"Live.A", "Idle.A", "Box.Svc.A", "Program.A"}
    assert ("Live.Extra" in {info.adapter_id for info in listed}) is dynamic
    for info in listed:
        assert find_adapter(state, info.adapter_id, dynamic_registration=dynamic) == info


def test_a_declared_adapter_answers_its_own_servers_endpoints_only() -> None:
    state = every_case()
    assert find_adapter(state, "Idle.A", dynamic_registration=True).endpoints == (
        "tcp -h 127.0.0.1 -p 4008"  # Idle does not run: the program's, not Other's
    )
    found = find_adapter(state, "Box.Svc.A", dynamic_registration=False)
    assert (found.server_id, found.endpoints) == ("Box", "tcp -h 127.0.0.1 -p 4003")


@pytest.mark.parametrize("dynamic", [False, True])
def test_an_id_nobody_declared_or_registered_is_not_found(dynamic: bool) -> None:
    with pytest.raises(AdapterNotFoundError) as caught:
        find_adapter(every_case(), "Nobody.A", dynamic_registration=dynamic)
    assert caught.value.name == "Nobody.A"
