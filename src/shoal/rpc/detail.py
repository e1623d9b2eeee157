"""ShoalErrors as ErrorDetail messages (common.proto) and back: what every transport carries.

A failed call travels as an ErrorDetail, whatever the transport: gRPC puts it in the trailing
metadata (shoal.rpc.errors, which also maps each code to a gRPC status), Shoal's wire protocol
in an ERROR frame (shoal.rpc.wire). This module loads no transport, so a client that talks the
wire protocol does not pay for importing grpc.

    ErrorDetail.Code        ShoalError subclass
    UNSPECIFIED             ShoalError (any other)
    NOT_FOUND_SERVER        ServerNotFoundError
    NOT_FOUND_NODE          NodeNotFoundError
    NOT_FOUND_APPLICATION   ApplicationNotFoundError
    NODE_ACTIVE             NodeActiveError
    NODE_UNREACHABLE        NodeUnreachableError
    DEPLOYMENT_INVALID      DescriptorError
    SERVER_DISABLED         ServerDisabledError
    BAD_SIGNAL              BadSignalError
    PERMISSION_DENIED       PermissionDeniedError
    MESSAGE_TOO_LARGE       MessageTooLargeError
    ALREADY_EXISTS          AlreadyExistsError
    BUSY                    BusyError
    INTERNAL                RemoteError  (a non-Shoal exception)
    INVALID_ARGUMENT        InvalidArgumentError
    TIMED_OUT               TimedOutError
    SESSION_EXPIRED         SessionExpiredError
    NOT_FOUND_ADAPTER       AdapterNotFoundError
    NOT_FOUND_OBJECT        ObjectNotFoundError

A ShoalError subclass not in the table travels as its nearest ancestor that is (message and
hint kept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
)
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.common_pb2 import Problem as ProblemMessage

__all__ = [
    "CLASS_OF_CODE",
    "MESSAGE_SIZE_HOPS",
    "Peer",
    "error_detail",
    "error_from_detail",
    "internal_error",
    "message_too_large",
    "truncate",
]

#: Who must raise Ice.MessageSizeMax for a message to get through.
MESSAGE_SIZE_HOPS = ("client", "router", "server")

Code = ErrorDetail.Code

#: The table: code -> the class the receiver raises. Each class appears once; a sender's class
#: that is not here travels as its nearest ancestor that is.
CLASS_OF_CODE: dict[ErrorDetail.Code, type[ShoalError]] = {
    Code.UNSPECIFIED: ShoalError,
    Code.NOT_FOUND_SERVER: ServerNotFoundError,
    Code.NOT_FOUND_NODE: NodeNotFoundError,
    Code.NOT_FOUND_APPLICATION: ApplicationNotFoundError,
    Code.NODE_ACTIVE: NodeActiveError,
    Code.NODE_UNREACHABLE: NodeUnreachableError,
    Code.DEPLOYMENT_INVALID: DescriptorError,
    Code.SERVER_DISABLED: ServerDisabledError,
    Code.BAD_SIGNAL: BadSignalError,
    Code.PERMISSION_DENIED: PermissionDeniedError,
    Code.MESSAGE_TOO_LARGE: MessageTooLargeError,
    Code.ALREADY_EXISTS: AlreadyExistsError,
    Code.BUSY: BusyError,
    Code.INTERNAL: RemoteError,
    Code.INVALID_ARGUMENT: InvalidArgumentError,
    Code.TIMED_OUT: TimedOutError,
    Code.SESSION_EXPIRED: SessionExpiredError,
    Code.NOT_FOUND_ADAPTER: AdapterNotFoundError,
    Code.NOT_FOUND_OBJECT: ObjectNotFoundError,
}
_CODE_OF_CLASS: dict[type[ShoalError], ErrorDetail.Code] = {
    cls: code for code, cls in CLASS_OF_CODE.items()
}

# gRPC's default limit for received metadata is 8 KB and the status message travels there
# too: keep both well under the 64 KB our channels accept, whatever a descriptor holds.
_MAX_DETAIL_BYTES = 16 * 1024


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
    detail.message = truncate(detail.message, _MAX_DETAIL_BYTES // 8)  # chars: up to 4 bytes
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


def truncate(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with " ..." when longer."""
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def internal_error(method: str, exc: Exception) -> RemoteError:
    """What a caller is told when a servicer failed with a non-Shoal exception (a bug)."""
    return RemoteError(
        f"internal error in {method}: {type(exc).__name__}: {exc}",
        "this is a bug in Shoal; the log of the process that answered has the traceback",
        status="INTERNAL",
    )


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
    if code in CLASS_OF_CODE:  # the classes with no fields of their own
        cls = CLASS_OF_CODE[code]
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
