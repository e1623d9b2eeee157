"""IceGrid's admin state calls per second: Admin.getServerState in a closed loop, one client.

Run by bench/peers/icegrid.py with Debian's /usr/bin/python3 (python3-zeroc-ice lives there, not
in Shoal's venv), so it imports nothing from bench/: its loop repeats timing.closed_loop.

    /usr/bin/python3 icegrid_state_calls.py CLIENT_CFG INSTANCE SERVER_ID SECONDS WARMUP

prints one number: calls per second.
"""

import sys
import time

import Ice  # type: ignore[import-not-found]  # Debian python3-zeroc-ice
import IceGrid  # type: ignore[import-not-found]


def main(argv: list[str]) -> int:
    config, instance, server_id, seconds, warmup = argv
    with Ice.initialize([f"--Ice.Config={config}"]) as communicator:
        registry = IceGrid.RegistryPrx.checkedCast(
            communicator.stringToProxy(f"{instance}/Registry")
        )
        if registry is None:
            print(f"no IceGrid registry behind {instance}/Registry", file=sys.stderr)
            return 1
        session = registry.createAdminSession("bench", "bench")
        try:
            admin = session.getAdmin()
            for _ in range(int(warmup)):
                admin.getServerState(server_id)
            calls = 0
            start = time.perf_counter()
            end = start + float(seconds)
            while True:
                admin.getServerState(server_id)
                calls += 1
                now = time.perf_counter()
                if now >= end:
                    break
        finally:
            session.destroy()
    print(calls / (now - start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
