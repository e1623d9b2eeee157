"""The admin client without an event loop (`AdminClient(blocking=True)`): one-shot commands
whose calls are all unary run over a BlockingChannel and import no asyncio. The fake Admin
service is a real WireServer in a thread of its own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from shoal.cli.client import AdminClient, RegistryTarget
from shoal.cli.console import _unary_only
from shoal.config.endpoints import Endpoint, format_endpoints
from shoal.errors import ServerNotFoundError
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.wire import WireServer

MB = 1 << 20


class FakeAdmin:
    async def ServerList(self, request: Any, context: Any) -> Any:
        return admin_pb2.ServerListReply(
            servers=[common_pb2.ServerStatus(server_id="Blitz-0", state=common_pb2.ACTIVE)]
        )

    async def ServerState(self, request: Any, context: Any) -> Any:
        raise ServerNotFoundError(
            f"server `{request.server_id}' is not deployed", "list them", name=request.server_id
        )


@pytest.fixture
def registry() -> Iterator[Endpoint]:
    """A WireServer serving FakeAdmin on its own loop in a thread; its bound endpoint."""
    loop = asyncio.new_event_loop()
    server = WireServer(max_message_bytes=MB, name="the fake registry")
    server.add_service(admin_pb2.DESCRIPTOR.services_by_name["Admin"], FakeAdmin())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        bound = asyncio.run_coroutine_threadsafe(
            server.listen("tcp -h 127.0.0.1 -p 0"), loop
        ).result(10)
        yield bound[0]
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_blocking_client_answers_unary_calls_and_their_errors(registry: Endpoint) -> None:
    with AdminClient(RegistryTarget(registry, MB), blocking=True) as client:
        assert client.api.blocking
        servers = client.run(client.api.server_list())
        assert [s.server_id for s in servers] == ["Blitz-0"]
        with pytest.raises(ServerNotFoundError, match="`nope' is not deployed") as caught:
            client.run(client.api.server_state("nope"))
        assert caught.value.name == "nope"


def test_a_stream_is_refused_by_a_blocking_client(registry: Endpoint) -> None:
    async def follow(client: AdminClient) -> None:
        async for _ in client.api.watch_servers():
            pass

    with (
        AdminClient(RegistryTarget(registry, MB), blocking=True) as client,
        pytest.raises(RuntimeError, match="blocking=False"),
    ):
        client.run(follow(client))


def test_a_command_that_waits_on_the_loop_is_refused_without_one(registry: Endpoint) -> None:
    with (
        AdminClient(RegistryTarget(registry, MB), blocking=True) as client,
        pytest.raises(RuntimeError, match="waits on an event loop"),
    ):
        client.run(asyncio.sleep(0))


def test_only_plain_tcp_targets_run_without_a_loop(registry: Endpoint) -> None:
    tls = RegistryTarget(replace(registry, transport="ssl"), MB)
    with AdminClient(tls, blocking=True) as client:
        assert not client.api.blocking  # TLS needs the loop's client


@pytest.mark.parametrize(
    ("words", "unary"),
    [
        (["server", "list"], True),
        (["server", "state", "Blitz-0"], True),
        (["server", "stdout", "Blitz-0", "--follow"], False),
        (["server", "stderr", "Blitz-0"], False),
        (["help"], True),
        (["nosuch"], True),  # a usage error: told without a call
    ],
)
def test_one_shot_console_commands_without_a_stream_skip_the_loop(
    words: list[str], unary: bool
) -> None:
    assert _unary_only(words) is unary


def test_a_one_shot_list_imports_no_asyncio(registry: Endpoint) -> None:
    """The point of the blocking client: a whole `server list` process loads no asyncio."""
    code = textwrap.dedent(
        f"""
        import sys
        from shoal.cli.client import AdminClient, RegistryTarget
        from shoal.config.endpoints import parse_endpoint
        target = RegistryTarget(parse_endpoint({format_endpoints((registry,))!r}), {MB})
        with AdminClient(target, blocking=True) as client:
            names = [s.server_id for s in client.run(client.api.server_list())]
        print(names, "asyncio" in sys.modules, "grpc" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.split("\n")[0] == "['Blitz-0'] False False"
