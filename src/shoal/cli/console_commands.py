"""The admin console's command table: icegridadmin's commands, each an async handler.

A handler gets the console's `Session` (admin API, site, output) and its arguments; it prints
through `session.out` and raises ShoalError on failure. `resolve` finds a command by its words.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoal.cli.client import AdminApi
from shoal.cli.console_format import (
    INACTIVE_ADAPTER,
    adapter_list_lines,
    application_summary_lines,
    deploy_lines,
    diff_lines,
    load_line,
    node_describe_lines,
    object_describe_lines,
    registry_describe_lines,
    server_describe_lines,
    server_state_line,
)
from shoal.cli.errors import ConsoleUsageError
from shoal.config.site import Site
from shoal.errors import NodeUnreachableError, ShoalError, UnreachableError
from shoal.rpc import admin_pb2, common_pb2


class Output:
    """Where the console writes: lines of text, or raw bytes (server output)."""

    def __init__(self, write_line: Callable[[str], None], write_raw: Callable[[bytes], None]):
        self.line = write_line
        self.raw = write_raw


@dataclass
class Session:
    api: AdminApi
    site: Site | None
    out: Output


Handler = Callable[[Session, list[str]], Coroutine[Any, Any, None]]

_COUNT_WORDS = {0: "no", 1: "exactly one", 2: "exactly two"}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str
    help: str
    run: Handler
    min_args: int = 0
    max_args: int | None = 0
    #: Reads a stream (output): needs the admin client's event loop. The others make unary
    #: calls only, and a one-shot command runs them without one (AdminClient(blocking=True)).
    streams: bool = False

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def check(self, args: Sequence[str]) -> None:
        """icegridadmin's wording: "`server state' requires exactly one argument"."""
        low, high = self.min_args, self.max_args
        if low <= len(args) and (high is None or len(args) <= high):
            return
        if high == low:
            wanted = f"{_COUNT_WORDS.get(low, str(low))} argument{'s' if low != 1 else ''}"
            if low == 0:
                wanted = "no argument"
        elif high is None:
            wanted = f"at least {_COUNT_WORDS.get(low, str(low)).replace('exactly ', '')} argument"
            wanted += "s" if low != 1 else ""
        else:
            wanted = f"{low} to {high} arguments"
        raise ConsoleUsageError(
            f"`{self.name}' requires {wanted}", f"usage: {self.usage} (`help' for more info)"
        )


def not_running_message(status: common_pb2.ServerStatus) -> str:
    """ "server X is not running", with the reason of its last change when it has one (e.g.
    "node node1 is down": the registry's word for a server whose node lost its session)."""
    message = f"server {status.server_id} is not running"
    last = status.history[-1] if status.history else None
    if last is not None and last.state == common_pb2.INACTIVE and last.reason:
        message += f" ({last.reason})"
    return message


# ---------------------------------------------------------------------------- applications


def _deploy_request(session: Session, args: list[str]) -> admin_pb2.DeployRequest:
    # The descriptor engine loads only for the commands that read descriptors.
    from shoal.cli.deploy import build_request
    from shoal.cli.descriptors import split_words

    def no_default() -> Path:
        raise ConsoleUsageError("give the descriptor file first", "e.g. etc/grid/default.xml")

    words = split_words(args, no_default)
    request, _ = build_request(words, session.site)
    return request


async def _application_list(session: Session, args: list[str]) -> None:
    for summary in await session.api.application_list():
        session.out.line(summary.name)


async def _application_describe(session: Session, args: list[str]) -> None:
    reply = await session.api.application_describe(args[0])
    for line in application_summary_lines(reply.summary):
        session.out.line(line)
    session.out.line(reply.descriptor_xml.rstrip("\n"))


async def _application_diff(session: Session, args: list[str]) -> None:
    deploy = _deploy_request(session, args)
    request = admin_pb2.ApplicationDiffRequest(
        descriptor_xml=deploy.descriptor_xml,
        source_name=deploy.source_name,
        targets=list(deploy.targets),
        variables=dict(deploy.variables),
    )
    for line in diff_lines(await session.api.application_diff(request)):
        session.out.line(line)


_NO_RESTART = ("-n", "--no-restart")


def _deployer(mode: admin_pb2.DeployRequest.Mode, *, live: bool = False) -> Handler:
    """`application add|update`; with `live`, icegridadmin's -n/--no-restart is accepted."""

    async def run(session: Session, args: list[str]) -> None:
        no_restart = live and any(arg in _NO_RESTART for arg in args)
        if live:
            args = [arg for arg in args if arg not in _NO_RESTART]
        request = _deploy_request(session, args)
        request.mode = mode
        request.no_restart = no_restart
        for line in deploy_lines(await session.api.deploy(request)):
            session.out.line(line)

    return run


async def _application_remove(session: Session, args: list[str]) -> None:
    await session.api.application_remove(args[0])


# --------------------------------------------------------------------------------- servers


async def _server_list(session: Session, args: list[str]) -> None:
    for status in await session.api.server_list():
        session.out.line(status.server_id)


async def _server_describe(session: Session, args: list[str]) -> None:
    for line in server_describe_lines(await session.api.server_describe(args[0])):
        session.out.line(line)


async def _server_state(session: Session, args: list[str]) -> None:
    session.out.line(server_state_line(await session.api.server_state(args[0])))


async def _server_pid(session: Session, args: list[str]) -> None:
    status = await session.api.server_state(args[0])
    if not status.pid:
        raise ShoalError(not_running_message(status), f"`server state {args[0]}' shows why")
    session.out.line(str(status.pid))


async def _server_start(session: Session, args: list[str]) -> None:
    status = await session.api.server_state(args[0])
    if status.state == common_pb2.ACTIVE and status.pid:
        session.out.line(f"server {args[0]} is already active (pid {status.pid})")
        return
    await session.api.server_start(args[0])


async def _server_stop(session: Session, args: list[str]) -> None:
    status = await session.api.server_stop(args[0])
    if status.activation == "always":
        session.out.line(
            f"server {args[0]} stopped; activation is `always`, so the node starts it again:"
            f" `server disable {args[0]}` keeps it down"
        )


async def _server_enable(session: Session, args: list[str]) -> None:
    await session.api.server_enable(args[0], True)


async def _server_disable(session: Session, args: list[str]) -> None:
    await session.api.server_enable(args[0], False)


async def _server_signal(session: Session, args: list[str]) -> None:
    await session.api.server_signal(args[0], args[1])


async def _server_properties(session: Session, args: list[str]) -> None:
    for name, value in await session.api.server_properties(args[0]):
        session.out.line(f"{name}={value}")


def parse_output_args(args: Sequence[str]) -> tuple[str, int, bool]:
    """`ID [--tail N] [--follow]` → (id, tail lines, follow); the default tail is 20 lines."""
    server_id, tail, follow = "", 20, False
    words = list(args)
    while words:
        word = words.pop(0)
        if word in ("-f", "--follow"):
            follow = True
        elif word in ("-t", "--tail") or word.startswith("--tail="):
            value = word.partition("=")[2] if "=" in word else (words.pop(0) if words else "")
            if not value.isdigit():
                raise ConsoleUsageError(f"--tail needs a number of lines, not `{value}'")
            tail = int(value)
        elif word.startswith("-"):
            raise ConsoleUsageError(f"unknown option `{word}'", "use --tail N and --follow")
        elif server_id:
            raise ConsoleUsageError(f"unexpected argument `{word}'", "one server id only")
        else:
            server_id = word
    if not server_id:
        raise ConsoleUsageError("give a server id", "usage: server stdout ID [--tail N] [--follow]")
    return server_id, tail, follow


def _output(stderr: bool) -> Handler:
    async def run(session: Session, args: list[str]) -> None:
        server_id, tail, follow = parse_output_args(args)
        async for chunk in session.api.server_output(
            server_id, stderr=stderr, tail_lines=tail, follow=follow
        ):
            session.out.raw(chunk)

    return run


# ------------------------------------------------------------------------ nodes, registry


async def _node_list(session: Session, args: list[str]) -> None:
    for node in await session.api.node_list():
        session.out.line(node.info.name)


async def _node_describe(session: Session, args: list[str]) -> None:
    for line in node_describe_lines(await session.api.node_describe(args[0])):
        session.out.line(line)


async def _node_ping(session: Session, args: list[str]) -> None:
    try:
        await session.api.node_ping(args[0])
    except NodeUnreachableError:
        session.out.line("node is down")  # icegridadmin's words, and it fails
        raise
    session.out.line("node is up")


async def _node_load(session: Session, args: list[str]) -> None:
    session.out.line(load_line(await session.api.node_load(args[0])))


async def _node_shutdown(session: Session, args: list[str]) -> None:
    await session.api.node_shutdown(args[0])


async def _adapter_list(session: Session, args: list[str]) -> None:
    for line in adapter_list_lines(await session.api.adapter_list()):
        session.out.line(line)


async def _adapter_endpoints(session: Session, args: list[str]) -> None:
    info = await session.api.adapter_endpoints(args[0])
    session.out.line(info.endpoints or INACTIVE_ADAPTER)


async def _adapter_remove(session: Session, args: list[str]) -> None:
    await session.api.adapter_remove(args[0])


async def _object_add(session: Session, args: list[str]) -> None:
    await session.api.object_add(args[0], args[1] if len(args) > 1 else "")


async def _object_remove(session: Session, args: list[str]) -> None:
    await session.api.object_remove(args[0])


async def _object_find(session: Session, args: list[str]) -> None:
    for info in await session.api.object_list(object_type=args[0]):
        session.out.line(info.proxy)


async def _object_describe(session: Session, args: list[str]) -> None:
    objects = await session.api.object_list(args[0] if args else "")
    for line in object_describe_lines(objects):
        session.out.line(line)


async def _object_list(session: Session, args: list[str]) -> None:
    for info in await session.api.object_list(args[0] if args else ""):
        session.out.line(info.identity)


async def _registry_list(session: Session, args: list[str]) -> None:
    for info in await session.api.registry_list():
        session.out.line(info.name)


async def _registry_describe(session: Session, args: list[str]) -> None:
    for line in registry_describe_lines(await session.api.registry_ping(args[0])):
        session.out.line(line)


async def _registry_ping(session: Session, args: list[str]) -> None:
    try:
        await session.api.registry_ping(args[0] if args else "")
    except UnreachableError:
        session.out.line("registry is down")
        raise
    session.out.line("registry is up")


async def _registry_shutdown(session: Session, args: list[str]) -> None:
    await session.api.registry_shutdown(args[0] if args else "")


_ADD = admin_pb2.DeployRequest.ADD
_UPDATE = admin_pb2.DeployRequest.UPDATE
_DESC = "DESC [TARGET...] [NAME=VALUE...]"

COMMANDS: tuple[Command, ...] = (
    Command(("application", "list"), "application list", "List the applications.",
            _application_list),
    Command(("application", "describe"), "application describe NAME",
            "Show an application as deployed.", _application_describe, 1, 1),
    Command(("application", "diff"), f"application diff {_DESC}",
            "Show what deploying DESC would change.", _application_diff, 1, None),
    Command(("application", "add"), f"application add {_DESC}",
            "Deploy a new application.", _deployer(_ADD), 1, None),
    Command(("application", "update"), f"application update [-n|--no-restart] {_DESC}",
            "Update a deployed application (only changed servers restart; -n: property "
            "changes reach running servers without a restart).",
            _deployer(_UPDATE, live=True), 1, None),
    Command(("application", "remove"), "application remove NAME",
            "Stop and remove an application's servers.", _application_remove, 1, 1),
    Command(("server", "list"), "server list", "List the servers.", _server_list),
    Command(("server", "describe"), "server describe ID", "Show a server's description.",
            _server_describe, 1, 1),
    Command(("server", "state"), "server state ID", "Show a server's state.",
            _server_state, 1, 1),
    Command(("server", "pid"), "server pid ID", "Show a server's process id.",
            _server_pid, 1, 1),
    Command(("server", "start"), "server start ID", "Start a server (returns once active).",
            _server_start, 1, 1),
    Command(("server", "stop"), "server stop ID", "Stop a server.", _server_stop, 1, 1),
    Command(("server", "enable"), "server enable ID", "Enable a server.",
            _server_enable, 1, 1),
    Command(("server", "disable"), "server disable ID",
            "Disable a server (it is not started, on demand or otherwise).",
            _server_disable, 1, 1),
    Command(("server", "signal"), "server signal ID SIGNAL", "Send a signal to a server.",
            _server_signal, 2, 2),
    Command(("server", "stdout"), "server stdout ID [--tail N] [--follow]",
            "Show a server's standard output.", _output(stderr=False), 1, 4, streams=True),
    Command(("server", "stderr"), "server stderr ID [--tail N] [--follow]",
            "Show a server's standard error.", _output(stderr=True), 1, 4, streams=True),
    Command(("server", "properties"), "server properties ID",
            "Show the properties a server reads.", _server_properties, 1, 1),
    Command(("node", "list"), "node list", "List the nodes.", _node_list),
    Command(("node", "describe"), "node describe NAME", "Show a node's host facts.",
            _node_describe, 1, 1),
    Command(("node", "ping"), "node ping NAME", "Check that a node is up.", _node_ping, 1, 1),
    Command(("node", "load"), "node load NAME", "Show a node's load averages.",
            _node_load, 1, 1),
    Command(("node", "shutdown"), "node shutdown NAME",
            "Stop a node (and its servers).", _node_shutdown, 1, 1),
    Command(("adapter", "list"), "adapter list",
            "List the adapters, their servers and endpoints.", _adapter_list),
    Command(("adapter", "endpoints"), "adapter endpoints ID",
            "Show an adapter's registered endpoints.", _adapter_endpoints, 1, 1),
    Command(("adapter", "remove"), "adapter remove ID",
            "Remove an adapter registered dynamically.", _adapter_remove, 1, 1),
    Command(("object", "add"), "object add PROXY [TYPE]",
            "Add a well-known object (`ID:ENDPOINTS' or `ID@ADAPTER').", _object_add, 1, 2),
    Command(("object", "remove"), "object remove ID",
            "Remove a well-known object added with `object add'.", _object_remove, 1, 1),
    Command(("object", "find"), "object find TYPE",
            "Show the proxies of the objects of a type.", _object_find, 1, 1),
    Command(("object", "describe"), "object describe [EXPR]",
            "Show objects' proxies and types (EXPR: an identity, or a prefix and `*').",
            _object_describe, 0, 1),
    Command(("object", "list"), "object list [EXPR]",
            "List well-known objects (EXPR: an identity, or a prefix and `*').",
            _object_list, 0, 1),
    Command(("registry", "list"), "registry list", "List the registries.", _registry_list),
    Command(("registry", "describe"), "registry describe NAME", "Show a registry.",
            _registry_describe, 1, 1),
    Command(("registry", "ping"), "registry ping [NAME]", "Check that the registry is up.",
            _registry_ping, 0, 1),
    Command(("registry", "shutdown"), "registry shutdown [NAME]",
            "Stop the registry (nodes keep their servers).", _registry_shutdown, 0, 1),
)  # fmt: skip

GROUPS = ("application", "server", "node", "adapter", "object", "registry")


def resolve(words: Sequence[str]) -> tuple[Command, list[str]]:
    """The command `words` start with, and its arguments; ConsoleUsageError if none."""
    if not words:
        raise ConsoleUsageError("no command", "`help' lists the commands")
    for command in COMMANDS:
        size = len(command.words)
        if tuple(words[:size]) == command.words:
            args = list(words[size:])
            command.check(args)
            return command, args
    if words[0] in GROUPS:
        wanted = " ".join(words[:2])
        raise ConsoleUsageError(
            f"unknown command `{wanted}'", f"`help {words[0]}' lists the {words[0]} commands"
        )
    raise ConsoleUsageError(f"unknown command `{words[0]}'", "`help' lists the commands")


def help_lines(topic: Sequence[str] = ()) -> list[str]:
    """`help` (everything) or `help GROUP`."""
    chosen = [c for c in COMMANDS if not topic or c.words[0] == topic[0]]
    if not chosen:
        raise ConsoleUsageError(f"no help for `{' '.join(topic)}'", f"groups: {', '.join(GROUPS)}")
    width = max(len(c.usage) for c in chosen)
    lines = [f"{c.usage:<{width}}  {c.help}" for c in chosen]
    if not topic:
        lines += [
            "help [GROUP]".ljust(width) + "  Show this help.",
            "exit, quit".ljust(width) + "  Leave the console.",
        ]
    return lines
