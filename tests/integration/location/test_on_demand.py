"""On-demand activation for real: an `on-demand` greeter (examples/hello) is deployed on the
master and not started; the first Locator.FindAdapterById starts it through its node and
answers with the endpoints it registered, which answer a call. A disabled one is not started
and the lookup says why.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.config.endpoints import parse_endpoint
from shoal.errors import AdapterNotFoundError
from shoal.rpc import locator_pb2
from shoal.rpc.channels import make_channel
from shoal.rpc.wire import WireChannel

pytestmark = pytest.mark.slow

HELLO = Path(__file__).parents[3] / "examples" / "hello"


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def state(site: Site, server_id: str) -> str:
    return site.shoal("admin", "ice", "server", "state", server_id).stdout.strip()


def greeter(server_id: str, activation: str, group: str = "") -> str:
    """A hello greeter server; MARK (the fixture's marker) makes it findable and killable."""
    member = f' replica-group="{group}"' if group else ""
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" activation="{activation}">'
        f"<option>{HELLO}/server.py</option><option>MARK</option>"
        f'<adapter name="Hello" endpoints="tcp -h 127.0.0.1"{member}/></server>'
    )


async def find(site: Site, adapter_id: str) -> locator_pb2.FindAdapterByIdReply:
    endpoint = parse_endpoint(f"tcp -h 127.0.0.1 -p {site.port}")
    channel = WireChannel(endpoint, max_message_bytes=1 << 20)
    try:
        return await channel.unary(
            "/shoal.v1.Locator/FindAdapterById",
            locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id),
            locator_pb2.FindAdapterByIdReply,
            deadline=60,
        )
    finally:
        await channel.close()


async def greet(endpoints: str, name: bytes) -> bytes:
    channel = make_channel(endpoints, max_message_bytes=1 << 20)
    try:
        answer: bytes = await channel.unary_unary("/hello.Greeter/Greet")(name, timeout=10)
        return answer
    finally:
        await channel.close()


def test_first_lookup_starts_the_on_demand_server_and_its_endpoints_answer(
    grid_site: Site,
) -> None:
    descriptor = grid_site.descriptor(
        "lazy.xml", greeter("Lazy", "on-demand") + greeter("Off", "on-demand")
    )
    ok(grid_site.shoal("admin", "start", str(descriptor)))
    assert state(grid_site, "Lazy").startswith("inactive"), state(grid_site, "Lazy")

    async def scenario() -> tuple[locator_pb2.FindAdapterByIdReply, bytes]:
        # Two lookups at once: one start, the same endpoints.
        first, second = await asyncio.gather(
            find(grid_site, "Lazy.Hello"), find(grid_site, "Lazy.Hello")
        )
        assert first.endpoints == second.endpoints
        return first, await greet(first.endpoints, b"Shoal")

    reply, answer = asyncio.run(scenario())
    assert reply.endpoints.startswith("tcp -h 127.0.0.1 -p ")
    assert [r.adapter_id for r in reply.replicas] == ["Lazy.Hello"]
    assert answer == b"Hello, Shoal!"
    assert state(grid_site, "Lazy").startswith("active")
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "Lazy"))
    assert f"registered adapter `Lazy.Hello' = `{reply.endpoints}'" in described

    ok(grid_site.shoal("admin", "ice", "server", "disable", "Off"))
    with pytest.raises(AdapterNotFoundError, match="server `Off' is disabled"):
        asyncio.run(find(grid_site, "Off.Hello"))
    poll_until(lambda: state(grid_site, "Off").startswith("inactive") or None, "Off inactive")
    ok(grid_site.shoal("admin", "stop"))
