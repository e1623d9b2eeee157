"""`make bench [ARGS=--quick]`: Shoal, IceGrid and supervisord, same machine, same run, ratios.

Each run (R of them) starts every peer afresh with N `sleep 1000` servers and measures, in order:
deploy + start, RSS, one crash to restart, the admin CLI round trip, and the daemon's stop; then
starts it again for the admin state calls per second and the undeploy of the N. Then the floors
(python alone, with grpc, with asyncio and protobuf, with Shoal's CLI modules), then one idle
window with the three daemons up at once, the locator, R deploys + starts of N Python servers
with one adapter each (Shoal, IceGrid), and (full mode or --scale) 1000 servers deployed and
restarted once. Everything is on loopback; every process started is killed by pid
at the end, even on failure or Ctrl-C (SIGINT/SIGTERM).

Exit status: 0 once the table is printed, missed targets included (a finding, not a failure);
1 when a measurement failed; 3 with --strict when a target was missed; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

from bench import locator, report, scenarios
from bench.peers import APPLICATION, Peer, PeerSkipped, server_ids
from bench.peers.icegrid import IceGridPeer
from bench.peers.shoal import ShoalPeer
from bench.peers.supervisord import SupervisordPeer
from bench.procs import all_gone, rss_mib
from bench.report import Results
from bench.timing import POLL_INTERVAL, WARMUP_CALLS, BenchError
from shoal.errors import ShoalError

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SOURCES = report.REPO / "src"
CLI_SAMPLES_PER_RUN = 3
SETTLE_SECONDS = 2.0
EXIT_MISSED_STRICT = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=20, 3 runs, 10 s idle window")
    parser.add_argument("-n", "--servers", type=int, help="servers per daemon (default 50)")
    parser.add_argument("-r", "--repeats", type=int, help="runs per figure (default 5)")
    parser.add_argument("--idle", type=float, help="idle CPU window in seconds (default 30)")
    parser.add_argument(
        "--peers",
        default="shoal,icegrid,supervisord",
        help="comma-separated subset of shoal,icegrid,supervisord",
    )
    parser.add_argument(
        "--lookups", type=float, help="seconds of each locator lookup loop (default 5)"
    )
    parser.add_argument(
        "--calls", type=float, help="seconds of each admin state-call loop (default 3; quick 1)"
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=report.SCALE_SERVERS,
        metavar="N",
        help=f"deploy and restart N servers once (default {report.SCALE_SERVERS}; "
        "always in full mode, skipped in --quick unless given)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where latest.md/json go")
    args = parser.parse_args(argv)
    quick = args.quick
    args.servers = args.servers or (20 if quick else 50)
    args.repeats = args.repeats or (3 if quick else 5)
    args.idle = args.idle or (10.0 if quick else 30.0)
    args.lookups = args.lookups or (2.0 if quick else 5.0)
    args.calls = args.calls or (1.0 if quick else 3.0)
    if args.scale is None and not quick:
        args.scale = report.SCALE_SERVERS
    args.mode = "quick" if quick else "full"
    return args


def compile_sources() -> str:
    """Byte-compile Shoal's src/ (as `make bench` does first): with PYTHONDONTWRITEBYTECODE=1, as
    here, every CLI and daemon start would compile Shoal from source, while pip-installed peers
    load .pyc files; the same for the methods of Shoal's dataclasses (shoal.classcache, which
    a process writes itself where Python writes bytecode). A no-op when done already."""
    compileall.compile_dir(SOURCES, quiet=1)
    subprocess.run([sys.executable, "-m", "shoal.classcache"], check=True)
    return (
        "Byte code: src/ is byte-compiled (compileall, and `python -m shoal.classcache` for "
        "the methods of Shoal's dataclasses) before measuring, so Shoal's CLI and daemons load "
        "compiled code as pip-installed supervisord does; a module someone edits during the "
        "run is compiled from source again."
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_peers(selected: set[str]) -> list[Peer]:
    peers: list[Peer] = []
    if "shoal" in selected:
        peers.append(ShoalPeer())
    if "icegrid" in selected:
        peers.append(IceGridPeer())
    if "supervisord" in selected:
        peers.append(SupervisordPeer())
    return peers


def install(peers: list[Peer], results: Results) -> list[Peer]:
    ready = []
    for peer in peers:
        try:
            peer.install()
        except PeerSkipped as exc:
            results.skipped[peer.column] = str(exc)
            log(f"{peer.column}: skipped: {exc}")
            if peer.column.startswith(report.SHOAL):  # no Shoal, no comparison: a failure
                results.errors.append(f"{peer.column}: skipped: {exc}")
            continue
        results.versions[peer.column] = peer.version()
        results.notes.extend(n for n in peer.notes if n not in results.notes)
        ready.append(peer)
    return ready


def one_run(peer: Peer, run: int, results: Results) -> None:
    """Start, measure and stop one peer once; errors are recorded, the peer always cleaned up."""
    column, n = peer.column, results.n
    with _measuring(peer, results, f"{column}, run {run + 1}"):
        results.add("deploy_start", column, peer.start(n))
        if isinstance(peer, ShoalPeer) and peer.returned_seconds is not None:
            results.add("deploy_start_returned", column, peer.returned_seconds)
        daemon_rss = rss_mib(peer.daemon_pid)
        results.add("rss", column, daemon_rss)
        results.add("rss_all", column, daemon_rss + sum(map(rss_mib, peer.helper_pids())))
        results.add("rss_anon", column, rss_mib(peer.daemon_pid, "RssAnon"))
        # A different server each run: every figure is a "first crash" of that server.
        crash = scenarios.crash_to_restart(peer, server_ids(n)[run % n])
        results.add("crash_pid", column, crash.new_pid)
        results.add("crash_active", column, crash.active)
        results.add(
            "cli", column, *scenarios.cli_round_trips(peer.list_argv(), CLI_SAMPLES_PER_RUN)
        )
        stop = scenarios.stop(peer)
        results.add("stop_servers", column, stop.servers_gone)
        results.add("stop_all", column, stop.all_gone)


def state_calls_and_undeploy(peer: Peer, run: int, results: Results, seconds: float) -> None:
    """A second daemon with N servers: admin state calls per second, then undeploy the N."""
    column, n = peer.column, results.n
    with _measuring(peer, results, f"{column}, run {run + 1}, state calls/undeploy"):
        peer.start(n)
        try:
            rate = scenarios.state_calls_per_second(peer, server_ids(n)[0], seconds)
        except PeerSkipped as exc:
            results.not_measured["state_calls", column] = f"skipped: {exc}"
        else:
            results.add("state_calls", column, rate)
        undeploy = scenarios.undeploy(peer)
        results.add("undeploy_servers", column, undeploy.servers_gone)
        results.add("undeploy_all", column, undeploy.all_gone)
        _stop_and_wait(peer)


#: What a failing measurement raises: recorded under its label, and the run goes on. Shoal's
#: calls (BlockingChannel, shoal.client) fail with ShoalError subclasses.
_FAILURES = (
    BenchError,
    RuntimeError,
    OSError,
    ValueError,
    ShoalError,
    subprocess.TimeoutExpired,
)


@contextlib.contextmanager
def _measuring(peer: Peer | None, results: Results, label: str) -> Iterator[None]:
    """Record a failure of the block under `label` (one line; the run goes on), then clean
    `peer` up, recording the leftover processes that had to be killed."""
    try:
        yield
    except _FAILURES as exc:
        results.errors.append(f"{label}: {exc}")
        log(f"  {label}: ERROR {exc}")
    finally:
        leftovers = peer.cleanup() if peer is not None else []
        if leftovers:
            results.errors.append(f"{label}: killed {len(leftovers)} leftover pids")


def _stop_and_wait(peer: Peer, timeout: float = 30.0) -> None:
    """The daemon's own stop, untimed; bounded wait until it and its helpers are gone."""
    daemons = [peer.daemon_pid, *peer.helper_pids()]
    peer.request_stop()
    _wait_gone(daemons, timeout)


def _wait_gone(pids: Iterable[int], timeout: float) -> None:
    """Bounded polling until every pid has exited (no event tells of another's child)."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while not all_gone(pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def scale_run(peers: list[Peer], results: Results) -> None:
    """Once per peer: deploy + start `results.scale` servers, then restart all of them."""
    for peer in peers:
        column = peer.column
        n = min(results.scale, peer.max_servers or results.scale)
        if n != results.scale:
            for key in ("scale_deploy", "scale_restart"):
                results.cell_notes[key, column] = f"{n} servers"
        timeout = 120 + 0.2 * n
        log(f"scale: {column}, {n} servers")
        with _measuring(peer, results, f"scale, {column}"):
            results.add("scale_deploy", column, peer.start(n))
            results.add("scale_restart", column, scenarios.restart_all(peer, timeout))
            _stop_and_wait(peer, timeout)


def adapters_run(peers: list[Peer], results: Results) -> None:
    """Deploy + start of N Python servers with one adapter each (greeters), `repeats` times per
    peer; a peer without adapters, or whose greeter cannot run, says so once."""
    skipped = {peer.column for peer in peers if not peer.has_adapters}
    for column in skipped:
        results.not_measured["deploy_adapters", column] = "n/a (no adapters)"
    for run in range(results.repeats):
        for peer in peers:
            if peer.column in skipped:
                continue
            label = f"adapters, {peer.column}, run {run + 1}"
            with _measuring(peer, results, label):
                try:
                    seconds = peer.start_adapters(results.n)
                except PeerSkipped as exc:
                    results.not_measured["deploy_adapters", peer.column] = f"skipped: {exc}"
                    skipped.add(peer.column)
                    continue
                log(f"{label}: {results.n} greeters Active after {seconds * 1000:.0f} ms")
                results.add("deploy_adapters", peer.column, seconds)
                _stop_and_wait(peer)


def idle_window(peers: list[Peer], results: Results) -> None:
    """All daemons up at once with N servers, idle; CPU of each over one window."""
    started: list[Peer] = []
    try:
        with _measuring(None, results, "idle window"):
            _idle(peers, started, results)
    finally:
        for peer in peers:
            peer.cleanup()


def _idle(peers: list[Peer], started: list[Peer], results: Results) -> None:
    for peer in peers:
        peer.start(results.n)
        started.append(peer)
    time.sleep(SETTLE_SECONDS)
    pids = {peer.column: peer.daemon_pid for peer in started}
    log(f"idle window: {results.idle_window:g} s with {', '.join(pids)} up")
    for column, percent in scenarios.idle_cpu_percent(pids, results.idle_window).items():
        results.add("idle_cpu", column, percent)
    for peer in started:
        peer.request_stop()
    _wait_gone(pids.values(), 5)  # let them finish in peace; cleanup kills what is left


def locator_run(results: Results, seconds: float, icegrid: IceGridPeer | None) -> None:
    """Lookups in closed loops (1, then 4 clients) and first calls to on-demand servers (one
    per run): Shoal running examples/hello, then IceGrid running a Python Ice greeter."""
    on_demand = locator.on_demand_ids(results.repeats)
    for key in report.LOCATOR_KEYS:
        results.not_measured[key, report.SUPERVISORD] = "n/a (no locator)"
    shoal = ShoalPeer()

    def measure_shoal() -> None:
        address, adapter_id = shoal.start_hello()
        locator.deploy_shoal_on_demand(shoal, on_demand)
        for clients in report.LOCATOR_CLIENTS:
            log(f"locator: Shoal, {clients} client(s), {seconds:g} s of lookups")
            found = locator.shoal_lookups(address, adapter_id, clients, seconds)
            _add_lookups(results, report.SHOAL, found)
        with locator.floor_server() as floor:
            log(f"locator: floor (bare wire-protocol Locator), 1 client, {seconds:g} s of lookups")
            found = locator.shoal_lookups(floor, locator.HELLO_ADAPTER, 1, seconds, registry=False)
            results.add("locator_floor_1", report.SHOAL, found.per_second)
        for server_id in on_demand:
            first = locator.shoal_first_call(address, server_id)
            results.add("locator_first_call", report.SHOAL, first)

    _locator_on(shoal, measure_shoal, results)
    if icegrid is None:
        return

    def measure_icegrid() -> None:
        config = icegrid.start_hello(on_demand)
        for clients in report.LOCATOR_CLIENTS:
            log(f"locator: IceGrid, {clients} client(s), {seconds:g} s of lookups")
            found = locator.icegrid_lookups(config, locator.HELLO_ADAPTER, clients, seconds)
            _add_lookups(results, report.ICEGRID, found)
        for server_id in on_demand:
            first = locator.icegrid_first_call(config, server_id)
            results.add("locator_first_call", report.ICEGRID, first)

    _locator_on(icegrid, measure_icegrid, results)


def _add_lookups(results: Results, column: str, found: locator.LookupFigures) -> None:
    results.add(f"locator_rate_{found.clients}", column, found.per_second)
    results.add(f"locator_p50_{found.clients}", column, found.p50)
    results.add(f"locator_p99_{found.clients}", column, found.p99)


def _locator_on(peer: Peer, measure: Callable[[], None], results: Results) -> None:
    """Run one peer's locator measurements; record what fails; stop it and clean up."""
    with _measuring(peer, results, f"locator, {peer.column}"):
        try:
            measure()
            _stop_and_wait(peer)
        except PeerSkipped as exc:
            for key in report.LOCATOR_KEYS:
                results.not_measured[key, peer.column] = f"skipped: {exc}"


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    results = Results(
        n=args.servers,
        repeats=args.repeats,
        idle_window=args.idle,
        mode=args.mode,
        scale=args.scale or report.SCALE_SERVERS,
    )
    results.notes.append(compile_sources())
    results.notes.extend(_scenario_notes(args))
    results.notes.append(
        f"Locator: FindAdapterById of a greeter's adapter (Shoal: examples/hello on a fresh grid;"
        " IceGrid: a Python Ice greeter, bench/peers/icegrid_locator.py) in closed loops of"
        f" {args.lookups:g} s after {locator.WARMUP_LOOKUPS} untimed lookups per client, 1 client"
        " then 4 concurrent ones, each a thread with its own connection in one client process:"
        " Shoal a BlockingChannel (Shoal's wire protocol) in the benchmark process, IceGrid its"
        " Locator proxy through python3-zeroc-ice under Debian's /usr/bin/python3; lookups/s"
        " over all clients, latency percentiles of single lookups. First call: a fresh client's"
        " first call on an adapter of an `on-demand` server not running (a different one each"
        " sample) until its reply: Shoal shoal.client's SyncClient.call of the greeter's Greet,"
        " IceGrid ice_ping on its greeter, both greeters Python programs. Floor: the same"
        " 1-client loop against a bare wire-protocol Locator (shoal.rpc.wire's WireServer"
        " answering a constant, no registry code) in a process of its own."
    )
    results.notes.append(
        f"Polling: every {POLL_INTERVAL * 1000:g} ms, bounded; the idle window runs the three "
        f"daemons at once after {SETTLE_SECONDS:g} s of settling; CPU from /proc/PID/stat."
    )
    info = report.machine()
    all_peers = make_peers(set(args.peers.split(",")))
    try:
        peers = install(all_peers, results)
        for run in range(args.repeats):
            for peer in peers:
                log(f"run {run + 1}/{args.repeats}: {peer.column}, {args.servers} servers")
                one_run(peer, run, results)
                state_calls_and_undeploy(peer, run, results, args.calls)
            for key, floor_argv in scenarios.FLOORS.items():
                results.add(key, report.SHOAL, *scenarios.cli_round_trips(floor_argv, 1))
        idle_window(peers, results)
        if any(p.column == report.SHOAL for p in peers):
            icegrid = next((p for p in peers if isinstance(p, IceGridPeer)), None)
            locator_run(results, args.lookups, icegrid)
        adapters_run(peers, results)
        if args.scale:
            scale_run(peers, results)
        else:
            for peer in peers:
                for key in ("scale_deploy", "scale_restart"):
                    results.not_measured[key, peer.column] = "skipped in --quick (--scale runs it)"
    except KeyboardInterrupt:
        log("interrupted: stopping everything this benchmark started")
        return 130
    finally:
        for peer in all_peers:
            peer.cleanup()
    print(report.write(results, info, args.out))
    print(f"written: {args.out / 'latest.md'}, {args.out / 'latest.json'}")
    if results.errors:
        log(f"{len(results.errors)} measurement(s) failed: see the Errors section of latest.md")
        return 1
    missed = report.missed_targets(results)
    if missed and args.strict:
        log(f"--strict: {len(missed)} target(s) missed")
        return EXIT_MISSED_STRICT
    return 0


def _scenario_notes(args: argparse.Namespace) -> list[str]:
    """How the state-call, undeploy, scale and jobs figures were taken (latest.md)."""
    scale = (
        f"Scale: one run each with {args.scale} servers (IceGrid: at most "
        f"{IceGridPeer.max_servers}, its node aborts near 1000: select() and FD_SETSIZE); "
        "Shoal with the default startup grace. Restart all: Shoal `SITE/bin/shoal admin "
        "restart FILE` (the whole grid: servers, node and registry; it returns once all are "
        "Active), supervisord `supervisorctl restart all` (stop all, then start all), IceGrid "
        "`node shutdown` and icegridnode started again (it has no restart-all; the registry "
        "reloads the application and the node activates its `always` servers), each timed until "
        "the command returned and every server is reported up with a new pid."
        if args.scale
        else "Scale (1000 servers deployed, then all restarted): not run in --quick; "
        "`--scale [N]` runs it."
    )
    return [
        f"Admin state calls: the state of one server asked in a closed loop (the next call as "
        f"soon as the answer is in) for {args.calls:g} s after "
        f"{WARMUP_CALLS} untimed calls, one client, on a second daemon of each run: Shoal "
        "Admin.ServerState through a BlockingChannel (Shoal's wire protocol) in the benchmark "
        "process, supervisord XML-RPC getProcessInfo through xmlrpc.client in the benchmark "
        "process, IceGrid Admin.getServerState through python3-zeroc-ice (an admin session) in "
        "a driver run by Debian's /usr/bin/python3 (bench/peers/icegrid_state_calls.py).",
        "Undeploy: on the same second daemon, from the command until every server process is "
        f"gone: Shoal `SITE/bin/shoal admin ice application remove {APPLICATION}` (whole "
        f'process), IceGrid `icegridadmin -e "application remove {APPLICATION}"`, supervisord '
        "`supervisorctl stop all` then `supervisorctl remove` of every program (its fastest "
        "natural way: `update` after deleting the programs from the file stops one group at a "
        "time, 48 s for 50 in the reference figures). The second row also waits for the "
        "command(s) to return.",
        "Adapters: deploy + start of N Python servers with one adapter each (`Hello`, tcp on "
        "127.0.0.1, a port the system picks), until the manager reports all Active (their "
        "adapters registered), on a fresh daemon per run: Shoal N copies of "
        "examples/hello/server.py (shoal.server) by `SITE/bin/shoal admin start FILE`, IceGrid "
        "N Python Ice greeters (bench/peers/icegrid_locator.py serve, Debian's /usr/bin/python3) "
        "by `application add`, each polled as deploy + start is; supervisord has no adapters.",
        scale,
        "Jobs: not measured: Shoal's processors take no jobs yet (src/shoal/jobs/processor.py "
        "is a placeholder); IceGrid and supervisord have no job service.",
    ]


if __name__ == "__main__":
    sys.exit(main())
