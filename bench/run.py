"""`make bench [ARGS=--quick]`: Shoal, IceGrid and supervisord, same machine, same run, ratios.

Each run (R of them) starts every peer afresh with N `sleep 1000` servers and measures, in order:
deploy + start, RSS, one crash to restart, the admin CLI round trip, and the daemon's stop. Then
the floors (python alone, with grpc), then one idle window with the three daemons up at once.
Everything is on loopback; every process started is killed by pid at the end, even on failure
or Ctrl-C (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import grpc

from bench import locator, report, scenarios
from bench.peers import Peer, PeerSkipped, server_ids
from bench.peers.icegrid import IceGridPeer
from bench.peers.shoal import ShoalPeer
from bench.peers.supervisord import SupervisordPeer
from bench.procs import all_gone, rss_mib
from bench.report import Results
from bench.timing import POLL_INTERVAL, BenchError

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLI_SAMPLES_PER_RUN = 3
SETTLE_SECONDS = 2.0


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
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where latest.md/json go")
    args = parser.parse_args(argv)
    quick = args.quick
    args.servers = args.servers or (20 if quick else 50)
    args.repeats = args.repeats or (3 if quick else 5)
    args.idle = args.idle or (10.0 if quick else 30.0)
    args.lookups = args.lookups or (2.0 if quick else 5.0)
    args.mode = "quick" if quick else "full"
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_peers(selected: set[str]) -> list[Peer]:
    peers: list[Peer] = []
    if "shoal" in selected:
        peers += [ShoalPeer(), ShoalPeer(grace_ms=0)]
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
            continue
        results.versions[peer.column] = peer.version()
        results.notes.extend(n for n in peer.notes if n not in results.notes)
        ready.append(peer)
    return ready


def one_run(peer: Peer, run: int, results: Results) -> None:
    """Start, measure and stop one peer once; errors are recorded, the peer always cleaned up."""
    column, n = peer.column, results.n
    try:
        results.add("deploy_start", column, peer.start(n))
        daemon_rss = rss_mib(peer.daemon_pid)
        results.add("rss", column, daemon_rss)
        results.add("rss_all", column, daemon_rss + sum(map(rss_mib, peer.helper_pids())))
        # A different server each run: every figure is a "first crash" of that server.
        crash = scenarios.crash_to_restart(peer, server_ids(n)[run % n])
        results.add("crash_pid", column, crash.new_pid)
        results.add("crash_active", column, crash.active)
        if column != report.SHOAL_GRACE0:  # the same CLI: measured once, with the default
            results.add(
                "cli", column, *scenarios.cli_round_trips(peer.list_argv(), CLI_SAMPLES_PER_RUN)
            )
        stop = scenarios.stop(peer)
        results.add("stop_servers", column, stop.servers_gone)
        results.add("stop_all", column, stop.all_gone)
    except (BenchError, RuntimeError, OSError) as exc:
        results.errors.append(f"{column}, run {run + 1}: {exc}")
        log(f"  {column}: ERROR {exc}")
    finally:
        leftovers = peer.cleanup()
        if leftovers:
            results.errors.append(f"{column}, run {run + 1}: killed {len(leftovers)} leftover pids")


def idle_window(peers: list[Peer], results: Results) -> None:
    """All daemons up at once with N servers, idle; CPU of each over one window."""
    started: list[Peer] = []
    try:
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
        # Let them finish in peace (bounded); cleanup kills whatever is left.
        deadline = time.monotonic() + 5
        while not all_gone(pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
    except (BenchError, RuntimeError, OSError) as exc:
        results.errors.append(f"idle window: {exc}")
        log(f"  idle window: ERROR {exc}")
    finally:
        for peer in peers:
            peer.cleanup()


def locator_run(results: Results, seconds: float) -> None:
    """examples/hello on a fresh Shoal grid; FindAdapterById in closed loops, 1 then 4 clients."""
    peer = ShoalPeer()
    try:
        address, adapter_id = peer.start_hello()
        for clients in report.LOCATOR_CLIENTS:
            log(f"locator: {clients} client(s), {seconds:g} s of FindAdapterById({adapter_id})")
            found = locator.find_adapter_lookups(address, adapter_id, clients, seconds)
            results.add(f"locator_rate_{clients}", report.SHOAL, found.per_second)
            results.add(f"locator_p50_{clients}", report.SHOAL, found.p50)
            results.add(f"locator_p99_{clients}", report.SHOAL, found.p99)
    except (BenchError, RuntimeError, OSError, grpc.RpcError) as exc:
        results.errors.append(f"locator: {exc}")
        log(f"  locator: ERROR {exc}")
    finally:
        leftovers = peer.cleanup()
        if leftovers:
            results.errors.append(f"locator: killed {len(leftovers)} leftover pids")


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    results = Results(n=args.servers, repeats=args.repeats, idle_window=args.idle, mode=args.mode)
    results.notes.append(
        f"Locator: examples/hello on a fresh Shoal grid; FindAdapterById of its greeter's"
        f" adapter in closed loops of {args.lookups:g} s (after {locator.WARMUP_LOOKUPS} untimed"
        " lookups per client), 1 client then 4 concurrent clients on one asyncio loop in the"
        " benchmark process, one gRPC channel each; lookups/s over all clients, latency"
        " percentiles of single lookups. IceGrid's locator: not measured yet."
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
            for key, floor_argv in scenarios.FLOORS.items():
                results.add(key, report.SHOAL, *scenarios.cli_round_trips(floor_argv, 1))
        idle_window([p for p in peers if p.column != report.SHOAL_GRACE0], results)
        if any(p.column == report.SHOAL for p in peers):
            locator_run(results, args.lookups)
    except KeyboardInterrupt:
        log("interrupted: stopping everything this benchmark started")
        return 130
    finally:
        for peer in all_peers:
            peer.cleanup()
    print(report.write(results, info, args.out))
    print(f"written: {args.out / 'latest.md'}, {args.out / 'latest.json'}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
