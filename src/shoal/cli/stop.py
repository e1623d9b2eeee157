"""`shoal admin stop` and `waitdown`: ShutdownGrid, then wait for the master's pid to exit.

Stopping a grid that is not running prints so and exits 0 (LSB; OMERO's non-zero is a known
weakness): `restart` and init scripts need no special case. A grid still starting (start lock,
or a master whose registry does not answer yet) is waited for, then stopped; a master that
never answers gets SIGTERM. A stop never exits 0 while a grid is coming up.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import click

from shoal.cli.context import CliContext
from shoal.cli.daemon import wait_for_exit
from shoal.cli.grid import Deadline, Grid, local_pid, registry_info, relative, wait_for_start
from shoal.errors import ShoalError, TimedOutError, UnreachableError
from shoal.rpc import admin_pb2

if TYPE_CHECKING:
    from shoal.cli.client import AdminApi, AdminClient

DEFAULT_WAIT_SECONDS = 300.0
#: How long a stop waits for a starting grid's registry before it signals the master instead.
STARTING_GRACE_SECONDS = 60.0


def _wait_gone(grid: Grid, pid: int, deadline: Deadline, wait: float | None) -> None:
    if not wait_for_exit(pid, deadline.left()):
        raise still_running(grid, pid, wait)


def still_running(grid: Grid, pid: int, wait: float | None) -> TimedOutError:
    return TimedOutError(
        f"the master node (pid {pid}) is still running after {wait:g} s",
        f"see {relative(grid.site, grid.master.stderr)}; a server may ignore SIGTERM "
        f"(`shoal admin status`), or `kill {pid}` it",
    )


def _wait_for_starting_grid(
    grid: Grid, client: AdminClient, deadline: Deadline
) -> admin_pb2.RegistryInfo | None:
    """The grid is coming up: wait (bounded) until it answers, so that it can be shut down."""
    left = deadline.left()
    grace = STARTING_GRACE_SECONDS if left is None else min(left, STARTING_GRACE_SECONDS)
    click.echo(f"the grid is starting: waiting up to {grace:g} s for its registry, to stop it")
    info = wait_for_start(grid, client, grace)
    starter = grid.starting_pid()
    if info is None and starter is not None and grid.master_pid() is None:
        raise TimedOutError(
            f"`shoal admin start' (pid {starter}) is still starting the grid after {grace:g} s "
            "and no master node runs yet",
            f"run `shoal admin stop` again once it has started, or `kill {starter}` it",
        )
    return info


def stop_grid(grid: Grid, wait: float | None) -> bool:
    """Stop the grid and wait until the master has exited; False if it was not running."""
    deadline = Deadline(wait)
    with grid.client(blocking=True) as client:
        info = registry_info(client)
        if grid.starting_pid() is not None or (info is None and grid.master_pid() is not None):
            info = _wait_for_starting_grid(grid, client, deadline)
        pid = grid.master_pid() or local_pid(info)
        if info is None and pid is None:
            click.echo("the grid is not running")
            return False
        if info is None:
            assert pid is not None
            click.echo(
                f"the registry does not answer at {grid.target.address}; "
                f"sending SIGTERM to the master node (pid {pid})"
            )
            os.kill(pid, signal.SIGTERM)
        else:
            try:
                reply = client.run(client.api.shutdown_grid())
            except UnreachableError:
                reply = None  # it went down while answering: the pid wait below decides
            if reply is not None:
                pid = reply.registry_pid or pid
                stopped = ", ".join(reply.nodes_stopped) or "none"
                click.echo(
                    f"stopping the grid: {reply.servers_stopped} server(s) stopped; "
                    f"nodes stopped: {stopped}"
                )
                if reply.nodes_unreachable:
                    click.echo(
                        "  unreachable nodes (their servers may still run): "
                        + ", ".join(reply.nodes_unreachable),
                        err=True,
                    )
    if pid:
        _wait_gone(grid, pid, deadline, wait)
    click.echo("the grid is stopped")
    return True


_WAIT_HELP = "Seconds to wait for the master to exit (default 300)."


@click.command()
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT_SECONDS, help=_WAIT_HELP)
@click.pass_obj
def stop(context: CliContext, wait: float) -> None:
    """Stop every server and node of the grid, then the master; wait until it has exited."""
    stop_grid(Grid.load(context), wait)


@click.command()
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT_SECONDS, help=_WAIT_HELP)
@click.pass_obj
def waitdown(context: CliContext, wait: float) -> None:
    """Wait until the master node (and so the registry) has exited."""
    grid = Grid.load(context)
    pid = grid.master_pid()
    if pid is None:
        with grid.client() as client:
            info = registry_info(client)
            pid = local_pid(info)
            # A registry on another host: its WatchServers stream ends when it goes down.
            remote = info is not None and pid is None
            if remote and not client.run(_stream_ends(client.api, wait)):
                raise TimedOutError(
                    f"the registry at {grid.target.address} still answers after {wait:g} s"
                )
    if pid is not None:
        _wait_gone(grid, pid, Deadline(wait), wait)
    click.echo("the grid is down")


async def _stream_ends(api: AdminApi, seconds: float | None) -> bool:
    import asyncio  # only here: `stop` itself runs without an event loop

    try:
        async with asyncio.timeout(seconds):
            async for _ in api.watch_servers():
                pass
    except TimeoutError:
        return False
    except ShoalError:
        return True  # the registry went away mid-stream
    return True
