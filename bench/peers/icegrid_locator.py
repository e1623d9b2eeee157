"""IceGrid's side of the locator scenario, run with Debian's /usr/bin/python3 (python3-zeroc-ice
lives there, not in Shoal's venv), so it imports nothing from bench/: its loop repeats
bench/locator.py's `closed_loops` (keep the two alike).

    icegrid_locator.py serve --Ice.Config=...
        the greeter IceGrid's node starts: adapter `Hello` holding the object `greeter`
    icegrid_locator.py lookups CLIENT_CFG ADAPTER_ID CLIENTS SECONDS WARMUP
        Locator.findAdapterById(ADAPTER_ID) in closed loops, one thread and one communicator
        per client; prints {"lookups", "seconds", "p50", "p99"} as JSON
    icegrid_locator.py first-call CLIENT_CFG PROXY
        seconds from a fresh communicator's first call on PROXY (ice_ping) until its reply
"""

import json
import sys
import threading
import time

import Ice  # type: ignore[import-not-found]  # Debian python3-zeroc-ice

clock = time.perf_counter


def serve(argv: list[str]) -> int:
    with Ice.initialize(argv) as communicator:
        adapter = communicator.createObjectAdapter("Hello")
        adapter.add(Ice.Object(), Ice.stringToIdentity("greeter"))  # answers ice_ping
        adapter.activate()
        communicator.waitForShutdown()
    return 0


def percentile(sorted_values: list[float], fraction: float) -> float:
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def lookups(config: str, adapter_id: str, clients: int, seconds: float, warmup: int) -> int:
    start_line = threading.Barrier(clients + 1, timeout=60)
    window: list[float] = []  # [start, end], set between the two waits at the start line
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(mine: list[float]) -> None:
        try:
            with Ice.initialize([f"--Ice.Config={config}"]) as communicator:
                locator = communicator.getDefaultLocator()
                for _ in range(warmup):
                    locator.findAdapterById(adapter_id)
                start_line.wait()
                start_line.wait()
                end = window[1]
                while True:
                    began = clock()
                    if began >= end:
                        return
                    if locator.findAdapterById(adapter_id) is None:
                        raise RuntimeError(f"findAdapterById({adapter_id}) answered no proxy")
                    mine.append(clock() - began)
        except BaseException as exc:
            errors.append(exc)
            start_line.abort()

    threads = [threading.Thread(target=client, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    start = clock()
    try:
        start_line.wait()
        start = clock()
        window[:] = [start, start + seconds]
        start_line.wait()
    except threading.BrokenBarrierError:
        pass  # a client failed: its error is reported below
    for thread in threads:
        thread.join()
    elapsed = clock() - start
    if errors:
        real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        print(f"lookups failed: {(real or errors)[0]!r}", file=sys.stderr)
        return 1
    ordered = sorted(x for mine in latencies for x in mine)
    figures = {
        "lookups": len(ordered),
        "seconds": elapsed,
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
    }
    print(json.dumps(figures))
    return 0


def first_call(config: str, proxy: str) -> int:
    with Ice.initialize([f"--Ice.Config={config}"]) as communicator:
        target = communicator.stringToProxy(proxy)
        start = clock()
        target.ice_ping()
        print(clock() - start)
    return 0


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "serve":
        return serve(argv)
    if command == "lookups":
        config, adapter_id, clients, seconds, warmup = args
        return lookups(config, adapter_id, int(clients), float(seconds), int(warmup))
    if command == "first-call":
        return first_call(*args)
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
