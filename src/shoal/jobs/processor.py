"""A processor server (`python -m shoal.jobs.processor`, started by ProcessorTemplate).

For now it only takes its place in the grid: it binds ProcessorAdapter, registers it with its
node (so `admin diagnostics` lists it Active and the locator finds `Processor-N`), and waits
for SIGTERM. Running script jobs arrives with the job service; until then it answers nothing
but says so in its log.
"""

from __future__ import annotations

import asyncio
import logging

from shoal.server import Server

ADAPTER = "ProcessorAdapter"

_log = logging.getLogger("shoal.jobs.processor")


async def serve() -> None:
    server = Server.from_environment()
    server.adapter(ADAPTER)  # no servicer yet: the job service is not written
    _log.info(
        "processor %s ready on %s; it takes no jobs until the job service exists",
        server.server_id or "(outside the grid)",
        ADAPTER,
    )
    await server.run()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve())


if __name__ == "__main__":
    main()
