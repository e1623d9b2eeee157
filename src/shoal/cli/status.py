"""`shoal admin status` (a short table; 0 when the registry answers and the master is up) and
`waitup` (event-driven: WatchServers until every `always` server on an up node is active).

The tables are plain text (bold headers on a terminal): `status` is run often, by scripts too,
and should not pay for rich.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import click

from shoal.cli.client import AdminClient
from shoal.cli.context import CliContext
from shoal.cli.errors import NotRunningError, ServersFailedError
from shoal.cli.grid import Deadline, Grid, registry_info, wait_for_start
from shoal.cli.progress import ProgressDisplay
from shoal.cli.readiness import Readiness, natural_key, state_name, watch_until_ready
from shoal.cli.render import BOLD, StyledLines, wants_colour
from shoal.config.site import MASTER_NODE
from shoal.errors import TimedOutError
from shoal.rpc import common_pb2

DEFAULT_WAIT_SECONDS = 300.0


def _not_running(grid: Grid) -> NotRunningError:
    starting = grid.starting_pid()
    if starting is not None:
        return NotRunningError(
            f"the grid is starting (`shoal admin start', pid {starting}); the registry does "
            f"not answer yet at {grid.target.address}",
            "`shoal admin waitup` waits for it",
        )
    pid = grid.master_pid()
    if pid is not None:
        return NotRunningError(
            f"the master node runs (pid {pid}) but the registry does not answer at "
            f"{grid.target.address}",
            "it may still be starting (`shoal admin waitup`), or see var/log/master.err",
        )
    return NotRunningError(
        f"the grid is not running (no answer at {grid.target.address}, no master process)",
        "start it with `shoal admin start`",
    )


def uptime(status: common_pb2.ServerStatus, now: float) -> str:
    if not status.pid or not status.HasField("started_at"):
        return "-"
    seconds = max(0, int(now - status.started_at.ToSeconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


Row = Sequence[str]


def table_lines(header: Row, rows: Sequence[Row], out: StyledLines) -> None:
    """Left-aligned columns two spaces apart, the header bold on a terminal."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Row) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()

    out.add(out.styled(line(header), BOLD))
    for row in rows:
        out.add(line(row))


def status_tables(
    nodes: list[common_pb2.NodeStatus],
    servers: list[common_pb2.ServerStatus],
    now: float,
    out: StyledLines,
) -> None:
    """The nodes table, then (if any) the servers table, by name with numbers in order."""
    node_rows = [
        (
            node.info.name,
            "up" if node.up else "down",
            str(node.info.pid) if node.up and node.info.pid else "-",
            node.info.hostname or "-",
            str(node.server_count),
        )
        for node in sorted(nodes, key=lambda n: natural_key(n.info.name))
    ]
    table_lines(("node", "state", "pid", "host", "servers"), node_rows, out)
    if not servers:
        return
    server_rows = [
        (
            server.server_id,
            server.node,
            state_name(server.state),
            str(server.pid) if server.pid else "-",
            uptime(server, now),
            "yes" if server.enabled else "no",
        )
        for server in sorted(servers, key=lambda s: natural_key(s.server_id))
    ]
    table_lines(("server", "node", "state", "pid", "uptime", "enabled"), server_rows, out)


@click.command()
@click.pass_obj
def status(context: CliContext) -> None:
    """Show the registry, nodes and servers; exit 0 if the registry answers and master is up."""
    grid = Grid.load(context)
    with grid.client() as client:
        info = registry_info(client)
        if info is None:
            raise _not_running(grid)
        nodes = client.run(client.api.node_list())
        servers = client.run(client.api.server_list())
    out = StyledLines(wants_colour(sys.stdout))
    out.add(f"registry up at {grid.target.address} (pid {info.pid}, version {info.version})")
    status_tables(nodes, servers, time.time(), out)
    out.write(sys.stdout)
    master = next((n for n in nodes if n.info.name == MASTER_NODE), None)
    if master is None or not master.up:
        raise NotRunningError(
            "the registry answers but the master node is not up",
            "see var/log/master.err; `shoal admin restart` restarts the grid",
        )


def wait_up(
    grid: Grid, client: AdminClient, seconds: float | None, display: ProgressDisplay
) -> Readiness:
    """Wait for the registry (if the grid is starting) and then for the servers."""
    deadline = Deadline(seconds)
    if wait_for_start(grid, client, deadline.left()) is None:
        if not grid.coming_up():
            raise _not_running(grid)  # the start failed, or the master exited
        raise TimedOutError(
            f"the grid is still starting after {seconds:g} s: the registry at "
            f"{grid.target.address} does not answer yet",
            "`shoal admin waitup` waits more; var/log/master.err tells what the master does",
        )
    readiness = Readiness()
    settled = client.run(
        watch_until_ready(
            client.api, readiness, deadline.left(), display.update, grid.startup_grace()
        )
    )
    failures = readiness.failures(settled)
    if failures:
        raise ServersFailedError(
            "server(s) did not start: "
            + "; ".join(f"{name} ({why})" for name, why in failures.items()),
            "`shoal admin ice server describe ID` and var/log/ID.err tell why",
            failed=tuple(failures),
        )
    if not settled:
        names = ", ".join(s.server_id for s in readiness.waiting)
        raise TimedOutError(f"server(s) not active after {seconds:g} s: {names}")
    return readiness


@click.command()
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_SECONDS,
    help="Seconds to wait (default 300).",
)
@click.pass_obj
def waitup(context: CliContext, wait: float) -> None:
    """Wait until the registry answers and every `always` server on an up node is active."""
    grid = Grid.load(context)
    with grid.client() as client:
        if registry_info(client) is None and not grid.coming_up():
            raise _not_running(grid)  # nothing is starting: do not wait for nothing
        with ProgressDisplay() as display:
            readiness = wait_up(grid, client, wait, display)
    click.echo(f"the grid is up: {len(readiness.active)} server(s) active")
    for node, servers in readiness.pending_nodes.items():
        click.echo(f"  node {node} is not up; its servers wait for it: {', '.join(servers)}")
