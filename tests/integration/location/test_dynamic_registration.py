"""Run-time registration for real: a program that is no server of any node registers an adapter
through the Locator (IceGrid's LocatorRegistry), refused while IceGrid.Registry.DynamicRegistration
is off and found by FindAdapterById, `adapter list` and `object add ID@ADAPTER` once it is on;
`adapter remove` forgets it. Well-known objects added with `object add` are listed, described,
found by type and resolved beside the greeter hello.xml declares, which cannot be removed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.errors import AdapterNotFoundError
from shoal.rpc import locator_pb2

from .test_hello_grid import install_hello, locate, ok, state

pytestmark = pytest.mark.slow

# A program outside the grid: registers (or removes) one adapter and exits.
REGISTER = """
import asyncio, sys
from shoal.config.endpoints import parse_endpoint
from shoal.rpc import locator_pb2
from shoal.rpc.wire import WireChannel
from shoal.errors import ShoalError

async def main(port, adapter_id, endpoints):
    endpoint = parse_endpoint(f"tcp -h 127.0.0.1 -p {port}")
    channel = WireChannel(endpoint, max_message_bytes=1 << 20)
    try:
        request = locator_pb2.SetAdapterEndpointsRequest(adapter_id=adapter_id, endpoints=endpoints)
        await channel.unary(
            "/shoal.v1.Locator/SetAdapterEndpoints",
            request,
            locator_pb2.SetAdapterEndpointsReply,
            deadline=10,
        )
    finally:
        await channel.close()

try:
    asyncio.run(main(*sys.argv[1:]))
except ShoalError as error:
    print(f"{type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
"""

PROGRAM_ENDPOINTS = "tcp -h 127.0.0.1 -p 45678"


def register(site: Site, adapter_id: str, endpoints: str) -> subprocess.CompletedProcess[str]:
    script = site.prefix / "register.py"
    script.write_text(REGISTER)
    command = [sys.executable, str(script), str(site.port), adapter_id, endpoints]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def start_hello(site: Site, *, dynamic: bool) -> None:
    if dynamic:
        config = site.prefix / "etc" / "master.cfg"
        text = config.read_text()
        assert "IceGrid.Registry.DynamicRegistration=0" in text
        config.write_text(
            text.replace(
                "IceGrid.Registry.DynamicRegistration=0", "IceGrid.Registry.DynamicRegistration=1"
            )
        )
    descriptor = install_hello(site)
    hello_dir = Path(__file__).parents[3] / "examples" / "hello"
    ok(site.shoal("admin", "start", str(descriptor), f"HELLO_DIR={hello_dir}"))
    poll_until(lambda: state(site, "HelloServer").startswith("active"), "HelloServer active")


def admin(site: Site, *words: str) -> subprocess.CompletedProcess[str]:
    return site.shoal("admin", "ice", *words)


def test_program_registration_is_refused_with_dynamic_registration_off(grid_site: Site) -> None:
    start_hello(grid_site, dynamic=False)

    refused = register(grid_site, "Program.Adapter", PROGRAM_ENDPOINTS)
    assert refused.returncode == 1
    assert (
        "AdapterNotFoundError: adapter `Program.Adapter' is not deployed and dynamic registration"
        " is off (IceGrid.Registry.DynamicRegistration)" in refused.stderr
    )
    # A declared adapter belongs to its running server, flag or not.
    taken = register(grid_site, "HelloServer.Hello", PROGRAM_ENDPOINTS)
    assert taken.returncode == 1
    assert "server `HelloServer', which is running" in taken.stderr
    assert "Program.Adapter" not in ok(admin(grid_site, "adapter", "list"))
    with pytest.raises(AdapterNotFoundError):
        locate(
            grid_site,
            "FindAdapterById",
            locator_pb2.FindAdapterByIdRequest(adapter_id="Program.Adapter"),
        )
    ok(grid_site.shoal("admin", "stop"))


def test_program_registers_an_adapter_and_admins_add_objects(grid_site: Site) -> None:
    start_hello(grid_site, dynamic=True)

    ok(register(grid_site, "Program.Adapter", PROGRAM_ENDPOINTS))
    reply = locate(
        grid_site,
        "FindAdapterById",
        locator_pb2.FindAdapterByIdRequest(adapter_id="Program.Adapter"),
    )
    assert isinstance(reply, locator_pb2.FindAdapterByIdReply)
    assert reply.endpoints == PROGRAM_ENDPOINTS
    listed = ok(admin(grid_site, "adapter", "list"))
    assert re.search(r"Program\.Adapter\s+-\s+tcp -h 127\.0\.0\.1 -p 45678", listed), listed
    shown = ok(admin(grid_site, "adapter", "endpoints", "Program.Adapter"))
    assert shown.strip() == PROGRAM_ENDPOINTS

    # Objects: one in the program's adapter, one at a direct proxy, the greeter declared.
    ok(admin(grid_site, "object", "add", "thing@Program.Adapter", "::demo::Thing"))
    ok(admin(grid_site, "object", "add", "direct:tcp -h 127.0.0.1 -p 45679"))
    duplicate = admin(grid_site, "object", "add", "hello/greeter@Program.Adapter")
    assert duplicate.returncode != 0 and "already registered" in duplicate.stderr
    assert ok(admin(grid_site, "object", "list")).split() == ["direct", "hello/greeter", "thing"]
    assert ok(admin(grid_site, "object", "list", "hel*")).split() == ["hello/greeter"]
    assert ok(admin(grid_site, "object", "find", "::demo::Thing")).splitlines() == [
        "thing@Program.Adapter"
    ]
    described = ok(admin(grid_site, "object", "describe", "hello/greeter"))
    assert described.splitlines() == [
        "proxy = `hello/greeter@HelloServer.Hello'",
        "type = `::hello::Greeter'",
    ]
    found = locate(grid_site, "FindObjectById", locator_pb2.FindObjectByIdRequest(identity="thing"))
    assert isinstance(found, locator_pb2.FindObjectByIdReply)
    assert (found.endpoints, found.adapter_id, found.type) == (
        PROGRAM_ENDPOINTS,
        "Program.Adapter",
        "::demo::Thing",
    )
    direct = locate(
        grid_site, "FindObjectById", locator_pb2.FindObjectByIdRequest(identity="direct")
    )
    assert isinstance(direct, locator_pb2.FindObjectByIdReply)
    assert direct.endpoints == "tcp -h 127.0.0.1 -p 45679"
    diagnostics = ok(grid_site.shoal("admin", "diagnostics"))
    assert "Program.Adapter" in diagnostics and "thing@Program.Adapter" in diagnostics

    kept = admin(grid_site, "object", "remove", "hello/greeter")
    assert kept.returncode != 0
    assert "added with the application descriptor `Hello'" in kept.stderr
    ok(admin(grid_site, "object", "remove", "thing"))
    assert "thing" not in ok(admin(grid_site, "object", "list")).split()

    deployed = admin(grid_site, "adapter", "remove", "HelloServer.Hello")
    assert deployed.returncode != 0 and "is deployed" in deployed.stderr
    ok(admin(grid_site, "adapter", "remove", "Program.Adapter"))
    assert "Program.Adapter" not in ok(admin(grid_site, "adapter", "list"))
    with pytest.raises(AdapterNotFoundError):
        locate(
            grid_site,
            "FindAdapterById",
            locator_pb2.FindAdapterByIdRequest(adapter_id="Program.Adapter"),
        )
    ok(grid_site.shoal("admin", "stop"))
