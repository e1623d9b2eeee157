"""The registry in its own process, killed with SIGKILL and started again on the same site.

The node daemon is not involved here: the end-to-end tests with the real node daemon (a
master restarted after kill -9 pushing servers to re-registering nodes, `shoal admin stop`)
are done by the lead once the node daemon and the registry both land.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf.message_factory import GetMessageClass

from shoal.config.endpoints import parse_endpoint
from shoal.rpc import admin_pb2
from shoal.rpc.wire import BlockingChannel

SRC = Path(__file__).resolve().parents[3] / "src"
WAIT = 20.0

# Runs a registry on port 0 until ShutdownGrid; prints its client endpoints once serving.
REGISTRY_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from shoal.config.properties import Properties
    from shoal.config.site import Site
    from shoal.registry.service import Registry

    async def main() -> None:
        registry = Registry(Site(Path(sys.argv[1])), Properties.from_mapping({
            "IceGrid.Registry.Client.Endpoints": "tcp -h 127.0.0.1 -p 0",
            "IceGrid.Registry.Internal.Endpoints": "tcp -h 127.0.0.1 -p 0",
        }))
        await registry.start()
        print(registry.client_endpoints, flush=True)
        await registry.shutdown_requested.wait()
        await registry.stop()

    asyncio.run(main())
    """
)

MB = 1 << 20

APP = """<icegrid><application name="App"><node name="node1">
  <server id="S1" exe="${PYTHON}" activation="manual"/>
</node></application></icegrid>
"""


@contextmanager
def registry_process(site: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", REGISTRY_SCRIPT, str(site)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("tcp"), f"the registry did not start: {endpoint!r}"
        host = endpoint.split("-h ")[1].split()[0]
        port = endpoint.split("-p ")[1].split()[0]
        yield process, f"{host}:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)
        if process.stdout is not None:
            process.stdout.close()


class BlockingAdmin:
    """Admin calls in Shoal's wire protocol, one at a time: `admin.Deploy(request, timeout=)`."""

    def __init__(self, channel: BlockingChannel) -> None:
        self._channel = channel
        self._methods = admin_pb2.DESCRIPTOR.services_by_name["Admin"].methods_by_name

    def __getattr__(self, name: str) -> Callable[..., Any]:
        reply_type = GetMessageClass(self._methods[name].output_type)

        def call(request: Any, timeout: float | None = None) -> Any:
            return self._channel.unary(
                f"/shoal.v1.Admin/{name}", request, reply_type, deadline=timeout
            )

        return call


def admin(address: str) -> tuple[BlockingChannel, BlockingAdmin]:
    host, port = address.rsplit(":", 1)
    channel = BlockingChannel(parse_endpoint(f"tcp -h {host} -p {port}"), max_message_bytes=MB)
    return channel, BlockingAdmin(channel)


def test_a_registry_killed_with_sigkill_comes_back_with_its_applications(tmp_path: Path) -> None:
    (tmp_path / "etc" / "grid").mkdir(parents=True)
    with registry_process(tmp_path) as (process, address):
        channel, stub = admin(address)
        with channel:
            reply = stub.Deploy(
                admin_pb2.DeployRequest(descriptor_xml=APP, source_name="app.xml"), timeout=WAIT
            )
            assert reply.revision == 1 and list(reply.pending_nodes) == ["node1"]
            stub.ServerDisable(admin_pb2.ServerDisableRequest(server_id="S1"), timeout=WAIT)
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT)

    # The kernel released the database lock with the process: nothing to clean by hand.
    with registry_process(tmp_path) as (process, address):
        channel, stub = admin(address)
        with channel:
            servers = stub.ServerList(admin_pb2.ServerListRequest(), timeout=WAIT).servers
            assert [(s.server_id, s.enabled) for s in servers] == [("S1", False)]
            described = stub.ServerDescribe(
                admin_pb2.ServerDescribeRequest(server_id="S1"), timeout=WAIT
            )
            assert described.description.exe == sys.executable
            shutdown = stub.ShutdownGrid(admin_pb2.ShutdownGridRequest(), timeout=WAIT)
            assert shutdown.registry_pid == process.pid
        assert process.wait(WAIT) == 0
