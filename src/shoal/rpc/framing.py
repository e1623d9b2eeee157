"""The layout of Shoal's wire protocol, importing nothing but `struct` and `math`.

A connection opens with the client's 4 bytes MAGIC; then both sides send frames:

    length (4 bytes, of what follows) | kind (1 byte) | call id (4 bytes) | body
    CALL    client -> server   deadline ms (4 bytes, 0: none) | name length (1 byte) |
                               method ("/shoal.v1.Admin/ServerState", ASCII) | request
    CANCEL  client -> server   (empty) the caller gave up: the server cancels the handler
    REPLY   server -> client   the reply; in a stream, one item of it
    END     server -> client   (empty) a stream is complete
    ERROR   server -> client   an ErrorDetail: the call failed, nothing more comes for it

Integers are big-endian. A unary call ends with its REPLY or ERROR, a stream with END or ERROR.

This module is what every client of the protocol shares, down to the quickest one: `shoal
admin stop` asks through it without loading protobuf (shoal.cli.quick). shoal.rpc.frames adds
the frame reader, errors and the blocking client; shoal.rpc.wire the asyncio server and client.
"""

from __future__ import annotations

import math
import struct

#: What a client sends first: the protocol and its version.
MAGIC = b"SHL1"
CALL, CANCEL, REPLY, END, ERROR = 1, 2, 3, 4, 5
KIND_NAMES = {CALL: "CALL", CANCEL: "CANCEL", REPLY: "REPLY", END: "END", ERROR: "ERROR"}

HEAD = struct.Struct(">IBI")  # length of what follows the length field, kind, call id
CALL_HEAD = struct.Struct(">IB")  # deadline in ms, length of the method name
HEAD_AFTER_LENGTH = 5  # kind + call id
#: What a client says when the server closes the connection before its reply.
SERVER_CLOSED = "the server closed the connection"
#: Frame bytes beyond the message it carries: kind, call id, deadline, method name.
FRAME_OVERHEAD = HEAD_AFTER_LENGTH + CALL_HEAD.size + 255


def lookup_host(host: str) -> str | bytes:
    """`host` as socket.getaddrinfo (and create_connection) should get it: an ASCII name as
    bytes. Given a str, CPython first encodes it with the `idna` codec, and that codec's first
    use imports `re`, `stringprep` and `unicodedata`: ~13 ms of a quick command, ~1.5 ms once
    `re` is loaded. An ASCII name is the same bytes either way (a malformed one, such as `a..b`,
    is refused by the resolver, socket.gaierror, where the codec raised UnicodeError); anything
    else still needs the codec."""
    return host.encode("ascii") if host.isascii() else host


def encode_frame(kind: int, call_id: int, body: bytes = b"") -> bytes:
    """One frame, ready to write."""
    return HEAD.pack(len(body) + HEAD_AFTER_LENGTH, kind, call_id) + body


def encode_call(call_id: int, method: str, request: bytes, timeout: float | None) -> bytes:
    """The CALL frame of `method` (its full gRPC-style name) with a serialized request."""
    name = method.encode("ascii")
    if len(name) > 255:
        raise ValueError(f"method name too long: {method}")
    deadline_ms = 0 if timeout is None else max(1, min(math.ceil(timeout * 1000), 2**32 - 1))
    return encode_frame(CALL, call_id, CALL_HEAD.pack(deadline_ms, len(name)) + name + request)
