"""`shoal node [NAME] start|stop|status|restart [--foreground]`: one node daemon on this host.

The action may also come first, as OMERO writes it: `shoal node start NAME`.
NAME: the argument, else SHOAL_NODE (OMERO_NODE's twin), else the short host name. `start`
detached waits for `ready`; a node whose registry is not up yet keeps trying: that is a
normal boot order, so it is reported on stderr and exits 0. `stop` waits for the exit.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import click

from shoal.cli.client import AdminClient, RegistryTarget, ping_node_directly
from shoal.cli.context import CliContext
from shoal.cli.daemon import NodeFiles, live_pid, wait_for_exit
from shoal.cli.errors import AlreadyRunningError, NotRunningError
from shoal.cli.grid import relative
from shoal.cli.launch import launch
from shoal.config.site import Site
from shoal.errors import NodeUnreachableError, ShoalError, TimedOutError, UnreachableError

ACTIONS = ("start", "stop", "status", "restart")
RESERVED_NAMES = frozenset(ACTIONS)
DEFAULT_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class NodeInvocation:
    name: str
    action: str
    overrides: tuple[str, ...]


def parse_node_words(
    words: Sequence[str], environ: Mapping[str, str], hostname: str
) -> NodeInvocation:
    """`[NAME] ACTION` or `ACTION NAME`, with `--Key=Value...` → name, action, overrides."""
    overrides = tuple(w for w in words if w.startswith("--") and "=" in w)
    rest = [w for w in words if w not in overrides]
    if len(rest) == 2 and rest[0] in ACTIONS and rest[1] not in ACTIONS:
        name, action, extra, source = rest[1], rest[0], [], "the argument"  # `start NAME`
    elif rest and rest[0] in ACTIONS:
        name = environ.get("SHOAL_NODE") or hostname.split(".")[0]
        source = "SHOAL_NODE" if environ.get("SHOAL_NODE") else "the host name"
        action, extra = rest[0], rest[1:]
    elif len(rest) >= 2:
        name, action, extra, source = rest[0], rest[1], rest[2:], "the argument"
    else:
        raise click.UsageError(
            f"say what to do: shoal node [NAME] {'|'.join(ACTIONS)} (or: shoal node ACTION NAME)"
        )
    if action not in ACTIONS:
        raise click.UsageError(f"unknown node action `{action}': use one of {', '.join(ACTIONS)}")
    if extra:
        raise click.UsageError(f"unexpected argument(s): {' '.join(extra)}")
    if name in RESERVED_NAMES:
        raise click.UsageError(
            f"`{name}' (from {source}) cannot be a node name: {', '.join(ACTIONS)} are reserved"
        )
    return NodeInvocation(name, action, overrides)


def _start(site: Site, files: NodeFiles, overrides: Sequence[str], wait: float) -> None:
    pid = live_pid(files.pidfile)
    if pid is not None:
        raise AlreadyRunningError(
            f"node {files.name} is already running (pid {pid})",
            f"`shoal node {files.name} restart` restarts it",
        )
    launched = launch(site, files, wait, overrides)
    if launched.ready:
        click.echo(f"node {files.name} started (pid {launched.pid})")
        return
    reason = f"no `ready' within {wait:g} s"
    target = RegistryTarget.for_site(site)
    with AdminClient(target) as client:
        try:
            client.run(client.api.registry_ping(deadline=3.0))
        except UnreachableError:
            reason = f"the registry at {target.address} does not answer"
    click.echo(
        f"node {files.name} started (pid {launched.pid}) but is not registered yet: {reason}; "
        f"it keeps trying (see {relative(site, files.stderr)})",
        err=True,
    )


def _stop(files: NodeFiles, wait: float) -> None:
    pid = live_pid(files.pidfile)
    if pid is None:
        click.echo(f"node {files.name} is not running")
        return
    os.kill(pid, signal.SIGTERM)
    if not wait_for_exit(pid, wait):
        raise TimedOutError(
            f"node {files.name} (pid {pid}) is still running {wait:g} s after SIGTERM",
            "its servers may be slow to stop; wait more, or `kill -KILL` it (its servers die "
            "with it)",
        )
    click.echo(f"node {files.name} stopped")


def _status(site: Site, files: NodeFiles) -> None:
    target = RegistryTarget.for_site(site)
    pid = live_pid(files.pidfile)
    running = f" (pid {pid})" if pid else ""
    with AdminClient(target) as client:
        try:
            seconds = client.run(client.api.node_ping(files.name))
        except NodeUnreachableError as error:
            # The registry's message names the node already ("node NAME is down: ...").
            message = error.message
            if not message.startswith(f"node {files.name} "):
                message = f"node {files.name} is down: {message}"
            raise NotRunningError(message, error.hint) from error
        except UnreachableError as error:
            if pid is None:
                raise NotRunningError(
                    f"node {files.name} is not running (no process; the registry at "
                    f"{target.address} does not answer either)",
                    f"start it with `shoal node {files.name} start`",
                ) from error
            note = _direct_ping(files, target, pid)
            click.echo(f"node {files.name} is up{running} but {note}")
            return
    click.echo(f"node {files.name} is up{running}, round trip {seconds * 1000:.1f} ms")


def _direct_ping(files: NodeFiles, target: RegistryTarget, pid: int) -> str:
    """The registry is unreachable: ask the node itself if its endpoint has a fixed port."""
    endpoints = [e for e in files.properties.get_endpoints("IceGrid.Node.Endpoints") if e.port]
    if not endpoints:
        raise NotRunningError(
            f"node {files.name} runs (pid {pid}) but the registry at {target.address} does "
            "not answer, so it is not registered",
            "start the grid with `shoal admin start`; the node registers by itself",
        )
    with AdminClient(target) as client:
        try:
            client.run(ping_node_directly(endpoints[0], files.name, target))
        except ShoalError as error:
            raise NotRunningError(f"node {files.name} does not answer: {error.message}") from error
    return f"not registered: the registry at {target.address} does not answer"


def _foreground(site: Site, name: str, overrides: Sequence[str], ready_fd: int | None) -> int:
    try:
        from shoal.node.daemon import run_node
    except ImportError as exc:
        raise ShoalError(
            f"the node daemon is not available in this installation ({exc})",
            "install a complete Shoal",
        ) from exc
    code: int = run_node(site, name, list(overrides), ready_fd)
    return code


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@click.argument("words", nargs=-1)
@click.option("--foreground", is_flag=True, help="start: run in this process, attached.")
@click.option("--ready-fd", type=int, default=None, hidden=True)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_SECONDS,
    help="Seconds to wait for ready (start) or exit (stop); default 60.",
)
@click.pass_obj
def node(
    context: CliContext,
    words: tuple[str, ...],
    foreground: bool,
    ready_fd: int | None,
    wait: float,
) -> None:
    """Start, stop or ping a node daemon: shoal node [NAME] start|stop|status|restart.

    \b
    The action may come first: shoal node start NAME.
    NAME defaults to $SHOAL_NODE, then to this host's short name; its config is etc/NAME.cfg.
    --Key=Value words override properties of that config.
    """
    invocation = parse_node_words(words, os.environ, socket.gethostname())
    site = context.site()
    files = NodeFiles.load(site, invocation.name, invocation.overrides)
    if invocation.action == "start" and foreground:
        code = _foreground(site, invocation.name, invocation.overrides, ready_fd)
        if code:
            raise click.exceptions.Exit(code)
    elif invocation.action == "start":
        _start(site, files, invocation.overrides, wait)
    elif invocation.action == "stop":
        _stop(files, wait)
    elif invocation.action == "restart":
        _stop(files, wait)
        _start(site, files, invocation.overrides, wait)
    else:
        _status(site, files)
