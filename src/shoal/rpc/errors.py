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
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NoReturn

import grpc
import grpc.aio

from shoal.errors import (
    MessageTooLargeError,
    PermissionDeniedError,
    RemoteError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.detail import (
    MESSAGE_SIZE_HOPS,
    Peer,
    error_detail,
    error_from_detail,
    internal_error,
    message_too_large,
    truncate,
)

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

Code = ErrorDetail.Code
_S = grpc.StatusCode

# The gRPC status each ErrorDetail code is sent with (shoal.rpc.detail has the classes).
_STATUS: dict[ErrorDetail.Code, grpc.StatusCode] = {
    Code.UNSPECIFIED: _S.UNKNOWN,
    Code.NOT_FOUND_SERVER: _S.NOT_FOUND,
    Code.NOT_FOUND_NODE: _S.NOT_FOUND,
    Code.NOT_FOUND_APPLICATION: _S.NOT_FOUND,
    Code.NODE_ACTIVE: _S.ALREADY_EXISTS,
    Code.NODE_UNREACHABLE: _S.UNAVAILABLE,
    Code.DEPLOYMENT_INVALID: _S.INVALID_ARGUMENT,
    Code.SERVER_DISABLED: _S.FAILED_PRECONDITION,
    Code.BAD_SIGNAL: _S.INVALID_ARGUMENT,
    Code.PERMISSION_DENIED: _S.PERMISSION_DENIED,
    Code.MESSAGE_TOO_LARGE: _S.RESOURCE_EXHAUSTED,
    Code.ALREADY_EXISTS: _S.ALREADY_EXISTS,
    Code.BUSY: _S.ABORTED,
    Code.INTERNAL: _S.INTERNAL,
    Code.INVALID_ARGUMENT: _S.INVALID_ARGUMENT,
    Code.TIMED_OUT: _S.DEADLINE_EXCEEDED,
    Code.SESSION_EXPIRED: _S.FAILED_PRECONDITION,
    Code.NOT_FOUND_ADAPTER: _S.NOT_FOUND,
    Code.NOT_FOUND_OBJECT: _S.NOT_FOUND,
}
_MAX_STATUS_MESSAGE = 1024


def status_of(code: ErrorDetail.Code) -> grpc.StatusCode:
    """The gRPC status an ErrorDetail code is sent with."""
    return _STATUS.get(code, _STATUS[Code.UNSPECIFIED])


# ------------------------------------------------------------------------------- error -> wire


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: ShoalError) -> NoReturn:
    """End the current call with `error`: its status, message, and ErrorDetail trailer."""
    detail = error_detail(error)
    await context.abort(
        status_of(detail.code),
        truncate(error.message.splitlines()[0] if error.message else "", _MAX_STATUS_MESSAGE),
        trailing_metadata=((ERROR_DETAIL_KEY, detail.SerializeToString()),),
    )
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


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
            await abort_with(context, internal_error(method, exc))

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
            await abort_with(context, internal_error(method, exc))

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
