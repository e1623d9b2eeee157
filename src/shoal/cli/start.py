"""`shoal admin start` and `restart`: check, start the master, deploy, wait for the servers.

Unlike OMERO, a server that fails during the wait is reported by name and the grid is left
running (exit 11), so the operator can look at it instead of losing the evidence.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from shoal.cli.context import CliContext
from shoal.cli.daemon import (
    NodeFiles,
    Spawned,
    child_exit_status,
    exit_status_text,
    live_pid,
    read_pidfile,
    release,
    spawn_node,
    wait_for_exit,
)
from shoal.cli.descriptors import split_words
from shoal.cli.errors import AlreadyRunningError, ServersFailedError
from shoal.cli.grid import Deadline, Grid, registry_info, relative
from shoal.cli.launch import wait_ready
from shoal.errors import ShoalError, TimedOutError

if TYPE_CHECKING:  # protobuf (~30 ms) loads once the master is spawned: see start_grid
    from shoal.cli.client import AdminClient
    from shoal.cli.quick_start import HeadStart
    from shoal.cli.readiness import Readiness
    from shoal.rpc import admin_pb2, common_pb2

DEFAULT_WAIT_SECONDS = 300.0
#: How long a held master that was called off may take to exit (it does nothing but exit).
_CALL_OFF_SECONDS = 5.0


def _refuse_if_running(grid: Grid) -> None:
    """Refuse when a master runs or a registry answers at the site's address. Nothing
    listening there (the usual case) is told by a plain connect, without loading the client."""
    info = None
    if grid.registry_listens():
        with grid.client() as client:
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


def _call_off(spawned: Spawned) -> None:
    """The descriptor is refused: the held master exits having done nothing; reap it."""
    release(spawned, go=False)
    os.close(spawned.ready_fd)
    if wait_for_exit(spawned.pid, _CALL_OFF_SECONDS):
        child_exit_status(spawned.pid)


def _adopt(grid: Grid, head: HeadStart, foreground: bool) -> Spawned | None:
    """The master the quick path spawned (shoal.cli.quick_start), if it is the one this command
    would spawn, with the start lock taken for it; else it is called off (None)."""
    files = head.files
    same = (
        not foreground
        and Path(head.prefix) == grid.site.prefix
        and Path(files.pidfile) == grid.master.pidfile
        and Path(files.start_lock) == grid.start_lock
        and Path(files.stdout) == grid.master.stdout
        and Path(files.stderr) == grid.master.stderr
    )
    if same:
        head.claimed = True
        return _spawned(head)
    call_off_head_start(head)
    return None


def call_off_head_start(head: HeadStart) -> None:
    """A master the quick path spawned that this command does not adopt: it exits having done
    nothing, and the start lock taken for it goes."""
    head.claimed = True
    _call_off(_spawned(head))
    if read_pidfile(Path(head.files.start_lock)) == os.getpid():
        Path(head.files.start_lock).unlink(missing_ok=True)


def _spawned(head: HeadStart) -> Spawned:
    return Spawned(pid=head.pid, ready_fd=head.ready_fd, hold_fd=head.hold_fd)


def _with_grid_left_running(error: ShoalError, pid: int) -> ShoalError:
    note = f"the grid was left running (master pid {pid}); `shoal admin stop` stops it"
    error.hint = f"{error.hint}; {note}" if error.hint else note
    return error


def _node_word(grid: Grid, node: common_pb2.NodeStatus) -> str:
    """`node1 (up)`, `node1 (down)`, or `node1 (reconnecting)` when its process runs here."""
    if node.up:
        return f"{node.info.name} (up)"
    return (
        f"{node.info.name} ({'reconnecting' if _local_node_pid(grid, node.info.name) else 'down'})"
    )


def _local_node_pid(grid: Grid, name: str) -> int | None:
    """The pid of node `name` if its pidfile on this host names a live process."""
    try:
        return live_pid(NodeFiles.load(grid.site, name).pidfile)
    except ShoalError:
        return None  # no config here: a node of another host


def _application_words(
    applications: list[admin_pb2.ApplicationSummary], deployed: str, recovered: set[str]
) -> list[str]:
    from shoal.cli.readiness import natural_key

    words = []
    for app in sorted(applications, key=lambda a: natural_key(a.name)):
        how = "deployed now" if app.name == deployed else "recovered from the registry database"
        if app.name in recovered and app.name == deployed:
            how = "recovered from the registry database, updated now"
        words.append(f"{app.name} ({how}, revision {app.revision}, {app.server_count} server(s))")
    return words


def _summary(
    grid: Grid,
    client: AdminClient,
    readiness: Readiness,
    pid: int,
    settled: bool,
    deployed: str,
    recovered: set[str],
) -> None:
    """Every server the registry knows, of every application, not only the one just deployed."""
    from shoal.cli.readiness import natural_key

    failed = readiness.failures(settled)
    active, waiting = readiness.active, [s for s in readiness.waiting if s.server_id not in failed]
    lines = [f"grid started: registry at {grid.target.address}, master node pid {pid}"]
    nodes = client.run(client.api.node_list())
    applications = client.run(client.api.application_list())
    servers = client.run(client.api.server_list())
    node_words = [
        _node_word(grid, n) for n in sorted(nodes, key=lambda n: natural_key(n.info.name))
    ]
    lines.append(f"  nodes:    {', '.join(node_words) or 'none'}")
    app_words = _application_words(applications, deployed, recovered)
    lines.append(f"  apps:     {'; '.join(app_words) or 'none'}")
    pending = sum(len(ids) for ids in readiness.pending_nodes.values())
    others = len(servers) - len(active) - len(failed) - len(waiting) - pending
    lines.append(
        f"  servers:  {len(servers)} in all: {len(active)} active, {len(failed)} failed, "
        f"{len(waiting)} still starting, {pending} waiting for a node, "
        f"{others} not `always' (started on demand or by hand)"
    )
    for server_id, reason in failed.items():
        lines.append(f"    FAILED {server_id}: {reason}")
    for node, server_ids in readiness.pending_nodes.items():
        local = _local_node_pid(grid, node)
        what = (
            f"it runs (pid {local}) and is reconnecting to the registry"
            if local
            else f"start it with `shoal node {node} start`"
        )
        lines.append(f"    waiting for node {node} ({', '.join(server_ids)}): {what}")
    lines += [
        f"  logs:     {relative(grid.site, grid.site.log_dir)}/ "
        "(master.out, master.err, SERVER.out, SERVER.err)",
        "  look:     shoal admin status | shoal admin diagnostics | shoal admin ice",
        "  stop:     shoal admin stop",
    ]
    click.echo("\n".join(lines))


def start_grid(
    context: CliContext, words: tuple[str, ...], wait: float | None, foreground: bool
) -> int:
    """Start the grid; return the exit code (0, or the foreground master's own)."""
    head, context.head_start = context.head_start, None
    try:
        grid = Grid.load(context)
    except BaseException:
        if head is not None:
            call_off_head_start(head)
        raise
    site = grid.site
    # The master the quick path spawned, with the start lock taken and the checks below made.
    adopted = _adopt(grid, head, foreground) if head is not None else None
    # The client is made once the master is on its way, and closed when all is done.
    with contextlib.ExitStack() as closing:
        # The lock tells `waitup` and `stop` that a grid is coming up; held until deployed.
        with grid.starting(taken=adopted is not None):
            if adopted is None:
                _refuse_if_running(grid)
            deadline = Deadline(wait)
            # The master loads its code while this process checks the descriptor and loads
            # the client, all at once; held, it starts nothing before the descriptor is valid.
            spawned = adopted or spawn_node(site, grid.master, detached=not foreground, hold=True)
            try:
                # What builds and watches the deploy (protobuf, ~30 ms) loads as the master
                # starts; a failure here calls the held master off like a refused descriptor.
                from shoal.cli.deploy import build_request, print_deploy_reply
                from shoal.cli.progress import ProgressDisplay
                from shoal.cli.readiness import Readiness, watch_until_ready

                request, application = build_request(
                    split_words(words, lambda: site.default_descriptor), site
                )
            except BaseException:
                _call_off(spawned)
                raise
            release(spawned, go=True)
            try:
                client = closing.enter_context(grid.client())
            except BaseException as error:  # Ctrl-C while the client loads: the master runs on
                os.close(spawned.ready_fd)
                if isinstance(error, ShoalError):
                    raise _with_grid_left_running(error, spawned.pid) from error
                raise
            launched = wait_ready(
                site, grid.master, spawned, deadline.left(), detached=not foreground
            )
            if not launched.ready:
                raise TimedOutError(
                    f"the master node (pid {launched.pid}) did not report ready within {wait:g} s",
                    f"it is still running: see {relative(site, grid.master.stderr)}; "
                    "`shoal admin stop` stops it",
                )
            try:
                # What the registry has before this deploy came from its database.
                recovered = {a.name for a in client.run(client.api.application_list())}
                print_deploy_reply(client.run(client.api.deploy(request)))
            except ShoalError as error:
                raise _with_grid_left_running(error, launched.pid) from error
        try:
            readiness = Readiness()  # every application's servers, recovered ones too
            with ProgressDisplay() as display:
                settled = client.run(
                    watch_until_ready(
                        client.api, readiness, deadline.left(), display.update, grid.startup_grace()
                    )
                )
            _summary(grid, client, readiness, launched.pid, settled, application.name, recovered)
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
    from shoal.cli.deploy import build_request

    grid = Grid.load(context)
    # Check the descriptor first: a restart with a broken descriptor would leave nothing running.
    build_request(split_words(words, lambda: grid.site.default_descriptor), grid.site)
    from shoal.cli.stop import stop_grid  # loads the client: `start` spawns the master first

    stop_grid(grid, wait)
    start_grid(context, words, wait, foreground=False)
