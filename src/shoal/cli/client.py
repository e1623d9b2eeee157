"""The admin client: one async core over the registry's Admin service, a thin sync wrapper.

The registry is found as icegridadmin finds it: etc/internal.cfg's Ice.Default.Locator (its
client endpoint) and Ice.MessageSizeMax, and spoken to in Shoal's wire protocol
(shoal.rpc.wire: no grpc to load). Every failed call surfaces as a ShoalError; one the
transport could not deliver reads "cannot reach the registry at ADDRESS", the system's own
words (kept as the cause) only in the `--debug` traceback.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from shoal.cli.target import internal_properties, locator_endpoint
from shoal.config.endpoints import Endpoint, format_endpoints
from shoal.config.properties import DEFAULT_MESSAGE_SIZE_MAX_KB, Properties
from shoal.config.site import Site
from shoal.errors import UnreachableError
from shoal.lean import import_asyncio_without_ssl
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.detail import Peer
from shoal.rpc.frames import BlockingChannel
from shoal.rpc.tls import TlsConfig, message_size_max_bytes

if TYPE_CHECKING:
    import asyncio

    from shoal.rpc import internal_pb2
    from shoal.rpc.wire import WireChannel

__all__ = ["AdminApi", "AdminClient", "RegistryTarget", "ping_node_directly"]

T = TypeVar("T")

#: Deadline of quick questions (ping, state, list); long operations (deploy, start) have none.
QUICK_CALL_SECONDS = 10.0


@dataclass(frozen=True)
class RegistryTarget:
    """Where the registry's Admin service is and how to talk to it."""

    endpoint: Endpoint
    max_message_bytes: int
    tls: TlsConfig | None = None

    @property
    def address(self) -> str:
        return format_endpoints((self.endpoint,))

    @classmethod
    def from_properties(cls, properties: Properties, source: str) -> RegistryTarget:
        kb = properties.get_size_kb("Ice.MessageSizeMax", DEFAULT_MESSAGE_SIZE_MAX_KB)
        return cls(
            endpoint=locator_endpoint(properties, source),
            max_message_bytes=message_size_max_bytes(kb),
            tls=TlsConfig.from_properties(properties.as_dict()),
        )

    @classmethod
    def for_site(cls, site: Site, environ: Mapping[str, str] | None = None) -> RegistryTarget:
        """From etc/internal.cfg, as icegridadmin's `--Ice.Config=etc/internal.cfg`."""
        properties = internal_properties(site, environ)
        return cls.from_properties(properties, str(site.internal_config))


#: The Admin service, as the registry's client endpoints serve it.
_ADMIN = admin_pb2.DESCRIPTOR.services_by_name["Admin"]


@contextlib.contextmanager
def _clean_errors(peer: Peer) -> Iterator[None]:
    """A transport failure told in one clean line (as `admin status`)."""
    try:
        yield
    except UnreachableError as error:
        where = f"cannot reach {peer.where()}"
        # Only the transport's own failure: a registry's UnreachableError says something useful.
        if type(error) is UnreachableError and error.message.startswith(f"{where}: "):
            raise UnreachableError(where, error.hint, address=error.address) from error
        raise


class AdminApi:
    """The async core: one method per Admin RPC; open lazily inside the running loop.

    `blocking`: every unary call goes through a BlockingChannel and is answered before its
    coroutine returns, so AdminClient runs a command without an event loop (streams refused).
    """

    def __init__(self, target: RegistryTarget, *, blocking: bool = False) -> None:
        self.target = target
        self.blocking = blocking
        self.peer = Peer.registry(target.address)
        self._channel: WireChannel | None = None
        self._stub: Any = None
        self._blocking_channel: BlockingChannel | None = None

    def _admin(self) -> Any:
        if self.blocking:
            raise RuntimeError("a stream needs AdminClient(blocking=False)")
        if self._stub is None:
            from shoal.rpc.wire import Stub, WireChannel  # asyncio: not for blocking commands

            self._channel = WireChannel(
                self.target.endpoint,
                max_message_bytes=self.target.max_message_bytes,
                tls=self.target.tls,
                peer=self.peer,
            )
            self._stub = Stub(self._channel, _ADMIN)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._blocking_channel is not None:
            self._blocking_channel.close()
        self._channel = self._blocking_channel = None
        self._stub = None

    async def _call(self, method: str, request: Any, deadline: float | None) -> Any:
        # `deadline`: the per-call limit in seconds (None: none), known to the registry too.
        with _clean_errors(self.peer):
            if not self.blocking:
                return await getattr(self._admin(), method)(request, timeout=deadline)
            if self._blocking_channel is None:
                self._blocking_channel = BlockingChannel(
                    self.target.endpoint,
                    max_message_bytes=self.target.max_message_bytes,
                    peer=self.peer,
                )
            return self._blocking_channel.unary(
                f"/{_ADMIN.full_name}/{method}", request, _reply_type(method), deadline=deadline
            )

    # -- applications
    async def deploy(self, request: admin_pb2.DeployRequest) -> admin_pb2.DeployReply:
        reply: admin_pb2.DeployReply = await self._call("Deploy", request, None)
        return reply

    async def application_list(self) -> list[admin_pb2.ApplicationSummary]:
        request = admin_pb2.ApplicationListRequest()
        reply = await self._call("ApplicationList", request, QUICK_CALL_SECONDS)
        return list(reply.applications)

    async def application_describe(self, name: str) -> admin_pb2.ApplicationDescribeReply:
        request = admin_pb2.ApplicationDescribeRequest(application=name)
        reply: admin_pb2.ApplicationDescribeReply = await self._call(
            "ApplicationDescribe", request, QUICK_CALL_SECONDS
        )
        return reply

    async def application_diff(
        self, request: admin_pb2.ApplicationDiffRequest
    ) -> admin_pb2.ApplicationDiffReply:
        reply: admin_pb2.ApplicationDiffReply = await self._call("ApplicationDiff", request, None)
        return reply

    async def application_remove(self, name: str) -> list[str]:
        request = admin_pb2.ApplicationRemoveRequest(application=name)
        reply = await self._call("ApplicationRemove", request, None)
        return list(reply.removed)

    # -- servers
    async def server_list(self, application: str = "", node: str = "") -> list[Any]:
        request = admin_pb2.ServerListRequest(application=application, node=node)
        reply = await self._call("ServerList", request, QUICK_CALL_SECONDS)
        return list(reply.servers)

    async def server_describe(self, server_id: str) -> admin_pb2.ServerDescribeReply:
        request = admin_pb2.ServerDescribeRequest(server_id=server_id)
        reply: admin_pb2.ServerDescribeReply = await self._call(
            "ServerDescribe", request, QUICK_CALL_SECONDS
        )
        return reply

    async def server_state(self, server_id: str) -> common_pb2.ServerStatus:
        request = admin_pb2.ServerStateRequest(server_id=server_id)
        reply = await self._call("ServerState", request, QUICK_CALL_SECONDS)
        status: common_pb2.ServerStatus = reply.status
        return status

    async def server_start(self, server_id: str) -> common_pb2.ServerStatus:
        reply = await self._call(
            "ServerStart", admin_pb2.ServerStartRequest(server_id=server_id), None
        )
        status: common_pb2.ServerStatus = reply.status
        return status

    async def server_stop(self, server_id: str) -> common_pb2.ServerStatus:
        reply = await self._call(
            "ServerStop", admin_pb2.ServerStopRequest(server_id=server_id), None
        )
        status: common_pb2.ServerStatus = reply.status
        return status

    async def server_enable(self, server_id: str, enable: bool = True) -> common_pb2.ServerStatus:
        if enable:
            request: Any = admin_pb2.ServerEnableRequest(server_id=server_id)
            reply = await self._call("ServerEnable", request, QUICK_CALL_SECONDS)
        else:
            request = admin_pb2.ServerDisableRequest(server_id=server_id)
            reply = await self._call("ServerDisable", request, QUICK_CALL_SECONDS)
        status: common_pb2.ServerStatus = reply.status
        return status

    async def server_signal(self, server_id: str, signal: str) -> None:
        request = admin_pb2.ServerSignalRequest(server_id=server_id, signal=signal)
        await self._call("ServerSignal", request, QUICK_CALL_SECONDS)

    async def server_properties(self, server_id: str) -> list[tuple[str, str]]:
        request = admin_pb2.ServerPropertiesRequest(server_id=server_id)
        reply = await self._call("ServerProperties", request, QUICK_CALL_SECONDS)
        return [(p.name, p.value) for p in reply.properties]

    async def server_output(
        self, server_id: str, *, stderr: bool, tail_lines: int, follow: bool
    ) -> AsyncIterator[bytes]:
        """The server's output as it arrives (chunks of bytes)."""
        request = admin_pb2.ServerOutputRequest(
            server_id=server_id,
            stream=common_pb2.STDERR if stderr else common_pb2.STDOUT,
            tail_lines=tail_lines,
            follow=follow,
        )
        with _clean_errors(self.peer):
            async for reply in self._admin().ServerOutput(request):
                yield bytes(reply.chunk.data)

    async def watch_servers(
        self, request: admin_pb2.WatchServersRequest | None = None
    ) -> AsyncIterator[admin_pb2.WatchServersReply]:
        """A snapshot, then every change, until the caller stops iterating."""
        replies = self._admin().WatchServers(request or admin_pb2.WatchServersRequest())
        try:
            with _clean_errors(self.peer):
                async for reply in replies:
                    yield reply
        finally:
            await replies.aclose()  # the registry stops sending

    # -- nodes
    async def node_list(self) -> list[common_pb2.NodeStatus]:
        reply = await self._call("NodeList", admin_pb2.NodeListRequest(), QUICK_CALL_SECONDS)
        return list(reply.nodes)

    async def node_describe(self, node: str) -> common_pb2.NodeStatus:
        request = admin_pb2.NodeDescribeRequest(node=node)
        reply = await self._call("NodeDescribe", request, QUICK_CALL_SECONDS)
        status: common_pb2.NodeStatus = reply.status
        return status

    async def node_ping(self, node: str) -> float:
        reply = await self._call(
            "NodePing", admin_pb2.NodePingRequest(node=node), QUICK_CALL_SECONDS
        )
        return float(reply.round_trip_seconds)

    async def node_load(self, node: str) -> common_pb2.LoadInfo:
        reply = await self._call(
            "NodeLoad", admin_pb2.NodeLoadRequest(node=node), QUICK_CALL_SECONDS
        )
        load: common_pb2.LoadInfo = reply.load
        return load

    async def node_shutdown(self, node: str) -> None:
        await self._call("NodeShutdown", admin_pb2.NodeShutdownRequest(node=node), None)

    # -- adapters
    async def adapter_list(self) -> list[admin_pb2.AdapterInfo]:
        reply = await self._call("AdapterList", admin_pb2.AdapterListRequest(), QUICK_CALL_SECONDS)
        return list(reply.adapters)

    async def adapter_endpoints(self, adapter_id: str) -> admin_pb2.AdapterInfo:
        request = admin_pb2.AdapterEndpointsRequest(adapter_id=adapter_id)
        reply = await self._call("AdapterEndpoints", request, QUICK_CALL_SECONDS)
        info: admin_pb2.AdapterInfo = reply.adapter
        return info

    async def adapter_remove(self, adapter_id: str) -> None:
        request = admin_pb2.AdapterRemoveRequest(adapter_id=adapter_id)
        await self._call("AdapterRemove", request, QUICK_CALL_SECONDS)

    # -- objects
    async def object_add(self, proxy: str, object_type: str = "") -> admin_pb2.ObjectInfo:
        request = admin_pb2.ObjectAddRequest(proxy=proxy, type=object_type)
        reply = await self._call("ObjectAdd", request, QUICK_CALL_SECONDS)
        info: admin_pb2.ObjectInfo = reply.object
        return info

    async def object_remove(self, identity: str) -> None:
        request = admin_pb2.ObjectRemoveRequest(identity=identity)
        await self._call("ObjectRemove", request, QUICK_CALL_SECONDS)

    async def object_list(
        self, expression: str = "", object_type: str = ""
    ) -> list[admin_pb2.ObjectInfo]:
        request = admin_pb2.ObjectListRequest(expression=expression, type=object_type)
        reply = await self._call("ObjectList", request, QUICK_CALL_SECONDS)
        return list(reply.objects)

    # -- registry and grid
    async def registry_list(self) -> list[admin_pb2.RegistryInfo]:
        request = admin_pb2.RegistryListRequest()
        reply = await self._call("RegistryList", request, QUICK_CALL_SECONDS)
        return list(reply.registries)

    async def registry_ping(
        self, name: str = "", deadline: float | None = QUICK_CALL_SECONDS
    ) -> admin_pb2.RegistryInfo:
        request = admin_pb2.RegistryPingRequest(name=name)
        reply = await self._call("RegistryPing", request, deadline)
        info: admin_pb2.RegistryInfo = reply.registry
        return info

    async def registry_shutdown(self, name: str = "") -> None:
        request = admin_pb2.RegistryShutdownRequest(name=name)
        await self._call("RegistryShutdown", request, QUICK_CALL_SECONDS)

    async def diagnostics(self) -> admin_pb2.DiagnosticsReply:
        request = admin_pb2.DiagnosticsRequest()
        reply: admin_pb2.DiagnosticsReply = await self._call(
            "Diagnostics", request, QUICK_CALL_SECONDS
        )
        return reply

    async def shutdown_grid(self) -> admin_pb2.ShutdownGridReply:
        request = admin_pb2.ShutdownGridRequest()
        reply: admin_pb2.ShutdownGridReply = await self._call("ShutdownGrid", request, None)
        return reply


class AdminClient:
    """The sync wrapper click commands use: `client.run(client.api.server_state("x"))`.

    It owns one event loop for its life, so the channel is made once and reused. With
    `blocking=True` it has none: a command whose calls are all unary runs without importing
    asyncio (~30 ms of a one-shot command's ~150), over a plain tcp endpoint (TLS needs the
    loop's client; the loop is used then).
    """

    def __init__(self, target: RegistryTarget, *, blocking: bool = False) -> None:
        self.target = target
        blocking = blocking and target.endpoint.transport in ("tcp", "default")
        self.api = AdminApi(target, blocking=blocking)
        self._runner = None if blocking else _event_loop()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._runner is None:
            return _run_without_loop(work)
        return self._runner.run(work)

    def close(self) -> None:
        if self._runner is None:
            _run_without_loop(self.api.close())
            return
        try:
            self._runner.run(self.api.close())
        finally:
            self._runner.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _event_loop() -> asyncio.Runner:
    # Plain tcp commands do not need OpenSSL: asyncio is imported without it (shoal.lean).
    import_asyncio_without_ssl()
    import asyncio

    return asyncio.Runner()


def _run_without_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits: its calls are answered before they return."""
    try:
        work.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    work.close()
    raise RuntimeError("this command waits on an event loop: use AdminClient(blocking=False)")


@functools.cache
def _reply_type(method: str) -> type[Message]:
    reply_type: type[Message] = GetMessageClass(_ADMIN.methods_by_name[method].output_type)
    return reply_type


async def ping_node_directly(
    endpoint: Endpoint, name: str, target: RegistryTarget
) -> internal_pb2.PingReply:
    """Node.Ping at a node's own endpoint (needs a fixed port), bypassing the registry."""
    # The node's internal API only here: every other command talks to the registry.
    from shoal.rpc import internal_pb2
    from shoal.rpc.wire import WireChannel

    peer = Peer.node(name, format_endpoints((endpoint,)))
    channel = WireChannel(
        endpoint, max_message_bytes=target.max_message_bytes, tls=target.tls, peer=peer
    )
    try:
        with _clean_errors(peer):
            return await channel.unary(
                "/shoal.v1.Node/Ping",
                internal_pb2.PingRequest(),
                internal_pb2.PingReply,
                deadline=QUICK_CALL_SECONDS,
            )
    finally:
        await channel.close()
