"""A minimal node for the parent-death tests: spawns servers through the Activator and a Watchdog.

    python fake_node.py [--grpc] [--count N] [--grace S] [--no-watchdog]
                        RECORD_DIR OUTPUT_FILE [MISBEHAVE OPTIONS]...

Starts its watchdog (grace S seconds), then, with --grpc, a grpc.aio server (gRPC's threads
running while servers are spawned: what used to crash children forked with a pre-exec callback).
Then starts N (default 1) misbehave.py servers with the options given, recorded under
RECORD_DIR, their output going to OUTPUT_FILE. Prints one line:

    watchdog=PID servers=PID,PID,...

then one `exit PID RETURNCODE` line as each server is reaped; once all are, it closes its
watchdog cleanly and exits 0. The tests usually SIGKILL it before that.
"""

import argparse
import asyncio
import os
import sys

from shoal.node.activator import Activator, SpawnSpec, clean_base_env
from shoal.node.pidrecord import PidRecord
from shoal.node.watchdog import Watchdog

MISBEHAVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "misbehave.py")


async def main(arguments: argparse.Namespace, options: list[str]) -> None:
    watchdog = Watchdog(grace=arguments.grace)
    watchdog.start()  # before gRPC and before any server, as the node daemon does
    server = None
    if arguments.grpc:
        import grpc.aio

        server = grpc.aio.server()
        server.add_insecure_port("127.0.0.1:0")
        await server.start()
    activator = Activator(
        record=PidRecord(arguments.record_dir),
        watchdog=None if arguments.no_watchdog else watchdog,
    )
    spec = SpawnSpec(
        server_id="Sleeper",
        argv=(sys.executable, "-S", MISBEHAVE, *options),
        env=clean_base_env(),
        cwd=os.path.dirname(arguments.output),
        stdout_path=arguments.output,
        stderr_path=arguments.output,
    )
    processes = [await activator.spawn(spec) for _ in range(arguments.count)]
    pids = ",".join(str(process.pid) for process in processes)
    print(f"watchdog={watchdog.pid} servers={pids}", flush=True)
    for process in processes:
        ended = await process.wait()
        print(f"exit {ended.pid} {ended.returncode}", flush=True)
    if server is not None:
        await server.stop(None)
    activator.close()
    watchdog.close()


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The fake node's options and positionals; everything after them goes to misbehave.py."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", action="store_true")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--no-watchdog", action="store_true")
    parser.add_argument("record_dir")
    parser.add_argument("output")
    # The two positionals end the fake node's part (misbehave's options look like ours).
    index, seen = 0, 0
    while index < len(argv) and seen < 2:
        if not argv[index].startswith("--"):
            seen += 1
        elif argv[index] in ("--count", "--grace"):
            index += 1
        index += 1
    return parser.parse_args(argv[:index]), argv[index:]


if __name__ == "__main__":
    asyncio.run(main(*parse(sys.argv[1:])))
