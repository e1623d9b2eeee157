"""Ask the greeter of docs/first-server.md: `shoal.client` finds the well-known object
`hello/greeter` through the locator at Ice.Default.Locator, then calls it.

    python client.py --Ice.Config=$SHOAL_HOME/etc/internal.cfg [NAME]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from shoal.client import Client
from shoal.config.properties import parse_command_line
from shoal.errors import ShoalError

GREETER = "hello/greeter"  # or by adapter id: "greeter@HelloServer.Hello"


async def main(argv: Sequence[str]) -> int:
    properties, words = parse_command_line(argv, config_variable="SHOAL_CONFIG")
    if properties.get_proxy("Ice.Default.Locator") is None:
        print("set Ice.Default.Locator (e.g. --Ice.Config=etc/internal.cfg)", file=sys.stderr)
        return 2
    name = words[0] if words else "world"
    try:
        async with Client(properties) as client:
            answer = await client.call(
                GREETER, "/hello.Greeter/Greet", name.encode(), idempotent=True
            )
        print(answer.decode())
    except ShoalError as error:
        print(
            f"error: {error.message}" + (f" ({error.hint})" if error.hint else ""), file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
