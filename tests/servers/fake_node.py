"""A minimal node for the parent-death tests: spawns one server through the Activator.

    python fake_node.py RECORD_DIR OUTPUT_FILE [MISBEHAVE OPTIONS]...

Starts misbehave.py with the options given, recording it under RECORD_DIR, its output going to
OUTPUT_FILE; prints the server's pid on a line, then waits for it (or to be killed).
"""

import asyncio
import os
import sys

from shoal.node.activator import Activator, SpawnSpec, clean_base_env
from shoal.node.pidrecord import PidRecord

MISBEHAVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "misbehave.py")


async def main(record_dir: str, output: str, options: list[str]) -> None:
    activator = Activator(record=PidRecord(record_dir))
    spec = SpawnSpec(
        server_id="Sleeper",
        argv=(sys.executable, "-S", MISBEHAVE, *options),
        env=clean_base_env(),
        cwd=os.path.dirname(output),
        stdout_path=output,
        stderr_path=output,
    )
    process = await activator.spawn(spec)
    print(process.pid, flush=True)
    await process.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
