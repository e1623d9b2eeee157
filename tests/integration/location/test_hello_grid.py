"""The location slice for real: examples/hello deployed with the CLI on a master node.

The greeter (shoal.server, adapter on port 0) is Active only once it registered its adapter;
`adapter list|endpoints` and `server describe` show the real endpoints; the example client
finds it through Locator.FindAdapterById and gets its answer; the well-known object declared in
hello.xml resolves to the same endpoints. A program that is not built with the SDK and listens
on a port the descriptor fixes (`python -m http.server`) is Active once the port listens, and
one whose fixed port never listens stays Activating.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.config.endpoints import parse_endpoint
from shoal.errors import AdapterNotFoundError, ObjectNotFoundError
from shoal.rpc import locator_pb2
from shoal.rpc.wire import Stub, WireChannel

pytestmark = pytest.mark.slow

HELLO = Path(__file__).parents[3] / "examples" / "hello"


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def state(site: Site, server_id: str) -> str:
    return site.shoal("admin", "ice", "server", "state", server_id).stdout.strip()


def install_hello(site: Site, extra_servers: str = "") -> Path:
    text = (HELLO / "hello.xml").read_text()
    # The marker makes the greeter findable (and killable) by the grid_site fixture.
    text = text.replace(
        "<option>${HELLO_DIR}/server.py</option>",
        "<option>${HELLO_DIR}/server.py</option><option>MARK</option>",
    )
    text = text.replace('<node name="master">', '<node name="master">' + extra_servers, 1)
    path = site.prefix / "etc" / "grid" / "hello.xml"
    path.write_text(text.replace("MARK", site.marker))
    return path


def static_server(server_id: str, port: int, command: str, how: str = 'activation="always"') -> str:
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" {how}>{command}'
        f'<adapter name="Web" endpoints="tcp -h 127.0.0.1 -p {port}"/></server>'
    )


def listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def locate(site: Site, method: str, request: object) -> object:
    async def call() -> object:
        endpoint = parse_endpoint(f"tcp -h 127.0.0.1 -p {site.port}")
        channel = WireChannel(endpoint, max_message_bytes=1 << 20)
        try:
            stub = Stub(channel, locator_pb2.DESCRIPTOR.services_by_name["Locator"])
            return await getattr(stub, method)(request, timeout=10)
        finally:
            await channel.close()

    return asyncio.run(call())


def test_greeter_is_active_once_registered_and_found_through_the_locator(
    grid_site: Site,
) -> None:
    descriptor = install_hello(grid_site)
    ok(grid_site.shoal("admin", "start", str(descriptor), f"HELLO_DIR={HELLO}"))
    poll_until(lambda: state(grid_site, "HelloServer").startswith("active"), "HelloServer active")

    # Active implies registered: the registry already has the real endpoints.
    listed = ok(grid_site.shoal("admin", "ice", "adapter", "list"))
    found = re.search(r"HelloServer\.Hello\s+HelloServer\s+(tcp -h 127\.0\.0\.1 -p (\d+))", listed)
    assert found, listed
    endpoints, port = found.group(1), int(found.group(2))
    assert port > 0 and listens(port)
    shown = ok(grid_site.shoal("admin", "ice", "adapter", "endpoints", "HelloServer.Hello"))
    assert shown.strip() == endpoints
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "HelloServer"))
    assert f"registered adapter `HelloServer.Hello' = `{endpoints}'" in described

    client = subprocess.run(
        [
            sys.executable,
            str(HELLO / "client.py"),
            f"--Ice.Config={grid_site.prefix}/etc/internal.cfg",
            "Shoal",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert client.returncode == 0, client.stderr
    assert client.stdout.strip() == "Hello, Shoal!"

    reply = locate(
        grid_site, "FindObjectById", locator_pb2.FindObjectByIdRequest(identity="hello/greeter")
    )
    assert isinstance(reply, locator_pb2.FindObjectByIdReply)
    assert (reply.endpoints, reply.adapter_id) == (endpoints, "HelloServer.Hello")
    with pytest.raises(AdapterNotFoundError):
        locate(grid_site, "FindAdapterById", locator_pb2.FindAdapterByIdRequest(adapter_id="Nope"))
    with pytest.raises(ObjectNotFoundError):
        locate(grid_site, "FindObjectById", locator_pb2.FindObjectByIdRequest(identity="nope"))

    # SIGTERM (server stop): the server withdraws its adapter and exits 0.
    ok(grid_site.shoal("admin", "ice", "server", "disable", "HelloServer"))
    ok(grid_site.shoal("admin", "ice", "server", "stop", "HelloServer"))
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "HelloServer"))
    assert "exited with code 0" in described, described
    shown = ok(grid_site.shoal("admin", "ice", "adapter", "endpoints", "HelloServer.Hello"))
    assert shown.strip() == "<inactive>"
    with pytest.raises(AdapterNotFoundError, match="not registered"):
        locate(
            grid_site,
            "FindAdapterById",
            locator_pb2.FindAdapterByIdRequest(adapter_id="HelloServer.Hello"),
        )
    ok(grid_site.shoal("admin", "stop"))


def test_static_endpoint_server_is_active_once_its_port_listens(grid_site: Site) -> None:
    web_port, silent_port = grid_site.port + 1, grid_site.port + 2
    (grid_site.prefix / grid_site.marker).mkdir()
    web = static_server(
        "Web",
        web_port,
        "<option>-m</option><option>http.server</option><option>--bind</option>"
        f"<option>127.0.0.1</option><option>--directory</option>"
        f"<option>{grid_site.prefix / grid_site.marker}</option><option>{web_port}</option>",
    )
    # Fixed port, nothing ever listens there: never Active (started by hand below).
    silent = static_server(
        "Silent",
        silent_port,
        "<option>-c</option><option>import signal; signal.pause()</option>"
        f"<option>{grid_site.marker}</option>",
        'activation="manual" activation-timeout="1"',
    )
    descriptor = install_hello(grid_site, web + silent)
    ok(grid_site.shoal("admin", "start", str(descriptor), f"HELLO_DIR={HELLO}"))
    poll_until(lambda: state(grid_site, "Web").startswith("active"), "Web active")
    assert listens(web_port)
    poll_until(lambda: state(grid_site, "HelloServer").startswith("active"), "HelloServer active")
    # Silent runs, but nothing listens at its port: it never becomes Active.
    started = grid_site.shoal("admin", "ice", "server", "start", "Silent")
    assert started.returncode != 0 and "activation timed out" in started.stderr, started
    assert state(grid_site, "Silent").startswith("activation timed out"), state(grid_site, "Silent")
    listed = ok(grid_site.shoal("admin", "ice", "adapter", "list"))
    assert re.search(r"Silent\.Web\s+Silent\s+<inactive>", listed), listed
    # Web does not use the SDK: once its port listened, clients find it at its fixed endpoints.
    assert re.search(rf"Web\.Web\s+Web\s+tcp -h 127\.0\.0\.1 -p {web_port}", listed), listed
    found = ok(grid_site.shoal("admin", "ice", "adapter", "endpoints", "Web.Web"))
    assert f"-p {web_port}" in found
    ok(grid_site.shoal("admin", "stop"))
