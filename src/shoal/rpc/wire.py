"""Shoal's wire protocol over asyncio: the services of our .proto files served and called as
length-prefixed protobuf frames (shoal.rpc.frames has the format), one TCP or TLS connection
carrying many calls at once.

Every Shoal service speaks it: Admin and Locator (every `shoal` command, every lookup), the
node sessions and the Node service. gRPC Python costs ~1 ms of CPU per call and ~130 ms to
import; this costs ~0.1-0.2 ms and nothing beyond protobuf (docs/performance.md has the
figures). The contract is unchanged: the same services, messages and ErrorDetail
(shoal.rpc.detail) as with gRPC. Long-lived connections are watched by TCP keepalive.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from shoal.config.endpoints import ANY_HOST, Endpoint, EndpointParseError, resolve_endpoint
from shoal.errors import (
    ConfigError,
    InvalidArgumentError,
    RemoteError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.lean import give_asyncio_ssl
from shoal.rpc.detail import (
    Peer,
    error_detail,
    internal_error,
    message_too_large,
)
from shoal.rpc.frames import (
    BlockingChannel,
    Frame,
    FrameReader,
    ProtocolError,
    as_callers,
    failure_of,
    frame_limit,
    parse_reply,
    request_bytes,
    timed_out,
)
from shoal.rpc.framing import (
    CALL,
    CALL_HEAD,
    CANCEL,
    END,
    ERROR,
    KIND_NAMES,
    MAGIC,
    REPLY,
    encode_call,
    encode_frame,
)
from shoal.rpc.tls import TlsConfig, check_transport, server_endpoints

if TYPE_CHECKING:
    import ssl

    from google.protobuf.descriptor import ServiceDescriptor

__all__ = [
    "MAGIC",
    "BlockingChannel",
    "CallContext",
    "Frame",
    "FrameReader",
    "ProtocolError",
    "Stub",
    "WireChannel",
    "WireServer",
    "encode_call",
    "encode_frame",
]

log = logging.getLogger("shoal.rpc.wire")

M = TypeVar("M", bound=Message)

#: A client stops reading a connection when its streams hold this many unread items, and
#: starts again below the low mark: the server then waits (TCP flow control) rather than
#: filling the client's memory with output nobody reads yet.
_HIGH_WATER, _LOW_WATER = 512, 64
#: Calls one connection may have running at once; past it the server stops reading it.
_MAX_CALLS = 256
# Dead-peer detection for long-lived streams (WatchServers, output --follow): first probe
# after 30 s idle, then every 10 s, gone after 3 unanswered.
_KEEPALIVE = (30, 10, 3)


def _keep_alive(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = _KEEPALIVE
    for option, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", count),
    ):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _peer_name(transport: asyncio.BaseTransport) -> str:
    """gRPC's form of the caller's address ("ipv4:127.0.0.1:50312"), for logs and sessions."""
    address = transport.get_extra_info("peername")
    if not isinstance(address, tuple) or len(address) < 2:
        return "unknown"
    host, port = address[0], address[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def _tls_settings(endpoint: Endpoint, tls: TlsConfig | None, *, server: bool) -> Any:
    if endpoint.transport != "ssl":
        return None
    assert tls is not None  # check_transport refused an ssl endpoint without TLS settings
    give_asyncio_ssl()
    return tls.server_context() if server else tls.client_context()


# ------------------------------------------------------------------------------------ server


class CallContext:
    """What a servicer method gets beside its request: the part of grpc.aio's context that
    Shoal's servicers use, so one servicer serves either transport."""

    __slots__ = ("_peer",)

    def __init__(self, peer: str) -> None:
        self._peer = peer

    def peer(self) -> str:
        return self._peer

    # A servicer that inherits a generated gRPC base class answers an RPC it lacks with these,
    # then NotImplementedError (which the caller gets as "not implemented").
    def set_code(self, code: object) -> None:
        pass

    def set_details(self, details: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Method:
    request_type: type[Message]
    streaming: bool
    handler: Callable[..., Any]
    check: Callable[[str], None] | None


def _not_implemented(request: Message, context: CallContext) -> Any:
    """The handler of an RPC the servicer lacks (raises when called: unary or stream)."""
    raise NotImplementedError


class WireServer:
    """Serves servicer objects (the same classes grpc.aio serves) on wire endpoints.

    server = WireServer(max_message_bytes=..., name="the registry")
    server.add_service(admin_pb2.DESCRIPTOR.services_by_name["Admin"], admin, check=verify)
    bound = await server.bind("tcp -h 127.0.0.1 -p 4061", tls=None)   # real ports
    await server.start()
    ...
    await server.stop(grace=2.0)

    A servicer method raising ShoalError fails the call with that error; any other exception
    is logged with its traceback and reaches the caller as an internal error.
    """

    def __init__(self, *, max_message_bytes: int, name: str = "the server") -> None:
        self.name = name
        self.max_message_bytes = max_message_bytes
        self._methods: dict[str, _Method] = {}
        #: Each listener, and the endpoint it is bound to.
        self._listeners: dict[asyncio.AbstractServer, Endpoint] = {}
        self._connections: set[_ServerConnection] = set()

    def add_service(
        self,
        service: ServiceDescriptor,
        servicer: object,
        *,
        check: Callable[[str], None] | None = None,
    ) -> None:
        """Serve every method of `service` from the servicer's method of the same name.
        `check(method)` runs before each call; raising a ShoalError refuses it."""
        for method in service.methods:
            self._methods[f"/{service.full_name}/{method.name}"] = _Method(
                request_type=GetMessageClass(method.input_type),
                streaming=method.server_streaming,
                handler=getattr(servicer, method.name, _not_implemented),
                check=check,
            )

    async def listen(
        self, endpoints: str | Iterable[Endpoint], *, tls: TlsConfig | None = None
    ) -> tuple[Endpoint, ...]:
        """`bind`, then `start`."""
        bound = await self.bind(endpoints, tls=tls)
        await self.start()
        return bound

    async def start(self) -> None:
        """Accept connections on every bound endpoint."""
        for listener, endpoint in self._listeners.items():
            try:
                await listener.start_serving()
            except OSError as exc:  # another server bound the port too, and listens on it
                await self.stop(0)
                raise _cannot_listen(endpoint, exc) from exc

    async def bind(
        self, endpoints: str | Iterable[Endpoint], *, tls: TlsConfig | None = None
    ) -> tuple[Endpoint, ...]:
        """Bind every endpoint (all or none), not serving yet; the endpoints as bound (a port 0
        becomes the real one, to publish before the first call arrives)."""
        resolved = server_endpoints(endpoints, tls)
        contexts = [_tls_settings(endpoint, tls, server=True) for endpoint in resolved]
        loop = asyncio.get_running_loop()
        bound: list[Endpoint] = []
        try:
            for endpoint, context in zip(resolved, contexts, strict=True):
                assert endpoint.host is not None and endpoint.port is not None
                host = None if endpoint.host == ANY_HOST else endpoint.host
                try:
                    listener = await loop.create_server(
                        lambda: _ServerConnection(self),
                        host,
                        endpoint.port,
                        ssl=context,
                        reuse_address=True,
                        start_serving=False,
                    )
                except OSError as exc:
                    raise _cannot_listen(endpoint, exc) from exc
                port = listener.sockets[0].getsockname()[1]
                self._listeners[listener] = replace(endpoint, port=port)
                bound.append(self._listeners[listener])
        except BaseException:
            await self.stop(0)
            raise
        return tuple(bound)

    async def stop(self, grace: float | None = None) -> None:
        """Stop listening; calls in flight get `grace` seconds to finish, then are cancelled
        and every connection is closed."""
        listeners, self._listeners = list(self._listeners), {}
        for listener in listeners:
            listener.close()
        calls = [task for connection in self._connections for task in connection.calls()]
        if calls and grace:
            await asyncio.wait(calls, timeout=grace)
        # Abort, not close: a peer that stopped reading would hold a close (and, from Python
        # 3.12, wait_closed) until its buffer drains. Calls that came meanwhile end too.
        connections = list(self._connections)
        for connection in connections:
            connection.abort()
        calls = [task for connection in connections for task in connection.calls()] + calls
        for task in calls:
            task.cancel()
        if calls:
            await asyncio.wait(calls)
        for listener in listeners:
            await listener.wait_closed()

    def method(self, name: str) -> _Method | None:
        return self._methods.get(name)


def _cannot_listen(endpoint: Endpoint, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot listen on `{endpoint}': {exc.strerror or exc}",
        hint=f"is another process (a registry or node already running?) using "
        f"port {endpoint.port}? Or is {endpoint.host} not an address of this host?",
    )


class _ServerConnection(asyncio.Protocol):
    """One client's connection: frames in, a task per call, frames out."""

    def __init__(self, server: WireServer) -> None:
        self._server = server
        self._reader = FrameReader(frame_limit(server.max_message_bytes))
        self._greeting = b""
        self._greeted = False
        self._calls: dict[int, asyncio.Task[None]] = {}
        self._transport: asyncio.Transport | None = None
        self._peer = "unknown"
        self._writable = asyncio.Event()
        self._writable.set()
        # Reading stops while replies cannot be sent or _MAX_CALLS run: a client that sends
        # without reading makes TCP push back, not the server's memory grow.
        self._reading_paused = False
        #: CALLs over the cap that came in one read: started, in order, as others end.
        self._waiting: OrderedDict[int, Frame] = OrderedDict()

    def calls(self) -> list[asyncio.Task[None]]:
        return list(self._calls.values())

    def abort(self) -> None:
        """Drop the connection now, whatever is still unsent."""
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._peer = _peer_name(transport)
        _keep_alive(transport)
        self._server._connections.add(self)

    def data_received(self, data: bytes) -> None:
        if not self._greeted:
            data = self._greeting + data
            if len(data) < len(MAGIC):
                self._greeting = data
                return
            if data[: len(MAGIC)] != MAGIC:
                self._refuse(data)
                return
            self._greeted = True
            data = data[len(MAGIC) :]
        try:
            frames = self._reader.feed(data)
        except ProtocolError as exc:
            log.warning(
                "%s: dropping the connection from %s: %s", self._server.name, self._peer, exc
            )
            self.abort()
            return
        for frame in frames:
            self._frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        self._writable.set()
        self._waiting.clear()
        for task in self._calls.values():
            task.cancel()

    def pause_writing(self) -> None:
        self._writable.clear()
        self._flow()

    def resume_writing(self) -> None:
        self._writable.set()
        self._flow()

    async def _wait_writable(self) -> None:
        """Until the transport takes more: checked again on waking, since every call waiting
        wakes at once when the buffer drains (one of them may fill it again)."""
        while not self._writable.is_set():
            await self._writable.wait()

    def _flow(self) -> None:
        """Read while replies can go out and the calls in flight are under the cap."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        wanted = not self._writable.is_set() or len(self._calls) >= _MAX_CALLS
        if wanted and not self._reading_paused:
            transport.pause_reading()
        elif not wanted and self._reading_paused:
            transport.resume_reading()
        self._reading_paused = wanted

    # -- frames in
    def _refuse(self, data: bytes) -> None:
        what = "a gRPC (HTTP/2) client" if data.startswith(b"PRI * HTTP/2") else "a client"
        log.warning(
            "%s: %s at %s does not speak Shoal's protocol on this endpoint; dropped",
            self._server.name,
            what,
            self._peer,
        )
        self.abort()

    def _frame(self, frame: Frame) -> None:
        if frame.kind == CALL:
            if frame.call_id in self._calls or frame.call_id in self._waiting:
                log.warning(
                    "%s: call id %d reused by %s", self._server.name, frame.call_id, self._peer
                )
                self.abort()
                return
            if len(self._calls) >= _MAX_CALLS:  # read in the same chunk as the cap was hit
                self._waiting[frame.call_id] = frame
                return
            self._start(frame)
        elif frame.kind == CANCEL:
            running = self._calls.get(frame.call_id)
            if running is not None:
                running.cancel()
            self._waiting.pop(frame.call_id, None)
        else:
            log.warning(
                "%s: unexpected %s frame from %s",
                self._server.name,
                KIND_NAMES[frame.kind],
                self._peer,
            )
            self.abort()

    def _start(self, frame: Frame) -> None:
        call_id = frame.call_id
        task = asyncio.get_running_loop().create_task(self._serve(frame))
        self._calls[call_id] = task
        # Forgotten when done, even if cancelled before it ran a step (no `finally` then).
        task.add_done_callback(lambda done: self._call_done(call_id, done))
        self._flow()

    def _call_done(self, call_id: int, task: asyncio.Task[None]) -> None:
        if self._calls.get(call_id) is not task:
            return
        del self._calls[call_id]
        if self._waiting and not (self._transport is None or self._transport.is_closing()):
            _, frame = self._waiting.popitem(last=False)
            self._start(frame)
        self._flow()

    # -- one call
    async def _serve(self, frame: Frame) -> None:
        call_id, method_name = frame.call_id, "a call"
        server = self._server
        try:
            if frame.oversized:
                raise message_too_large(
                    f"{server.name} refused a request", frame.oversized, server.max_message_bytes
                )
            deadline_ms, method_name, payload = _split_call(frame.body)
            method = server.method(method_name)
            if method is None:
                raise RemoteError(
                    f"{server.name} does not implement {method_name}",
                    "is it a different Shoal version? Run the same version everywhere",
                    status="UNIMPLEMENTED",
                )
            try:
                request = method.request_type.FromString(payload)
            except DecodeError as exc:
                raise InvalidArgumentError(f"a malformed request for {method_name}") from exc
            if method.check is not None:
                method.check(method_name)
            context = CallContext(self._peer)
            deadline = asyncio.timeout(deadline_ms / 1000 if deadline_ms else None)
            try:
                async with deadline:
                    if method.streaming:
                        async for item in method.handler(request, context):
                            if not self._writable.is_set():  # the common case: no await
                                await self._wait_writable()
                            self._send(REPLY, call_id, self._serialized(item))
                        self._send(END, call_id)
                    else:
                        reply = await method.handler(request, context)
                        if not self._writable.is_set():
                            await self._wait_writable()
                        self._send(REPLY, call_id, self._serialized(reply))
            except TimeoutError:
                if not deadline.expired():
                    raise  # the handler's own timeout: a failure like any other
                raise TimedOutError(
                    f"{method_name} did not finish within the caller's deadline",
                    "it may be overloaded or stuck; try again, or look at its log",
                ) from None
        except ShoalError as error:
            self._send_error(call_id, error)
        except NotImplementedError:
            self._send_error(
                call_id, RemoteError(f"{method_name} is not implemented", status="UNIMPLEMENTED")
            )
        except Exception as exc:
            log.exception("%s failed", method_name)
            self._send_error(call_id, internal_error(method_name, exc))

    def _serialized(self, message: Message) -> bytes:
        data: bytes = message.SerializeToString()
        limit = self._server.max_message_bytes
        if 0 <= limit < len(data):
            raise message_too_large(
                f"{self._server.name} could not send its reply", len(data), limit
            )
        return data

    def _send(self, kind: int, call_id: int, body: bytes = b"") -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(encode_frame(kind, call_id, body))

    def _send_error(self, call_id: int, error: ShoalError) -> None:
        self._send(ERROR, call_id, error_detail(error).SerializeToString())


def _split_call(body: bytes) -> tuple[int, str, bytes]:
    """A CALL body: (deadline ms, method name, serialized request)."""
    if len(body) < CALL_HEAD.size:
        raise InvalidArgumentError("a CALL frame too short for its header")
    deadline_ms, name_length = CALL_HEAD.unpack_from(body)
    start = CALL_HEAD.size
    try:
        name = body[start : start + name_length].decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError("a CALL frame whose method name is not ASCII") from exc
    return deadline_ms, name, body[start + name_length :]


# ------------------------------------------------------------------------------------ client


class _Call:
    """A call waiting for its frames: a future (unary) or a queue of frames (stream)."""

    __slots__ = ("future", "items", "ready")

    def __init__(self, loop: asyncio.AbstractEventLoop, streaming: bool) -> None:
        self.future: asyncio.Future[bytes] | None = None if streaming else loop.create_future()
        self.items: deque[Frame | ShoalError] = deque()
        self.ready = asyncio.Event() if streaming else None


class _ClientConnection(asyncio.Protocol):
    def __init__(self, channel: WireChannel) -> None:
        self._channel = channel
        self._reader = FrameReader(frame_limit(channel.max_message_bytes))
        self._transport: asyncio.Transport | None = None
        self._calls: dict[int, _Call] = {}
        self._next_id = 0
        self._backlog = 0
        self._paused = False
        self.lost: ShoalError | None = None
        #: Set once the connection is gone (lost, broken or closed).
        self.closed = asyncio.Event()
        self._heard = False  # a frame came: the peer speaks this protocol

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        _keep_alive(transport)
        transport.write(MAGIC)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except ProtocolError as exc:
            where = self._channel.peer.where()
            if self._heard:
                self._fail(f"{where} broke the protocol: {exc}")
            else:
                self._fail(
                    f"{where} does not speak Shoal's wire protocol ({exc})",
                    "is it an older Shoal (gRPC) or another program on that port? Run the "
                    "same Shoal version everywhere",
                )
            return
        self._heard = self._heard or bool(frames)
        for frame in frames:
            call = self._calls.get(frame.call_id)
            if call is None:
                continue  # the caller gave up on it
            failure = failure_of(frame, self._channel.peer, self._channel.max_message_bytes)
            item: Frame | ShoalError = frame if failure is None else failure
            if call.future is not None:
                self._calls.pop(frame.call_id, None)
                if not call.future.done():
                    if isinstance(item, ShoalError):
                        call.future.set_exception(item)
                    else:
                        call.future.set_result(item.body)
            else:
                assert call.ready is not None
                call.items.append(item)
                call.ready.set()
                if frame.kind in (END, ERROR):  # the server is done with it: nothing to cancel
                    del self._calls[frame.call_id]
                self._backlog += 1
                if self._backlog >= _HIGH_WATER and not self._paused and self._transport:
                    self._paused = True
                    self._transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"lost the connection to {self._channel.peer.where()}")

    # -- calls
    def _fail(self, message: str, hint: str | None = None) -> None:
        if self.lost is not None:
            return  # the first reason stands (connection_lost follows every abort)
        self.lost = UnreachableError(
            message,
            self._channel.peer.start_hint if hint is None else hint,
            address=self._channel.peer.address,
        )
        self.closed.set()
        if self._transport is not None:
            self._transport.abort()
        calls, self._calls = self._calls, {}
        for call in calls.values():
            if call.future is not None:
                if not call.future.done():
                    call.future.set_exception(self.lost)
            else:
                assert call.ready is not None
                call.items.append(self.lost)
                call.ready.set()

    def start(
        self, method: str, request: bytes, deadline: float | None, streaming: bool
    ) -> tuple[int, _Call]:
        if self.lost is not None or self._transport is None:
            raise self.lost or UnreachableError(f"not connected to {self._channel.peer.where()}")
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        call_id = self._next_id
        call = _Call(asyncio.get_running_loop(), streaming)
        self._calls[call_id] = call
        self._transport.write(encode_call(call_id, method, request, deadline))
        return call_id, call

    def cancel(self, call_id: int) -> None:
        if self._calls.pop(call_id, None) is not None and self.lost is None and self._transport:
            self._transport.write(encode_frame(CANCEL, call_id))

    def consumed(self, count: int = 1) -> None:
        """Stream items were taken (or dropped unread): read again once the backlog is low."""
        self._backlog -= count
        if self._paused and self._backlog <= _LOW_WATER and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class WireChannel:
    """A client of one wire endpoint: connects on the first call, reconnects after a loss.

    channel = WireChannel(endpoint, max_message_bytes=..., peer=Peer.registry(address))
    reply = await channel.unary("/shoal.v1.Admin/ServerState", request, Reply, deadline=10)
    async for item in channel.stream("/shoal.v1.Admin/WatchServers", request, Reply): ...
    await channel.close()

    Every failure is a ShoalError: the peer's own, or UnreachableError / TimedOutError /
    MessageTooLargeError naming the peer. One channel belongs to one event loop.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        max_message_bytes: int,
        tls: TlsConfig | None = None,
        peer: Peer | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.max_message_bytes = max_message_bytes
        self.tls = tls
        self.peer = peer or Peer("the server", str(endpoint))
        self._connection: _ClientConnection | None = None
        self._connecting: asyncio.Future[_ClientConnection] | None = None
        self._streams: set[_ClientConnection] = set()

    async def unary(
        self, method: str, request: Message, reply_type: type[M], *, deadline: float | None = None
    ) -> M:
        """One call, its reply; `deadline` in seconds (None: none), told to the server too."""
        payload = self._payload(request)
        expires = None if deadline is None else time.monotonic() + deadline
        try:
            async with asyncio.timeout(deadline):
                connection = await self._connected()
                call_id, call = connection.start(method, payload, deadline, streaming=False)
                assert call.future is not None
                try:
                    body = await call.future
                except asyncio.CancelledError:  # the deadline, or the caller gave up
                    connection.cancel(call_id)
                    raise
        except TimeoutError:
            raise timed_out(self.peer) from None
        except TimedOutError as failure:
            error = as_callers(failure, expires, self.peer)
            if error is failure:
                raise
            raise error from failure
        return parse_reply(reply_type, body, self.peer)

    async def stream(
        self, method: str, request: Message, reply_type: type[M], *, deadline: float | None = None
    ) -> AsyncIterator[M]:
        """The replies of a server stream as they come; leaving the loop cancels the call.
        `deadline` bounds the whole stream (the server ends it with TimedOutError)."""
        payload = self._payload(request)
        # A connection of its own: a caller slow to read pauses it (flow control) without
        # holding up the replies of the channel's other calls.
        connection = await self._open()
        self._streams.add(connection)
        call_id, call = connection.start(method, payload, deadline, streaming=True)
        assert call.ready is not None
        try:
            while True:
                if not call.items:
                    call.ready.clear()
                    await call.ready.wait()
                item = call.items.popleft()
                connection.consumed()
                if isinstance(item, ShoalError):
                    raise item
                if item.kind == END:
                    return
                yield parse_reply(reply_type, item.body, self.peer)
        finally:
            # Tell the server to stop unless it ended the call (END, ERROR): the caller left
            # early, or an item was refused as too large. Unread items leave the backlog.
            connection.cancel(call_id)
            connection.consumed(len(call.items))
            call.items.clear()
            self._streams.discard(connection)
            connection.close()

    async def close(self) -> None:
        # A connection still being made would otherwise come up after this, held by nobody.
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        streams, self._streams = self._streams, set()
        for stream in streams:
            stream.close()

    def _payload(self, request: Message) -> bytes:
        return request_bytes(request, self.max_message_bytes, self.peer)

    @property
    def connected(self) -> bool:
        """A connection is up: made by an earlier call, not lost since."""
        return self._connection is not None and self._connection.lost is None

    async def wait_disconnected(self) -> None:
        """Connect if need be (UnreachableError when that fails), then return once that
        connection is lost or closed: a session notices its peer dying at once, no polling."""
        connection = await self._connected()
        await connection.closed.wait()

    async def _connected(self) -> _ClientConnection:
        connection = self._connection
        if connection is not None and connection.lost is None:
            return connection
        connecting = self._connecting
        if connecting is None:
            connecting = self._connecting = asyncio.ensure_future(self._open())
            # Runs before the waiters resume, and also when they all gave up meanwhile.
            connecting.add_done_callback(self._opened)
        try:
            return await asyncio.shield(connecting)
        except asyncio.CancelledError:
            if connecting.cancelled() and not _current_task_cancelling():
                raise UnreachableError(
                    f"the connection to {self.peer.where()} was closed while it was made"
                ) from None
            raise

    def _opened(self, attempt: asyncio.Future[_ClientConnection]) -> None:
        if self._connecting is attempt:
            self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._connection = attempt.result()

    async def _open(self) -> _ClientConnection:
        """A new connection (the shared one is made by `_connected`, streams get their own)."""
        try:
            endpoint = resolve_endpoint(self.endpoint, for_server=False)
        except EndpointParseError as exc:
            raise ConfigError(str(exc)) from exc
        check_transport(endpoint, self.tls)
        context: ssl.SSLContext | None = _tls_settings(endpoint, self.tls, server=False)
        server_name = None
        if context is not None:
            server_name = (self.tls.server_name if self.tls else None) or endpoint.host
        assert endpoint.host is not None and endpoint.port is not None  # resolve fills both
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _ClientConnection(self),
                endpoint.host,
                endpoint.port,
                ssl=context,
                server_hostname=server_name,
            )
        except OSError as exc:  # refused, unreachable, TLS handshake (ssl.SSLError)
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            raise UnreachableError(
                f"cannot reach {self.peer.where()}: {reason}",
                self.peer.start_hint,
                address=self.peer.address,
            ) from exc
        return connection


class Stub:
    """A service's methods as attributes, like a generated gRPC stub:

    admin = Stub(channel, admin_pb2.DESCRIPTOR.services_by_name["Admin"])
    reply = await admin.ServerState(request, timeout=10)
    async for change in admin.WatchServers(request): ...
    """

    def __init__(self, channel: WireChannel, service: ServiceDescriptor) -> None:
        self._channel = channel
        for method in service.methods:
            name = f"/{service.full_name}/{method.name}"
            reply_type = GetMessageClass(method.output_type)
            setattr(self, method.name, self._bind(name, reply_type, method.server_streaming))

    def _bind(self, name: str, reply_type: type[Message], streaming: bool) -> Callable[..., Any]:
        channel = self._channel
        if streaming:

            def stream(request: Message, timeout: float | None = None) -> AsyncIterator[Any]:
                return channel.stream(name, request, reply_type, deadline=timeout)

            return stream

        # `timeout`, as a generated gRPC stub calls it: call sites read the same.
        async def unary(request: Message, timeout: float | None = None) -> Any:  # noqa: ASYNC109
            return await channel.unary(name, request, reply_type, deadline=timeout)

        return unary

    def __getattr__(self, name: str) -> Any:  # for type checkers: methods are set per service
        raise AttributeError(name)
