"""The one mapping between ShoalErrors and gRPC status, both ways.

A servicer raises a ShoalError; `ErrorInterceptor` (installed on every server by
shoal.rpc.channels.make_server) aborts the call with the status of its code and an ErrorDetail
(common.proto) in the trailing metadata `shoal-error-bin`. The caller wraps its calls in
`translate_errors(peer)`, which rebuilds the same error class, message and hint from the
detail; a call that failed before reaching a Shoal servicer (peer down, message too large,
deadline) has no detail and is mapped from its bare status, naming the peer and its address.

    ErrorDetail.Code        ShoalError subclass          gRPC status
    UNSPECIFIED             ShoalError (any other)       UNKNOWN
    NOT_FOUND_SERVER        ServerNotFoundError          NOT_FOUND
    NOT_FOUND_NODE          NodeNotFoundError            NOT_FOUND
    NOT_FOUND_APPLICATION   ApplicationNotFoundError     NOT_FOUND
    NODE_ACTIVE             NodeActiveError              ALREADY_EXISTS
    NODE_UNREACHABLE        NodeUnreachableError         UNAVAILABLE
    DEPLOYMENT_INVALID      DescriptorError              INVALID_ARGUMENT
    SERVER_DISABLED         ServerDisabledError          FAILED_PRECONDITION
    BAD_SIGNAL              BadSignalError               INVALID_ARGUMENT
    PERMISSION_DENIED       PermissionDeniedError        PERMISSION_DENIED
    MESSAGE_TOO_LARGE       MessageTooLargeError         RESOURCE_EXHAUSTED
    ALREADY_EXISTS          AlreadyExistsError           ALREADY_EXISTS
    BUSY                    BusyError                    ABORTED
    INTERNAL                RemoteError                  INTERNAL  (a non-Shoal exception)
    INVALID_ARGUMENT        InvalidArgumentError         INVALID_ARGUMENT
    TIMED_OUT               TimedOutError                DEADLINE_EXCEEDED
    SESSION_EXPIRED         SessionExpiredError          FAILED_PRECONDITION
    NOT_FOUND_ADAPTER       AdapterNotFoundError         NOT_FOUND
    NOT_FOUND_OBJECT        ObjectNotFoundError          NOT_FOUND

A ShoalError subclass not in the table travels as its nearest ancestor that is (message and
hint kept). Bare statuses (no detail): UNAVAILABLE -> UnreachableError, RESOURCE_EXHAUSTED
"message larger than max" -> MessageTooLargeError, DEADLINE_EXCEEDED -> TimedOutError,
UNAUTHENTICATED/PERMISSION_DENIED -> PermissionDeniedError, others -> RemoteError.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import grpc.aio

from shoal.errors import (
    AdapterNotFoundError,
    AlreadyExistsError,
    ApplicationNotFoundError,
    BadSignalError,
    BusyError,
    DescriptorError,
    InvalidArgumentError,
    MessageTooLargeError,
    NodeActiveError,
    NodeNotFoundError,
    NodeUnreachableError,
    ObjectNotFoundError,
    PermissionDeniedError,
    Problem,
    RemoteError,
    ServerDisabledError,
    ServerNotFoundError,
    SessionExpiredError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.common_pb2 import Problem as ProblemMessage

__all__ = [
    "ERROR_DETAIL_KEY",
    "MESSAGE_SIZE_HOPS",
    "ErrorInterceptor",
    "Peer",
    "abort_with",
    "error_detail",
    "error_from_detail",
    "error_from_rpc",
    "raise_from_rpc",
    "status_of",
    "translate_errors",
]

log = logging.getLogger("shoal.rpc")

#: Trailing metadata key of the serialized ErrorDetail (`-bin`: gRPC carries it as bytes).
ERROR_DETAIL_KEY = "shoal-error-bin"
#: Who must raise Ice.MessageSizeMax for a message to get through.
MESSAGE_SIZE_HOPS = ("client", "router", "server")

Code = ErrorDetail.Code
_S = grpc.StatusCode

# The table: code -> (the class the receiver raises, the gRPC status). Each class appears
# once; a sender's class that is not here travels as its nearest ancestor that is.
_TABLE: dict[ErrorDetail.Code, tuple[type[ShoalError], grpc.StatusCode]] = {
    Code.UNSPECIFIED: (ShoalError, _S.UNKNOWN),
    Code.NOT_FOUND_SERVER: (ServerNotFoundError, _S.NOT_FOUND),
    Code.NOT_FOUND_NODE: (NodeNotFoundError, _S.NOT_FOUND),
    Code.NOT_FOUND_APPLICATION: (ApplicationNotFoundError, _S.NOT_FOUND),
    Code.NODE_ACTIVE: (NodeActiveError, _S.ALREADY_EXISTS),
    Code.NODE_UNREACHABLE: (NodeUnreachableError, _S.UNAVAILABLE),
    Code.DEPLOYMENT_INVALID: (DescriptorError, _S.INVALID_ARGUMENT),
    Code.SERVER_DISABLED: (ServerDisabledError, _S.FAILED_PRECONDITION),
    Code.BAD_SIGNAL: (BadSignalError, _S.INVALID_ARGUMENT),
    Code.PERMISSION_DENIED: (PermissionDeniedError, _S.PERMISSION_DENIED),
    Code.MESSAGE_TOO_LARGE: (MessageTooLargeError, _S.RESOURCE_EXHAUSTED),
    Code.ALREADY_EXISTS: (AlreadyExistsError, _S.ALREADY_EXISTS),
    Code.BUSY: (BusyError, _S.ABORTED),
    Code.INTERNAL: (RemoteError, _S.INTERNAL),
    Code.INVALID_ARGUMENT: (InvalidArgumentError, _S.INVALID_ARGUMENT),
    Code.TIMED_OUT: (TimedOutError, _S.DEADLINE_EXCEEDED),
    Code.SESSION_EXPIRED: (SessionExpiredError, _S.FAILED_PRECONDITION),
    Code.NOT_FOUND_ADAPTER: (AdapterNotFoundError, _S.NOT_FOUND),
    Code.NOT_FOUND_OBJECT: (ObjectNotFoundError, _S.NOT_FOUND),
}
_CODE_OF_CLASS: dict[type[ShoalError], ErrorDetail.Code] = {
    cls: code for code, (cls, _) in _TABLE.items()
}

# gRPC's default limit for received metadata is 8 KB and the status message travels there
# too: keep both well under the 64 KB our channels accept, whatever a descriptor holds.
_MAX_DETAIL_BYTES = 16 * 1024
_MAX_STATUS_MESSAGE = 1024


def status_of(code: ErrorDetail.Code) -> grpc.StatusCode:
    """The gRPC status an ErrorDetail code is sent with."""
    return _TABLE.get(code, _TABLE[Code.UNSPECIFIED])[1]


# ------------------------------------------------------------------------------- error -> wire


def error_detail(error: ShoalError) -> ErrorDetail:
    """The ErrorDetail that stands for `error` on the wire (bounded in size)."""
    code = next(
        (_CODE_OF_CLASS[cls] for cls in type(error).__mro__ if cls in _CODE_OF_CLASS),
        Code.UNSPECIFIED,
    )
    detail = ErrorDetail(code=code, message=error.message, hint=error.hint)
    if isinstance(error, ServerNotFoundError):
        detail.server_id = error.name
    elif isinstance(error, ServerDisabledError):
        detail.server_id = error.server_id
    elif isinstance(error, NodeNotFoundError):
        detail.node = error.name
    elif isinstance(error, ApplicationNotFoundError):
        detail.application = error.name
    elif isinstance(error, AdapterNotFoundError):
        detail.adapter_id = error.name
    elif isinstance(error, ObjectNotFoundError):
        detail.identity = error.name
    elif isinstance(error, AlreadyExistsError):
        if error.kind == "server":
            detail.server_id = error.name
        else:
            detail.application = error.name
    elif isinstance(error, NodeActiveError):
        detail.node, detail.holder_host = error.node, error.holder_host
    elif isinstance(error, NodeUnreachableError):
        detail.node, detail.address = error.node, error.address
    elif isinstance(error, BadSignalError):
        detail.signal = error.signal
    elif isinstance(error, MessageTooLargeError):
        detail.limit_kb = error.limit_kb
        detail.hops.extend(error.hops)
    elif isinstance(error, BusyError):
        detail.holder = error.holder
    elif isinstance(error, DescriptorError):
        detail.problems.extend(
            ProblemMessage(file=p.file, line=max(p.line, 0), message=p.message)
            for p in error.problems
        )
    return _bounded(detail)


def _bounded(detail: ErrorDetail) -> ErrorDetail:
    """Drop trailing problems (saying how many) and cut the message to fit the metadata."""
    if detail.ByteSize() <= _MAX_DETAIL_BYTES:
        return detail
    problems = list(detail.problems)
    del detail.problems[:]
    detail.message = _truncate(detail.message, _MAX_DETAIL_BYTES // 8)  # chars: up to 4 bytes
    budget = _MAX_DETAIL_BYTES - detail.ByteSize() - 200
    kept = 0
    for problem in problems:
        budget -= problem.ByteSize() + 4
        if budget < 0:
            break
        detail.problems.append(problem)
        kept += 1
    if kept < len(problems):
        last = problems[kept]
        detail.problems.append(
            ProblemMessage(
                file=last.file, line=last.line, message=f"... and {len(problems) - kept} more"
            )
        )
    return detail


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: ShoalError) -> NoReturn:
    """End the current call with `error`: its status, message, and ErrorDetail trailer."""
    detail = error_detail(error)
    await context.abort(
        status_of(detail.code),
        _truncate(error.message.splitlines()[0] if error.message else "", _MAX_STATUS_MESSAGE),
        trailing_metadata=((ERROR_DETAIL_KEY, detail.SerializeToString()),),
    )
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _internal_error(method: str, exc: Exception) -> RemoteError:
    return RemoteError(
        f"internal error in {method}: {type(exc).__name__}: {exc}",
        "this is a bug in Shoal; the log of the process that answered has the traceback",
        status="INTERNAL",
    )


# --------------------------------------------------------------------------- server side: wrap

_Behavior = Callable[..., Any]


def _wrap_unary_response(behavior: _Behavior, method: str) -> _Behavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result
        except grpc.aio.AbortError:
            raise
        except ShoalError as error:
            await abort_with(context, error)
        except NotImplementedError:
            # The generated servicer base class: an RPC this server does not implement.
            await context.abort(_S.UNIMPLEMENTED, f"{method} is not implemented")
        except Exception as exc:
            log.exception("%s failed", method)
            await abort_with(context, _internal_error(method, exc))

    return wrapped


def _wrap_stream_response(behavior: _Behavior, method: str) -> _Behavior:
    if not inspect.isasyncgenfunction(behavior):
        # A handler that writes with `context.write` and returns: same shape as unary.
        return _wrap_unary_response(behavior, method)

    async def wrapped(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        try:
            async for response in behavior(request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except ShoalError as error:
            await abort_with(context, error)
        except NotImplementedError:
            # The generated servicer base class: an RPC this server does not implement.
            await context.abort(_S.UNIMPLEMENTED, f"{method} is not implemented")
        except Exception as exc:
            log.exception("%s failed", method)
            await abort_with(context, _internal_error(method, exc))

    return wrapped


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Turns a ShoalError raised by any servicer into its status + ErrorDetail; any other
    exception into INTERNAL (logged with its traceback)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary_response(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream_response(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary_response(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _wrap_stream_response(handler.stream_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # pragma: no cover - gRPC has no other kind


# ------------------------------------------------------------------------------- wire -> error


def error_from_detail(detail: ErrorDetail) -> ShoalError:
    """The ShoalError an ErrorDetail stands for (the inverse of `error_detail`)."""
    message, hint = detail.message, detail.hint
    code = detail.code
    if code == Code.NOT_FOUND_SERVER:
        return ServerNotFoundError(message, hint, name=detail.server_id)
    if code == Code.NOT_FOUND_NODE:
        return NodeNotFoundError(message, hint, name=detail.node)
    if code == Code.NOT_FOUND_APPLICATION:
        return ApplicationNotFoundError(message, hint, name=detail.application)
    if code == Code.NOT_FOUND_ADAPTER:
        return AdapterNotFoundError(message, hint, name=detail.adapter_id)
    if code == Code.NOT_FOUND_OBJECT:
        return ObjectNotFoundError(message, hint, name=detail.identity)
    if code == Code.NODE_ACTIVE:
        return NodeActiveError(message, hint, node=detail.node, holder_host=detail.holder_host)
    if code == Code.NODE_UNREACHABLE:
        return NodeUnreachableError(message, hint, node=detail.node, address=detail.address)
    if code == Code.DEPLOYMENT_INVALID:
        error = DescriptorError((Problem(p.file, p.line, p.message) for p in detail.problems), hint)
        if not error.problems:  # a sender with no located problem: keep its message
            error.message = message
            error.args = (message,)
        return error
    if code == Code.SERVER_DISABLED:
        return ServerDisabledError(message, hint, server_id=detail.server_id)
    if code == Code.BAD_SIGNAL:
        return BadSignalError(message, hint, signal=detail.signal)
    if code == Code.MESSAGE_TOO_LARGE:
        return MessageTooLargeError(
            message, hint, limit_kb=detail.limit_kb, hops=tuple(detail.hops)
        )
    if code == Code.ALREADY_EXISTS:
        if detail.server_id:
            return AlreadyExistsError(message, hint, kind="server", name=detail.server_id)
        return AlreadyExistsError(message, hint, kind="application", name=detail.application)
    if code == Code.BUSY:
        return BusyError(message, hint, holder=detail.holder)
    if code == Code.INTERNAL:
        return RemoteError(message, hint, status="INTERNAL")
    if code in _TABLE:  # the classes with no fields of their own
        cls = _TABLE[code][0]
        return cls(message, hint)
    # A code from a newer peer: keep what it says.
    return ShoalError(message, hint)


@dataclass(frozen=True)
class Peer:
    """Who a channel talks to, for messages: "the registry", "node node1"; its Ice endpoints;
    and what to do when it cannot be reached."""

    name: str
    address: str = ""
    start_hint: str = ""

    @classmethod
    def registry(cls, address: str) -> Peer:
        return cls(
            "the registry",
            address,
            "is it started? Run `shoal admin start`, or check Ice.Default.Locator and "
            "IceGrid.Registry.Client.Endpoints",
        )

    @classmethod
    def node(cls, name: str, address: str) -> Peer:
        return cls(
            f"node {name}",
            address,
            f"is the node running? Run `shoal node {name} start` on its host, or check "
            "IceGrid.Node.Endpoints",
        )

    def where(self) -> str:
        return f"{self.name} at {self.address}" if self.address else self.name


# gRPC's own words for a message over the limit, e.g.
# "SERVER: Received message larger than max (20004 vs. 10000)".
_TOO_LARGE = re.compile(
    r"(SERVER|CLIENT): (Sent|Received) message larger than max \((\d+) vs\. (\d+)\)"
)


def _detail_in(metadata: Any) -> ErrorDetail | None:
    for key, value in metadata or ():
        if key == ERROR_DETAIL_KEY and isinstance(value, bytes):
            detail = ErrorDetail()
            try:
                detail.ParseFromString(value)
            except Exception:  # a garbled trailer: fall back to the bare status
                return None
            return detail
    return None


def message_too_large(what: str, size: int | None, limit_bytes: int | None) -> MessageTooLargeError:
    """The error for a message over Ice.MessageSizeMax; `what` says whose message and where,
    e.g. "the registry at tcp -h H -p P refused a request"."""
    limit_kb = math.ceil(limit_bytes / 1024) if limit_bytes else 0
    size_text = f" of {size} bytes" if size is not None else ""
    limit_text = f"the limit of {limit_kb} KB" if limit_kb else "the size limit"
    hops = ", ".join(MESSAGE_SIZE_HOPS[:-1]) + " and " + MESSAGE_SIZE_HOPS[-1]
    suggestion = f" (now {limit_kb}; e.g. Ice.MessageSizeMax={limit_kb * 2})" if limit_kb else ""
    return MessageTooLargeError(
        f"{what}{size_text}: over {limit_text} (Ice.MessageSizeMax)",
        f"raise Ice.MessageSizeMax (in KB) on every hop the message crosses: the {hops} "
        f"(registry or node){suggestion}",
        limit_kb=limit_kb,
        hops=MESSAGE_SIZE_HOPS,
    )


def _too_large_from_status(text: str, peer: Peer) -> MessageTooLargeError:
    found = _TOO_LARGE.search(text)
    if found is None:
        return message_too_large(f"a message to or from {peer.where()} is too large", None, None)
    side, direction, size, limit = found[1], found[2], int(found[3]), int(found[4])
    what = {
        ("SERVER", "Received"): f"{peer.where()} refused a request",
        ("SERVER", "Sent"): f"{peer.where()} could not send its reply",
        ("CLIENT", "Received"): f"this process refused a reply from {peer.where()}",
        ("CLIENT", "Sent"): f"this process could not send a request to {peer.where()}",
    }[(side, direction)]
    return message_too_large(what, size, limit)


def error_from_rpc(exc: grpc.aio.AioRpcError, peer: Peer | None = None) -> ShoalError:
    """The ShoalError for a failed call: rebuilt from its ErrorDetail, or from the bare status."""
    detail = _detail_in(exc.trailing_metadata())
    if detail is not None:
        return error_from_detail(detail)
    peer = peer or Peer("the server")
    code: grpc.StatusCode = exc.code()
    text = exc.details() or ""
    if code == _S.UNAVAILABLE:
        return UnreachableError(
            f"cannot reach {peer.where()}: {text}" if text else f"cannot reach {peer.where()}",
            peer.start_hint,
            address=peer.address,
        )
    if code == _S.RESOURCE_EXHAUSTED and "larger than max" in text:
        return _too_large_from_status(text, peer)
    if code == _S.DEADLINE_EXCEEDED:
        return TimedOutError(
            f"{peer.where()} did not answer in time",
            "it may be overloaded or stuck; try again, or look at its log",
        )
    if code in (_S.UNAUTHENTICATED, _S.PERMISSION_DENIED):
        return PermissionDeniedError(f"{peer.where()} refused access: {text}")
    if code == _S.UNIMPLEMENTED:
        return RemoteError(
            f"{peer.where()} does not implement this call: {text}",
            "is it a different Shoal version? Run the same version everywhere",
            status=code.name,
        )
    if code == _S.CANCELLED:
        return RemoteError(f"the call to {peer.where()} was cancelled", status=code.name)
    return RemoteError(f"{peer.where()} failed: {code.name}: {text}", status=code.name)


def raise_from_rpc(exc: grpc.aio.AioRpcError, peer: Peer | None = None) -> NoReturn:
    """Raise `error_from_rpc(exc, peer)` from `exc`."""
    raise error_from_rpc(exc, peer) from exc


@contextlib.contextmanager
def translate_errors(peer: Peer | None = None) -> Iterator[None]:
    """Turn gRPC errors raised inside into ShoalErrors. Works around awaits and `async for`:

    with translate_errors(Peer.registry(address)):
        reply = await stub.ServerStart(request)
    """
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise_from_rpc(exc, peer)
