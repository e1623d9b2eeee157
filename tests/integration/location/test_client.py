"""shoal.client against a real grid: examples/hello deployed on a master node.

The client resolves the greeter by adapter id (`Hello@HelloServer.Hello`) and as the
well-known object `hello/greeter` (hello.xml), and calls Greet. When the greeter is killed
(SIGKILL) the node restarts it on another port: the client's cached location is stale, and an
idempotent call re-resolves it and succeeds without an error, while a call that is not
idempotent fails with an error naming the proxy and the dead endpoint, and the next call finds
the new server.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.client import Client, SyncClient
from shoal.errors import UnreachableError

pytestmark = pytest.mark.slow

HELLO = Path(__file__).parents[3] / "examples" / "hello"
GREET = "/hello.Greeter/Greet"
ADAPTER = "Hello@HelloServer.Hello"


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start_hello(site: Site) -> None:
    text = (HELLO / "hello.xml").read_text()
    # The marker makes the greeter findable (and killable) by the grid_site fixture.
    text = text.replace(
        "<option>${HELLO_DIR}/server.py</option>",
        f"<option>${{HELLO_DIR}}/server.py</option><option>{site.marker}</option>",
    )
    path = site.prefix / "etc" / "grid" / "hello.xml"
    path.write_text(text)
    ok(site.shoal("admin", "start", str(path), f"HELLO_DIR={HELLO}"))


def registered(site: Site) -> tuple[int, str] | None:
    """The greeter's pid and registered endpoints, once it is active and registered."""
    pid = site.shoal("admin", "ice", "server", "pid", "HelloServer").stdout.strip()
    shown = site.shoal("admin", "ice", "adapter", "endpoints", "HelloServer.Hello").stdout.strip()
    if not pid.isdigit() or not shown.startswith("tcp"):
        return None
    return int(pid), shown


def kill_and_wait_for_restart(site: Site, pid: int) -> str:
    """SIGKILL the greeter; the node restarts it (activation always): its new endpoints."""
    os.kill(pid, signal.SIGKILL)
    _, endpoints = poll_until(
        lambda: (found := registered(site)) and found[0] != pid and found,
        "the greeter restarted and registered",
    )
    return endpoints


@pytest.mark.asyncio
async def test_adapter_ids_and_well_known_objects_resolve_to_the_greeter(grid_site: Site) -> None:
    start_hello(grid_site)
    _, endpoints = poll_until(lambda: registered(grid_site), "the greeter registered")
    async with Client.from_config(grid_site.prefix / "etc" / "internal.cfg") as client:
        assert await client.endpoints(ADAPTER) == endpoints
        assert await client.endpoints("hello/greeter") == endpoints
        assert await client.call("hello/greeter", GREET, b"Shoal") == b"Hello, Shoal!"
        channel = await client.channel(ADAPTER)
        assert await channel.unary_unary(GREET)(b"grid", timeout=10) == b"Hello, grid!"
    ok(grid_site.shoal("admin", "stop"))


def test_after_the_greeter_restarts_an_idempotent_call_finds_it_again(grid_site: Site) -> None:
    start_hello(grid_site)
    pid, first = poll_until(lambda: registered(grid_site), "the greeter registered")
    with SyncClient.from_config(grid_site.prefix / "etc" / "internal.cfg") as client:
        assert client.call("hello/greeter", GREET, b"one", idempotent=True) == b"Hello, one!"
        assert client.endpoints("hello/greeter") == first  # cached now

        second = kill_and_wait_for_restart(grid_site, pid)
        assert client.call("hello/greeter", GREET, b"two", idempotent=True) == b"Hello, two!"
        assert client.endpoints("hello/greeter") == second
    ok(grid_site.shoal("admin", "stop"))


def test_after_the_greeter_restarts_a_call_that_is_not_idempotent_fails_clearly(
    grid_site: Site,
) -> None:
    start_hello(grid_site)
    pid, first = poll_until(lambda: registered(grid_site), "the greeter registered")
    with SyncClient.from_config(grid_site.prefix / "etc" / "internal.cfg") as client:
        assert client.call(ADAPTER, GREET, b"one") == b"Hello, one!"

        second = kill_and_wait_for_restart(grid_site, pid)
        if second == first:
            pytest.skip("the restarted greeter got its old port back: nothing is stale")
        with pytest.raises(UnreachableError) as failed:
            client.call(ADAPTER, GREET, b"two")
        assert f"`{ADAPTER}' at {first}" in failed.value.message
        assert "not idempotent" in failed.value.hint
        # The stale location was forgotten: the next call finds the new server.
        assert client.call(ADAPTER, GREET, b"three") == b"Hello, three!"
        assert client.endpoints(ADAPTER) == second
    ok(grid_site.shoal("admin", "stop"))
