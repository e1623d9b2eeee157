"""`shoal admin start` and `restart`: check, start the master, deploy, wait for the servers.

Unlike OMERO, a server that fails during the wait is reported by name and the grid is left
running (exit 11), so the operator can look at it instead of losing the evidence.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

import click

from shoal.cli.client import AdminClient
from shoal.cli.context import CliContext
from shoal.cli.daemon import child_exit_status, exit_status_text, wait_for_exit
from shoal.cli.deploy import build_request, print_deploy_reply
from shoal.cli.descriptors import split_words
from shoal.cli.errors import AlreadyRunningError, ServersFailedError
from shoal.cli.grid import Deadline, Grid, registry_info, relative
from shoal.cli.launch import launch
from shoal.cli.progress import ProgressDisplay
from shoal.cli.readiness import Readiness, watch_until_ready
from shoal.cli.render import console
from shoal.cli.stop import stop_grid
from shoal.errors import ShoalError, TimedOutError

DEFAULT_WAIT_SECONDS = 300.0


def _refuse_if_running(grid: Grid, client: AdminClient) -> None:
    info = registry_info(client)
    pid = grid.master_pid() or (info.pid if info is not None else None)
    if info is None and pid is None:
        return
    facts = []
    if info is not None:
        facts.append(f"the registry answers at {grid.target.address}")
    if pid:
        facts.append(f"master node pid {pid}")
    raise AlreadyRunningError(
        f"the grid is already running ({', '.join(facts)})",
        "`shoal admin status` shows it; `shoal admin deploy` applies descriptor changes; "
        "`shoal admin restart` restarts it",
    )


def _with_grid_left_running(error: ShoalError, pid: int) -> ShoalError:
    note = f"the grid was left running (master pid {pid}); `shoal admin stop` stops it"
    error.hint = f"{error.hint}; {note}" if error.hint else note
    return error


def _summary(
    grid: Grid, client: AdminClient, readiness: Readiness, pid: int, settled: bool
) -> None:
    out = console()
    failed = readiness.failures(settled)
    active, waiting = readiness.active, [s for s in readiness.waiting if s.server_id not in failed]
    out.print(
        f"grid started: registry at {grid.target.address}, master node pid {pid}",
        markup=False,
    )
    nodes = client.run(client.api.node_list())
    node_words = [f"{n.info.name} ({'up' if n.up else 'down'})" for n in nodes]
    out.print(f"  nodes:    {', '.join(node_words) or 'none'}", markup=False)
    out.print(
        f"  servers:  {len(active)} active, {len(failed)} failed, {len(waiting)} still starting",
        markup=False,
    )
    for server_id, reason in failed.items():
        out.print(f"    FAILED {server_id}: {reason}", markup=False)
    for node, servers in readiness.pending_nodes.items():
        out.print(
            f"    waiting for node {node} ({', '.join(servers)}): "
            f"start it with `shoal node {node} start`",
            markup=False,
        )
    out.print(
        f"  logs:     {relative(grid.site, grid.site.log_dir)}/ "
        f"(master.out, master.err, SERVER.out, SERVER.err)",
        markup=False,
    )
    out.print("  look:     shoal admin status | shoal admin diagnostics | shoal admin ice")
    out.print("  stop:     shoal admin stop")


def start_grid(
    context: CliContext, words: tuple[str, ...], wait: float | None, foreground: bool
) -> int:
    """Start the grid; return the exit code (0, or the foreground master's own)."""
    grid = Grid.load(context)
    site = grid.site
    with grid.client() as client:
        _refuse_if_running(grid, client)
        # Validate before starting anything: an invalid descriptor starts nothing.
        request, application = build_request(
            split_words(words, lambda: site.default_descriptor), site
        )
        deadline = Deadline(wait)
        launched = launch(site, grid.master, deadline.left(), detached=not foreground)
        if not launched.ready:
            raise TimedOutError(
                f"the master node (pid {launched.pid}) did not report ready within {wait:g} s",
                f"it is still running: see {relative(site, grid.master.stderr)}; "
                "`shoal admin stop` stops it",
            )
        try:
            print_deploy_reply(client.run(client.api.deploy(request)))
            readiness = Readiness(application=application.name)
            with ProgressDisplay(console()) as display:
                settled = client.run(
                    watch_until_ready(client.api, readiness, deadline.left(), display.update)
                )
            _summary(grid, client, readiness, launched.pid, settled)
        except ShoalError as error:
            raise _with_grid_left_running(error, launched.pid) from error
        failures = readiness.failures(settled)
        if failures:
            raise ServersFailedError(
                "server(s) did not start: "
                + "; ".join(f"{name} ({why})" for name, why in failures.items()),
                f"the grid was left running: `shoal admin ice server describe ID` and "
                f"{relative(site, site.log_dir)}/ID.err tell why; `shoal admin stop` stops it",
                failed=tuple(failures),
            )
        if not settled:
            names = ", ".join(s.server_id for s in readiness.waiting)
            raise TimedOutError(
                f"server(s) not active after {wait:g} s: {names}",
                "the grid was left running; `shoal admin waitup` waits more, "
                "`shoal admin status` shows where they are",
            )
    if foreground:
        return _wait_in_foreground(launched.pid)
    return 0


def _wait_in_foreground(pid: int) -> int:
    """`--foreground`: stay attached until the master exits; SIGTERM/SIGHUP are passed on."""

    def forward(signum: int, frame: FrameType | None) -> None:
        os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    click.echo(f"master node running in the foreground (pid {pid}); Ctrl-C stops it", err=True)
    try:
        wait_for_exit(pid, None)
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the master too (same process group): let it finish.
        wait_for_exit(pid, None)
    status = child_exit_status(pid)
    if status is None:
        return 0
    click.echo(f"master node {exit_status_text(status)}", err=True)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


_WAIT_HELP = "Seconds to wait, in all, for the master and the servers (default 300)."


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT_SECONDS, help=_WAIT_HELP)
@click.option("--foreground", is_flag=True, help="Keep the master attached to this terminal.")
@click.pass_obj
def start(context: CliContext, words: tuple[str, ...], wait: float, foreground: bool) -> None:
    """Start the grid: the master node (with the registry), deploy, wait for `always` servers.

    \b
    WORDS: [DESCRIPTOR] [TARGET...] [NAME=VALUE...]
    Without DESCRIPTOR, the site's etc/grid/default.xml is deployed.
    """
    code = start_grid(context, words, wait, foreground)
    if code:
        raise click.exceptions.Exit(code)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1)
@click.option("--wait", type=click.FloatRange(min=0), default=DEFAULT_WAIT_SECONDS, help=_WAIT_HELP)
@click.pass_obj
def restart(context: CliContext, words: tuple[str, ...], wait: float) -> None:
    """Stop the grid (waiting until it is down), then start it. WORDS as for `start`."""
    grid = Grid.load(context)
    # Check the descriptor first: a restart with a broken descriptor would leave nothing running.
    build_request(split_words(words, lambda: grid.site.default_descriptor), grid.site)
    stop_grid(grid, wait)
    start_grid(context, words, wait, foreground=False)
