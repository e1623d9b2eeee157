"""Shoal's wire protocol without an event loop: frames, their reader, and a blocking client.

The frame layout is shoal.rpc.framing's. Messages are capped at Ice.MessageSizeMax both ways:
a frame over it is dropped unread and its call fails with MessageTooLargeError.

This module imports no asyncio: a one-shot command asks with a `BlockingChannel` and skips
the event loop's ~30 ms of imports. shoal.rpc.wire builds the asyncio server and client on it.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from shoal.config.endpoints import Endpoint, EndpointParseError, resolve_endpoint
from shoal.errors import (
    ConfigError,
    RemoteError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.detail import Peer, error_from_detail, message_too_large
from shoal.rpc.framing import (
    CALL,
    CANCEL,
    END,
    ERROR,
    FRAME_OVERHEAD,
    HEAD,
    HEAD_AFTER_LENGTH,
    KIND_NAMES,
    MAGIC,
    REPLY,
    SERVER_CLOSED,
    encode_call,
    encode_frame,
    lookup_host,
)

__all__ = [
    "CALL",
    "CANCEL",
    "END",
    "ERROR",
    "MAGIC",
    "REPLY",
    "BlockingChannel",
    "Frame",
    "FrameReader",
    "ProtocolError",
    "encode_call",
    "encode_frame",
]

M = TypeVar("M", bound=Message)

#: A server's TimedOutError this close to the caller's own deadline is that deadline's.
DEADLINE_SLACK = 0.005


class ProtocolError(Exception):
    """The peer does not speak this protocol (or broke it): the connection is dropped."""


# ------------------------------------------------------------------------------------ frames


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    call_id: int
    body: bytes = b""
    #: The body's size when it was over the limit and dropped unread (body is then empty).
    oversized: int = 0


class FrameReader:
    """Cuts a byte stream into frames (no I/O: fed what the socket gave).

    A frame whose body is over `limit` bytes (negative: no limit) is not kept: it comes out as
    a Frame with `oversized` set, and its bytes are skipped as they arrive.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> list[Frame]:
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        while len(buffer) >= HEAD.size:
            length, kind, call_id = HEAD.unpack_from(buffer)
            if length < HEAD_AFTER_LENGTH or kind not in KIND_NAMES:
                raise ProtocolError(f"bad frame header (length {length}, kind {kind})")
            size = length - HEAD_AFTER_LENGTH
            if 0 <= self._limit < size:
                frames.append(Frame(kind, call_id, oversized=size))
                available = len(buffer) - HEAD.size
                if available >= size:
                    del buffer[: HEAD.size + size]
                else:
                    self._skip = size - available
                    buffer.clear()
                continue
            end = HEAD.size + size
            if len(buffer) < end:
                break
            frames.append(Frame(kind, call_id, bytes(buffer[HEAD.size : end])))
            del buffer[:end]
        return frames


def frame_limit(max_message_bytes: int) -> int:
    return -1 if max_message_bytes < 0 else max_message_bytes + FRAME_OVERHEAD


def request_bytes(request: Message, limit: int, peer: Peer) -> bytes:
    """The serialized request, refused before sending when it is over the caller's limit."""
    data: bytes = request.SerializeToString()
    if 0 <= limit < len(data):
        raise message_too_large(
            f"this process could not send a request to {peer.where()}", len(data), limit
        )
    return data


def _time_left(sock: socket.socket, expires: float | None) -> None:
    """Bound the socket's next wait by what is left of the call's deadline (TimeoutError when
    nothing is): a deadline covers the whole call, not each read."""
    if expires is None:
        sock.settimeout(None)
        return
    left = expires - time.monotonic()
    if left <= 0:
        raise TimeoutError
    sock.settimeout(left)


def parse_reply(reply_type: type[M], body: bytes, peer: Peer) -> M:
    """A reply message; a body that does not parse is the peer's fault, said in one line."""
    try:
        reply: M = reply_type.FromString(body)
    except DecodeError as exc:
        raise malformed_reply(reply_type.__name__, peer) from exc
    return reply


def malformed_reply(reply_name: str, peer: Peer) -> RemoteError:
    return RemoteError(
        f"a malformed {reply_name} from {peer.where()}",
        "is it a different Shoal version? Run the same version everywhere",
        status="INTERNAL",
    )


def timed_out(peer: Peer) -> TimedOutError:
    return TimedOutError(
        f"{peer.where()} did not answer in time",
        "it may be overloaded or stuck; try again, or look at its log",
    )


def failure_of(frame: Frame, peer: Peer, limit: int) -> ShoalError | None:
    """The error a frame from the server stands for: a reply over this process's limit, or an
    ERROR; None for a REPLY or an END. Both clients read replies through this."""
    if frame.oversized:
        return message_too_large(
            f"this process refused a reply from {peer.where()}", frame.oversized, limit
        )
    if frame.kind == ERROR:
        return error_of(frame.body)
    return None


def as_callers(error: ShoalError, expires: float | None, peer: Peer) -> ShoalError:
    """A unary call's failure as its caller is told it. The server is told the same deadline
    and its timer may ring a moment before the caller's: that TimedOutError is the caller's
    "did not answer in time". Any other error (an activation timed out) stays as sent."""
    if (
        isinstance(error, TimedOutError)
        and expires is not None
        and time.monotonic() >= expires - DEADLINE_SLACK
    ):
        return timed_out(peer)
    return error


def not_our_protocol(peer: Peer, reason: str) -> UnreachableError:
    return UnreachableError(
        f"{peer.where()} does not speak Shoal's wire protocol ({reason})",
        "is it an older Shoal (gRPC) or another program on that port? Run the same "
        "Shoal version everywhere",
        address=peer.address,
    )


def lost_connection(peer: Peer, exc: OSError) -> UnreachableError:
    return UnreachableError(
        f"lost the connection to {peer.where()}: {exc}", peer.start_hint, address=peer.address
    )


def error_of(body: bytes) -> ShoalError:
    detail = ErrorDetail()
    try:
        detail.ParseFromString(body)
    except DecodeError:
        return RemoteError("a malformed error reply", status="UNKNOWN")
    return error_from_detail(detail)


class BlockingChannel:
    """A synchronous client of one wire endpoint, unary calls only, one at a time: for scripts
    and measurements that have no event loop (plain tcp; ssl endpoints need WireChannel).

    with BlockingChannel(endpoint, max_message_bytes=...) as channel:
        reply = channel.unary("/shoal.v1.Admin/ServerState", request, Reply, deadline=10)
    """

    def __init__(
        self, endpoint: Endpoint, *, max_message_bytes: int, peer: Peer | None = None
    ) -> None:
        self.endpoint = endpoint
        self.max_message_bytes = max_message_bytes
        self.peer = peer or Peer("the server", str(endpoint))
        self._socket: socket.socket | None = None
        self._reader = FrameReader(frame_limit(max_message_bytes))
        self._frames: deque[Frame] = deque()
        self._next_id = 0

    def unary(
        self, method: str, request: Message, reply_type: type[M], *, deadline: float | None = None
    ) -> M:
        data = request_bytes(request, self.max_message_bytes, self.peer)
        expires = None if deadline is None else time.monotonic() + deadline
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        call_id = self._next_id
        try:
            connection = self._connected(expires)
            _time_left(connection, expires)
            connection.sendall(encode_call(call_id, method, data, deadline))
            frame = self._frame_of(call_id, expires)
        except TimeoutError:
            self.close()  # the reply may still come: this connection is out of step
            raise timed_out(self.peer) from None
        except ProtocolError as exc:
            self.close()
            raise not_our_protocol(self.peer, str(exc)) from exc
        except OSError as exc:
            self.close()
            raise lost_connection(self.peer, exc) from exc
        failure = failure_of(frame, self.peer, self.max_message_bytes)
        if failure is not None:
            error = as_callers(failure, expires, self.peer)
            if error is failure:
                raise failure
            raise error from failure
        return parse_reply(reply_type, frame.body, self.peer)

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        self._reader = FrameReader(frame_limit(self.max_message_bytes))
        self._frames.clear()

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connected(self, expires: float | None) -> socket.socket:
        if self._socket is not None:
            return self._socket
        try:
            endpoint = resolve_endpoint(self.endpoint, for_server=False)
        except EndpointParseError as exc:
            raise ConfigError(str(exc)) from exc
        if endpoint.transport != "tcp":
            raise ConfigError(
                f"a blocking channel speaks plain tcp, not `{endpoint}'",
                hint="use shoal.rpc.wire.WireChannel for ssl endpoints",
            )
        assert endpoint.host is not None and endpoint.port is not None
        timeout = None if expires is None else max(0.001, expires - time.monotonic())
        try:
            # (typeshed wants a str host; create_connection hands it to getaddrinfo as is.)
            address = (lookup_host(endpoint.host), endpoint.port)
            sock = socket.create_connection(address, timeout=timeout)  # type: ignore[arg-type]
        except TimeoutError:
            raise
        except OSError as exc:
            raise UnreachableError(
                f"cannot reach {self.peer.where()}: {exc.strerror or exc}",
                self.peer.start_hint,
                address=self.peer.address,
            ) from exc
        self._socket = sock  # closed by the caller's error handling if what follows fails
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(MAGIC)
        return sock

    def _frame_of(self, call_id: int, expires: float | None) -> Frame:
        assert self._socket is not None
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if frame.call_id == call_id:
                    return frame
            _time_left(self._socket, expires)
            data = self._socket.recv(65536)
            if not data:
                raise ConnectionError(SERVER_CLOSED)
            self._frames.extend(self._reader.feed(data))
