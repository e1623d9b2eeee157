"""The quick path: `shoal admin stop` and `shoal admin ice application remove NAME` answered
without loading the command tree.

Init scripts, deploy scripts and operators run these one-shot commands most, and each is one
call to the registry. The whole CLI (click, protobuf, the config and client modules) takes
~80 ms to load on a 2-core machine, four times the interpreter's own start; this module uses
built-in modules only (os, _socket, struct, select) and is done in about the interpreter's
start time plus the registry's work.

It answers only what it can answer exactly as the full command would:
- a site found the plain way (shoal.config.site.find_site's rules, without PATH searches or
  symlink hops: those go to the full command);
- etc/internal.cfg (and, for `stop`, etc/master.cfg) of plain `Key=Value` lines: no
  Ice.Config includes, no ${...}, no backslash escapes; internal.cfg sets nothing but
  Ice.Default.Locator, with one plain tcp endpoint at a literal address (loopback for `stop`,
  whose wait is for the master's local pid);
- no option (`--wait`, `--debug`, `--help`).
For anything else `answer` returns None before it sends anything, and the full command runs
(the same answer, slower). Errors after the call was sent (an error reply, a lost connection,
a master that does not exit in time) are built and told by the full CLI's own code, imported
then: there is one wording of each. Its readers of the site and the master's files serve
`admin start`'s head start too (shoal.cli.quick_start).
"""

from __future__ import annotations

import _socket  # socket.py wraps it with enums it builds at import (~10 ms): one call needs none
import os
import sys

from shoal.rpc.framing import (
    ERROR,
    HEAD,
    KIND_NAMES,
    MAGIC,
    REPLY,
    SERVER_CLOSED,
    encode_call,
    lookup_host,
)

#: The Admin service's methods these commands call (shoal/rpc/admin.proto, package shoal.v1).
_SHUTDOWN_GRID = "/shoal.v1.Admin/ShutdownGrid"
_APPLICATION_REMOVE = "/shoal.v1.Admin/ApplicationRemove"
#: `admin stop`'s default wait for the master to exit (shoal.cli.stop.DEFAULT_WAIT_SECONDS).
_STOP_WAIT_SECONDS = 300.0
#: Ice.MessageSizeMax's default in Shoal (shoal.config.properties.DEFAULT_MESSAGE_SIZE_MAX_KB):
#: internal.cfg may not set it on this path.
_REPLY_LIMIT_BYTES = 65536 * 1024
#: How long `stop` waits for the registry's ping, and the head start for its port to refuse
#: (shoal.cli.grid.PROBE_SECONDS): one that accepts connections but does not answer is the full
#: command's case (it waits, then signals).
PROBE_SECONDS = 3.0
_REGISTRY_PING = "/shoal.v1.Admin/RegistryPing"
_PING_ID, _CALL_ID = 1, 2
_LOOPBACK = ("127.0.0.1", "localhost")
MASTER = "master"  # shoal.config.site.MASTER_NODE
_MAX_LINK_HOPS = 40  # shoal.config.site's


def answer(program: str, args: list[str], launcher_prefix: str | None) -> int | None:
    """The command's exit code, or None when the quick path does not answer it (nothing was
    sent: the full command runs)."""
    match args:
        case ["admin", "stop"]:
            application = None
        case ["admin", "ice", "application", "remove", application] if application[:1] != "-":
            pass
        case _:
            return None
    prefix = plain_site(program, launcher_prefix)
    if prefix is None:
        return None
    return _stop(prefix) if application is None else _remove(prefix, application)


# ------------------------------------------------------------------------------- commands


def _remove(prefix: str, application: str) -> int | None:
    """The console's `application remove NAME`: quiet when done."""
    endpoint = registry_endpoint(plain_internal(prefix))
    connection = None if endpoint is None else _connect(endpoint)
    if connection is None:
        return None
    try:
        _call(connection, prefix, _APPLICATION_REMOVE, _string_field(1, application))
    except _LostConnection as lost:
        from shoal.cli.quick_errors import lost_connection

        raise lost_connection(prefix, lost.__cause__) from lost.__cause__
    return 0


def _stop(prefix: str) -> int | None:
    """shoal.cli.stop.stop_grid for a running grid whose master runs on this host."""
    found = master_site(prefix)
    if found is None:
        return None
    endpoint, files = found
    if endpoint[0] not in _LOOPBACK:
        return None
    if os.path.lexists(files.start_lock):
        return None  # a grid coming up: the full command waits for it first
    pid = _live_shoal_pid(files.pidfile)
    if pid is None:
        return None  # not running, or a master whose registry may not answer: told there
    connection = _connect(endpoint)
    if connection is None or not _answers(connection):
        return None
    try:
        body = _call(connection, prefix, _SHUTDOWN_GRID, b"")
    except _LostConnection:
        body = None  # it went down while answering: the pid wait below decides
    if body is not None:
        try:
            fields = _fields(body)
        except (ValueError, IndexError):
            from shoal.cli.quick_errors import malformed_reply

            raise malformed_reply(prefix, "ShutdownGridReply") from None
        stopped = ", ".join(_strings(fields, 1)) or "none"
        unreachable = _strings(fields, 2)
        _say(
            f"stopping the grid: {_integer(fields, 3)} server(s) stopped; nodes stopped: {stopped}"
        )
        if unreachable:
            _say(
                "  unreachable nodes (their servers may still run): " + ", ".join(unreachable),
                error=True,
            )
        pid = _integer(fields, 4) or pid
    if not _wait_for_exit(pid, _STOP_WAIT_SECONDS):
        from shoal.cli.quick_errors import master_still_running

        raise master_still_running(prefix, pid, _STOP_WAIT_SECONDS)
    _say("the grid is stopped")
    return 0


def _say(line: str, *, error: bool = False) -> None:
    """click.echo's way: at once (flushed), nothing when the stream is closed; a reader gone
    (`| head`) does not stop the wait that follows."""
    stream = sys.stderr if error else sys.stdout
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        pass


# ---------------------------------------------------------------------------- site, config


def plain_site(program: str, launcher_prefix: str | None) -> str | None:
    """find_site's answer, or None where it would search PATH (a launcher is run by its path)."""
    cwd = os.getcwd()
    home = os.environ.get("SHOAL_HOME")
    if home:
        prefix = os.path.join(cwd, home)
        return os.path.realpath(prefix) if os.path.isdir(os.path.join(prefix, "etc")) else None
    if "/" not in program:
        return None  # found on PATH: the full command searches it
    launcher = os.path.join(cwd, program)
    if not os.path.exists(launcher):
        return None
    for candidate in _link_chain(launcher):
        bin_dir = os.path.dirname(candidate)
        if os.path.basename(bin_dir) == "bin" and _is_site(os.path.dirname(bin_dir)):
            return os.path.realpath(os.path.dirname(bin_dir))
    if launcher_prefix is not None:
        prefix = os.path.join(cwd, launcher_prefix)
        if _is_site(prefix):
            return os.path.realpath(prefix)
    directory = cwd
    while True:
        if _is_site(directory):
            return os.path.realpath(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _link_chain(path: str) -> list[str]:
    """shoal.config.site._link_chain: the real path, then each symlink hop back to `path`."""
    hops = [path]
    current = path
    for _ in range(_MAX_LINK_HOPS):
        if not os.path.islink(current):
            break
        current = os.path.join(os.path.dirname(current), os.readlink(current))
        hops.append(current)
    return [os.path.realpath(path), *reversed(hops)]


def _is_site(directory: str) -> bool:
    return os.path.isdir(os.path.join(directory, "etc", "grid"))


def plain_properties(path: str) -> dict[str, str] | None:
    """A property file of plain `Key=Value` lines, blank lines and `#` comments; None when it
    is missing, not UTF-8, or has a line whose reading needs the full parser (an escape, a
    ${...}, an include, a line without `=`)."""
    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isascii():
        return None  # the full parser's whitespace and escapes are ASCII: anything else is its
    properties: dict[str, str] = {}
    for line in text.split("\n"):  # Ice reads lines up to '\n' only; '\r' is whitespace
        content = line.split("#", 1)[0]
        if not content.strip(" \t\r"):
            continue
        if not content.replace("\t", " ").replace("\r", " ").isprintable():
            return None  # a control character (\f, \v...): whitespace or not, the full parser says
        if "\\" in content or "$" in content or "=" not in content:
            return None
        key, value = (part.strip(" \t\r") for part in content.split("=", 1))
        if not key or key == "Ice.Config":
            return None
        if value:
            properties[key] = value
        else:
            properties.pop(key, None)  # Ice: an empty value unsets the property
    return properties


def plain_internal(prefix: str) -> dict[str, str] | None:
    """etc/internal.cfg when plain (read once: `stop` needs it for both the registry and the
    master's files)."""
    return plain_properties(os.path.join(prefix, "etc", "internal.cfg"))


def registry_endpoint(properties: dict[str, str] | None) -> tuple[str, int] | None:
    """The registry's (host, port) from a plain etc/internal.cfg."""
    if properties is None or set(properties) != {"Ice.Default.Locator"}:
        return None
    return plain_tcp_endpoint(properties["Ice.Default.Locator"])


def plain_tcp_endpoint(proxy: str) -> tuple[str, int] | None:
    """`IDENTITY:tcp -h HOST -p PORT` (the options in either order) → (HOST, PORT)."""
    identity, _, endpoints = proxy.partition(":")
    words = endpoints.split()
    plain_identity = identity and all(c.isalnum() or c in "/._" for c in identity)
    if not plain_identity or identity.count("/") > 1 or ":" in endpoints or not words:
        return None
    if words[0] != "tcp":
        return None
    options = dict(zip(words[1::2], words[2::2], strict=False))
    if len(words) != 5 or set(options) != {"-h", "-p"} or not options["-p"].isdecimal():
        return None
    host, port = options["-h"], int(options["-p"])
    if not host[0].isalnum() or host in ("0.0.0.0", "::") or not 0 < port < 65536:
        return None
    return host, port


class MasterFiles:
    """The master's files, as shoal.cli.daemon.NodeFiles and shoal.cli.grid.Grid name them
    (a plain class: dataclasses would cost this path ~10 ms)."""

    __slots__ = ("pidfile", "start_lock", "stderr", "stdout")

    def __init__(self, pidfile: str, start_lock: str, stdout: str, stderr: str) -> None:
        self.pidfile = pidfile
        self.start_lock = start_lock
        self.stdout = stdout
        self.stderr = stderr


def master_files(prefix: str, internal: dict[str, str] | None) -> MasterFiles | None:
    """The master's files from plain etc/internal.cfg + etc/master.cfg."""
    node = plain_properties(os.path.join(prefix, "etc", f"{MASTER}.cfg"))
    if internal is None or node is None:
        return None
    properties = {**internal, **node}

    def path(key: str, default: str) -> str:  # Properties.get_path: relative to the site
        return os.path.join(prefix, properties.get(key, default))

    data_dir = path("IceGrid.Node.Data", f"var/{MASTER}")
    name = properties.get("IceGrid.Node.Name", MASTER)
    return MasterFiles(
        pidfile=os.path.join(data_dir, f"{name}.pid"),
        start_lock=os.path.join(data_dir, f"{name}.starting"),
        stdout=path("Ice.StdOut", f"var/log/{MASTER}.out"),
        stderr=path("Ice.StdErr", f"var/log/{MASTER}.err"),
    )


def master_site(prefix: str) -> tuple[tuple[str, int], MasterFiles] | None:
    """The registry's (host, port) and the master's files of a plain site (etc/internal.cfg
    read once), or None where either needs the full readers."""
    internal = plain_internal(prefix)
    endpoint = registry_endpoint(internal)
    files = master_files(prefix, internal)
    if endpoint is None or files is None:
        return None
    return endpoint, files


def _live_shoal_pid(pidfile: str) -> int | None:
    """shoal.cli.daemon.live_pid: the pidfile's process, alive (not a zombie) and Shoal's."""
    try:
        with open(pidfile) as file:
            text = file.read().strip()
        if not text.isdigit() or int(text) <= 0:
            return None
        pid = int(text)
        with open(f"/proc/{pid}/stat") as file:
            state = file.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            cmdline = file.read()
    except (OSError, IndexError):
        return None  # gone, or another user's: the full command tells
    return pid if state != "Z" and b"shoal" in cmdline else None


# ------------------------------------------------------------------------------ the call


class _LostConnection(Exception):
    """The connection broke after the request was sent."""


def connected(endpoint: tuple[str, int], timeout: float) -> _socket.socket | None:
    """A socket connected to `endpoint` (socket.create_connection's way: each address of the
    host in turn, `timeout` seconds each), or None when none accepts."""
    host, port = endpoint
    try:
        addresses = _socket.getaddrinfo(lookup_host(host), port, 0, _socket.SOCK_STREAM)
    except OSError:
        return None
    for family, kind, protocol, _, address in addresses:
        connection = _socket.socket(family, kind, protocol)
        try:
            connection.settimeout(timeout)
            connection.connect(address)
        except OSError:
            connection.close()
            continue
        return connection
    return None


def _connect(endpoint: tuple[str, int]) -> _socket.socket | None:
    """A connection to the registry, the protocol opened, or None (refused, unreachable: the
    full command says)."""
    connection = connected(endpoint, 10)
    if connection is None:
        return None
    try:
        connection.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        connection.sendall(MAGIC)
    except OSError:
        connection.close()
        return None
    connection.settimeout(None)
    return connection


def _answers(connection: _socket.socket) -> bool:
    """Does the registry answer a RegistryPing within PROBE_SECONDS? (The connection is closed
    when it does not: the full command takes over, nothing was asked yet.)"""
    try:
        connection.settimeout(PROBE_SECONDS)
        connection.sendall(encode_call(_PING_ID, _REGISTRY_PING, b"", PROBE_SECONDS))
        kind, _ = _read_frame(connection, _PING_ID)
        connection.settimeout(None)
    except OSError:
        kind = 0
    if kind != REPLY:
        connection.close()
        return False
    return True


def _call(connection: _socket.socket, prefix: str, method: str, request: bytes) -> bytes:
    """Send one call, return its REPLY's body; an ERROR reply or a broken exchange is raised as
    the full client raises it."""
    try:
        connection.sendall(encode_call(_CALL_ID, method, request, None))
        kind, body = _read_frame(connection, _CALL_ID)
    except OSError as exc:
        raise _LostConnection from exc
    finally:
        connection.close()
    if kind == REPLY:
        return body
    from shoal.cli.quick_errors import call_failed

    raise call_failed(prefix, kind == ERROR, body)


def _read_frame(connection: _socket.socket, call_id: int) -> tuple[int, bytes]:
    """The next frame the server sends back: (kind, body). A frame that is not a reply to
    `call_id` (another protocol answering) comes back as kind 0."""
    head = _read_exactly(connection, HEAD.size)
    length, kind, replied_to = HEAD.unpack(head)
    size = length - (HEAD.size - 4)
    if kind not in KIND_NAMES or replied_to != call_id or size < 0 or size > _REPLY_LIMIT_BYTES:
        return 0, head
    return kind, _read_exactly(connection, size)


def _read_exactly(connection: _socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError(SERVER_CLOSED)  # the full client's words (frames.py)
        data += chunk
    return bytes(data)


def _wait_for_exit(pid: int, timeout: float) -> bool:
    """shoal.cli.daemon.wait_for_exit: woken by the kernel through a pidfd."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # no pidfd here (an old kernel, a seccomp profile): the full CLI's way
        from shoal.cli.daemon import wait_for_exit

        return wait_for_exit(pid, timeout)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(int(timeout * 1000)))
    finally:
        os.close(pidfd)


# --------------------------------------------------------------- protobuf, the bytes we need


def _string_field(number: int, text: str) -> bytes:
    """One protobuf string field (wire type 2), as a message of that one field serializes."""
    data = text.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A message's fields in order: (number, value), value an int (varint) or bytes
    (length-delimited); fixed-size fields (none in the replies read here) are skipped."""
    fields: list[tuple[int, int | bytes]] = []
    index = 0
    while index < len(data):
        key, index = _read_varint(data, index)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, index = _read_varint(data, index)
            fields.append((number, value))
        elif wire_type == 2:
            size, index = _read_varint(data, index)
            if index + size > len(data):
                raise ValueError(f"field {number} runs past the message's end")
            fields.append((number, data[index : index + size]))
            index += size
        elif wire_type in (1, 5):  # fixed64 / fixed32: a field of a newer Shoal, skipped
            index += 8 if wire_type == 1 else 4
            if index > len(data):
                raise ValueError(f"field {number} runs past the message's end")
        else:
            raise ValueError(f"wire type {wire_type} of field {number}")
    return fields


def _read_varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index
        shift += 7


def _strings(fields: list[tuple[int, int | bytes]], number: int) -> list[str]:
    return [v.decode() for n, v in fields if n == number and isinstance(v, bytes)]


def _integer(fields: list[tuple[int, int | bytes]], number: int) -> int:
    """The last value of an int32/uint32 field (0 when absent); negatives are 10-byte
    two's complement varints."""
    values = [v for n, v in fields if n == number and isinstance(v, int)]
    value = values[-1] if values else 0
    return value - (1 << 64) if value >= 1 << 63 else value
