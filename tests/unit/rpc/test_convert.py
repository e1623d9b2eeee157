"""Expanded servers survive the trip through their protobuf mirror unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.descriptor.expand import expand
from shoal.descriptor.model import ApplicationDescriptor, ServerDescription
from shoal.errors import DescriptorError
from shoal.rpc import descriptor_pb2
from shoal.rpc.convert import server_from_pb, server_to_pb

sys.path.insert(0, str(Path(__file__).parents[1] / "descriptor"))
from strategies import applications


def expanded_servers(descriptor: ApplicationDescriptor) -> list[ServerDescription]:
    try:
        application = expand(descriptor, reserved={"SHOAL_HOME": "/site", "PYTHON": "python"})
    except DescriptorError:
        return []
    return list(application.servers().values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications())
def test_every_expanded_server_round_trips_through_protobuf(
    descriptor: ApplicationDescriptor,
) -> None:
    for server in expanded_servers(descriptor):
        wire = server_to_pb(server).SerializeToString()
        assert server_from_pb(descriptor_pb2.ServerDescription.FromString(wire)) == server


@given(st.sampled_from(["always", "manual", "on-demand", "session"]))
def test_activation_modes_map_both_ways(mode: str) -> None:
    from shoal.descriptor.model import Activation

    server = ServerDescription(
        id="s", node="n", application="a", exe="x", activation=Activation(mode)
    )
    assert server_from_pb(server_to_pb(server)).activation == Activation(mode)
