"""Replica groups for real: three greeters (examples/hello), two on the master and one on node1,
whose adapters are members of a round-robin group. Lookups of the group answer every member,
and 30 lookups put each one first 10 times; each member's endpoints answer a call.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from gridsupport import Site, poll_until

from .test_on_demand import find, greet, greeter, ok, state

pytestmark = pytest.mark.slow


def install(site: Site) -> str:
    path = site.prefix / "etc" / "grid" / "greeters.xml"
    servers = {
        "master": greeter("G1", "always", "Greeters") + greeter("G2", "always", "Greeters"),
        "node1": greeter("G3", "always", "Greeters"),
    }
    nodes = "".join(f'<node name="{n}">{s}</node>' for n, s in servers.items())
    path.write_text(
        '<icegrid><application name="Greeters"><replica-group id="Greeters">'
        '<load-balancing type="round-robin"/></replica-group>'
        + nodes.replace("MARK", site.marker)
        + "</application></icegrid>"
    )
    return str(path)


def test_round_robin_group_spreads_lookups_evenly_over_master_and_node1(
    grid_site: Site,
) -> None:
    ok(grid_site.shoal("admin", "start", install(grid_site)))
    ok(grid_site.shoal("node", "node1", "start"))
    for server_id in ("G1", "G2", "G3"):
        poll_until(
            lambda s=server_id: state(grid_site, s).startswith("active") or None,  # type: ignore[misc]
            f"{server_id} active",
        )

    async def lookups() -> tuple[Counter[str], set[str], list[bytes]]:
        first: Counter[str] = Counter()
        seen: set[str] = set()
        endpoints: dict[str, str] = {}
        for _ in range(30):
            reply = await find(grid_site, "Greeters")
            assert reply.endpoints == reply.replicas[0].endpoints
            first[reply.replicas[0].adapter_id] += 1
            seen.update(r.adapter_id for r in reply.replicas)
            endpoints.update((r.adapter_id, r.endpoints) for r in reply.replicas)
        answers = [await greet(e, b"grid") for e in endpoints.values()]
        return first, seen, answers

    first, seen, answers = asyncio.run(lookups())
    assert seen == {"G1.Hello", "G2.Hello", "G3.Hello"}
    assert first == {"G1.Hello": 10, "G2.Hello": 10, "G3.Hello": 10}, first
    assert answers == [b"Hello, grid!"] * 3
    ok(grid_site.shoal("admin", "stop"))
