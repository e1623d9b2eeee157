"""The location issue's "Done when", end to end with real daemons and examples/hello servers.

- hello deployed `on-demand` is not running after deploy; the first `shoal.client` call starts
  it and gets its answer; `adapter list` then shows its real endpoints, whose port listens.
- a replica group of three greeters on two nodes (G1, G2 on master; G3 on node1), looked up
  through Locator.FindAdapterById (the first member returned is the one a client uses):
  round-robin gives each member 100 ± 1 of 300 lookups; ordered always picks the live member
  of best priority (lowest number), and the next one once that member is disabled and stopped;
  random uses every member; adaptive prefers the node whose load × load-factor is lower (both
  nodes run on this host, so the same load average is made heavier on master by its
  load-factor).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections import Counter
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.client import SyncClient

from .test_on_demand import find, greet, ok, state

pytestmark = pytest.mark.slow

HELLO = Path(__file__).parents[3] / "examples" / "hello"
GREET = "/hello.Greeter/Greet"
LOOKUPS = 300


def listens(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------- on-demand activation


def test_on_demand_hello_starts_on_the_first_client_call(grid_site: Site) -> None:
    text = (HELLO / "hello.xml").read_text()
    assert 'activation="always"' in text
    text = text.replace('activation="always"', 'activation="on-demand"').replace(
        "<option>${HELLO_DIR}/server.py</option>",
        f"<option>${{HELLO_DIR}}/server.py</option><option>{grid_site.marker}</option>",
    )
    descriptor = grid_site.prefix / "etc" / "grid" / "hello.xml"
    descriptor.write_text(text)
    ok(grid_site.shoal("admin", "start", str(descriptor), f"HELLO_DIR={HELLO}"))

    # Deployed, not running: inactive, no pid, no registered endpoints.
    assert state(grid_site, "HelloServer") == "inactive (enabled)"
    pid = grid_site.shoal("admin", "ice", "server", "pid", "HelloServer").stdout.strip()
    assert not pid.isdigit(), pid
    listed = ok(grid_site.shoal("admin", "ice", "adapter", "list"))
    assert not re.search(r"HelloServer\.Hello\s+HelloServer\s+tcp", listed), listed

    with SyncClient.from_config(grid_site.prefix / "etc" / "internal.cfg") as client:
        assert client.call("hello/greeter", GREET, b"Shoal") == b"Hello, Shoal!"
        assert client.call("Hello@HelloServer.Hello", GREET, b"again") == b"Hello, again!"

    assert state(grid_site, "HelloServer").startswith("active (pid = ")
    listed = ok(grid_site.shoal("admin", "ice", "adapter", "list"))
    found = re.search(r"HelloServer\.Hello\s+HelloServer\s+tcp -h 127\.0\.0\.1 -p (\d+)", listed)
    assert found, listed
    assert listens(int(found.group(1)))
    ok(grid_site.shoal("admin", "stop"))


# ---------------------------------------------------------------------- replica groups

MEMBERS = ("G1.Hello", "G2.Hello", "G3.Hello")


def member(server_id: str, priority: int) -> str:
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" activation="always">'
        f"<option>{HELLO}/server.py</option><option>MARK</option>"
        f'<adapter name="Hello" endpoints="tcp -h 127.0.0.1" replica-group="Greeters"'
        f' priority="{priority}"/></server>'
    )


def deploy_group(
    site: Site, policy: str, *, master_factor: str = "", node1_factor: str = ""
) -> None:
    """Three greeters in group Greeters (G1, G2 on master, G3 on node1), all active.

    Priorities (for `ordered`, lower first): G3 1, G1 2, G2 3."""
    servers = {
        "master": (member("G1", 2) + member("G2", 3), master_factor),
        "node1": (member("G3", 1), node1_factor),
    }
    nodes = "".join(
        f'<node name="{name}"{f" load-factor={factor!r}" if factor else ""}>{text}</node>'
        for name, (text, factor) in servers.items()
    )
    path = site.prefix / "etc" / "grid" / "greeters.xml"
    path.write_text(
        '<icegrid><application name="Greeters"><replica-group id="Greeters">'
        f'<load-balancing type="{policy}"/></replica-group>'
        + nodes.replace("MARK", site.marker)
        + "</application></icegrid>"
    )
    ok(site.shoal("admin", "start", str(path)))
    ok(site.shoal("node", "node1", "start"))
    for server_id in ("G1", "G2", "G3"):
        poll_until(
            lambda s=server_id: state(site, s).startswith("active") or None,  # type: ignore[misc]
            f"{server_id} active",
        )


def first_choices(site: Site, count: int = LOOKUPS) -> list[str]:
    """The first member of each of `count` lookups of the group (every answer checked)."""

    async def lookups() -> list[str]:
        chosen = []
        for _ in range(count):
            reply = await find(site, "Greeters")
            assert reply.endpoints == reply.replicas[0].endpoints
            assert reply.endpoints.startswith("tcp -h 127.0.0.1 -p ")
            chosen.append(reply.replicas[0].adapter_id)
        return chosen

    return asyncio.run(lookups())


def greets(site: Site, adapter_id: str) -> bytes:
    endpoints = ok(site.shoal("admin", "ice", "adapter", "endpoints", adapter_id)).strip()
    return asyncio.run(greet(endpoints, b"grid"))


def test_round_robin_gives_each_of_three_members_a_third_of_300_lookups(
    grid_site: Site,
) -> None:
    deploy_group(grid_site, "round-robin")
    counts = Counter(first_choices(grid_site))
    assert set(counts) == set(MEMBERS), counts
    assert all(abs(counts[m] - LOOKUPS // 3) <= 1 for m in MEMBERS), counts
    ok(grid_site.shoal("admin", "stop"))


def test_ordered_picks_the_best_live_priority_then_the_next_when_it_is_stopped(
    grid_site: Site,
) -> None:
    deploy_group(grid_site, "ordered")
    assert set(first_choices(grid_site)) == {"G3.Hello"}
    assert greets(grid_site, "G3.Hello") == b"Hello, grid!"

    ok(grid_site.shoal("admin", "ice", "server", "disable", "G3"))
    ok(grid_site.shoal("admin", "ice", "server", "stop", "G3"))
    poll_until(lambda: state(grid_site, "G3").startswith("inactive") or None, "G3 inactive")
    assert set(first_choices(grid_site)) == {"G1.Hello"}

    ok(grid_site.shoal("admin", "ice", "server", "disable", "G1"))
    ok(grid_site.shoal("admin", "ice", "server", "stop", "G1"))
    poll_until(lambda: state(grid_site, "G1").startswith("inactive") or None, "G1 inactive")
    assert set(first_choices(grid_site, 30)) == {"G2.Hello"}
    ok(grid_site.shoal("admin", "stop"))


def test_random_uses_every_member_in_300_lookups(grid_site: Site) -> None:
    deploy_group(grid_site, "random")
    counts = Counter(first_choices(grid_site))
    # Each member is first with probability 1/3: missing one in 300 is a ~1e-52 event.
    assert set(counts) == set(MEMBERS), counts
    ok(grid_site.shoal("admin", "stop"))


def node_loads(site: Site) -> dict[str, float] | None:
    """Each node's 1-minute load as the registry holds it (reported at registration and each
    keepalive), or None until both master and node1 are registered."""
    shown = site.shoal("admin", "diagnostics").stdout
    loads = {
        name: float(avg1)
        for name, avg1 in re.findall(r"^(\w+)\s+up\s.*\sload ([\d.]+)/", shown, re.MULTILINE)
    }
    if loads.get("master", 0.0) > 0 and loads.get("node1", 0.0) > 0:
        return loads
    return None


def test_adaptive_prefers_the_node_whose_load_times_load_factor_is_lower(
    grid_site: Site,
) -> None:
    if os.getloadavg()[0] == 0.0:
        pytest.skip("this host's load average is 0: every node's load × load-factor is 0")
    # One host, one load average: master's is made 10^6 times heavier than node1's.
    deploy_group(grid_site, "adaptive", master_factor="1000", node1_factor="0.001")
    # Nodes report their load when they register (then at each keepalive).
    poll_until(lambda: node_loads(grid_site), "the load of master and node1")

    counts = Counter(first_choices(grid_site))
    assert counts == {"G3.Hello": LOOKUPS}, counts
    ok(grid_site.shoal("admin", "stop"))
