"""No-restart deploys for real (`shoal admin deploy --no-restart`, IceGrid's `update -n`).

A shoal.server program whose property changes keeps its pid and sees the new value (its
`on_properties_changed` callback writes it to a file); a plain program (not the SDK) keeps its
pid too and finds the new value in its config file. Changing anything else of a running server
is refused with IceGrid's aggregated "check for application ... update failed" message, and
nothing changes: not the pids, not the revision.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest

from gridsupport import Site, poll_until

pytestmark = pytest.mark.slow

LIVE_SERVER = """\
import asyncio
import pathlib

from shoal.server import Server


async def main() -> None:
    server = Server.from_environment()
    out = pathlib.Path(server.properties.get("live.out"))

    def seen(properties) -> None:
        out.write_text(properties.get("live.greeting"))

    seen(server.properties)
    server.on_properties_changed(seen)
    server.adapter("Live")
    await server.run()


asyncio.run(main())
"""


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def pid(site: Site, server_id: str) -> int:
    return int(ok(site.shoal("admin", "ice", "server", "pid", server_id)).strip())


def active(site: Site, server_id: str) -> bool:
    state = site.shoal("admin", "ice", "server", "state", server_id).stdout
    return state.strip().startswith("active")


def revision(site: Site) -> int:
    described = ok(site.shoal("admin", "ice", "application", "describe", "Test"))
    found = re.search(r"revision = `(\d+)'", described)
    assert found, described
    return int(found.group(1))


def install(site: Site, greeting: str, extra_option: str = "") -> Path:
    script = site.prefix / "live_server.py"
    script.write_text(LIVE_SERVER)
    live = (
        '<server id="Live" exe="${PYTHON}" activation="always">'
        f"<option>{script}</option><option>MARK</option>{extra_option}"
        '<adapter name="Live" endpoints="tcp -h 127.0.0.1"/>'
        f'<property name="live.out" value="{site.prefix / "seen.txt"}"/>'
        f'<property name="live.greeting" value="{greeting}"/>'
        "</server>"
    )
    plain = (
        '<server id="Plain" exe="${PYTHON}" activation="always">'
        "<option>-c</option><option>import signal; signal.pause()</option>"
        "<option>MARK</option>"
        f'<property name="plain.greeting" value="{greeting}"/>'
        "</server>"
    )
    return site.descriptor("live.xml", live + plain)


def config_file(site: Site, server_id: str) -> Path:
    found = list(site.prefix.glob(f"var/*/servers/{server_id}/config/config"))
    assert len(found) == 1, found
    return found[0]


def test_property_change_reaches_running_servers_without_a_restart(grid_site: Site) -> None:
    seen = grid_site.prefix / "seen.txt"
    ok(grid_site.shoal("admin", "start", str(install(grid_site, "hello"))))
    poll_until(lambda: seen.exists() and seen.read_text() == "hello", "Live saw hello")
    for server_id in ("Live", "Plain"):
        poll_until(functools.partial(active, grid_site, server_id), f"{server_id} active")
    pids = {sid: pid(grid_site, sid) for sid in ("Live", "Plain")}
    before = revision(grid_site)

    out = ok(grid_site.shoal("admin", "deploy", "--no-restart", str(install(grid_site, "bye"))))
    assert "2 updated without a restart" in out, out

    poll_until(lambda: seen.read_text() == "bye", "Live saw bye", timeout=30)
    assert {sid: pid(grid_site, sid) for sid in ("Live", "Plain")} == pids
    assert "plain.greeting=bye" in config_file(grid_site, "Plain").read_text()
    assert revision(grid_site) == before + 1
    shown = ok(grid_site.shoal("admin", "ice", "server", "properties", "Live"))
    assert re.search(r"live\.greeting\s*=\s*bye", shown), shown
    ok(grid_site.shoal("admin", "stop"))


def test_other_changes_to_running_servers_are_refused_and_change_nothing(
    grid_site: Site,
) -> None:
    seen = grid_site.prefix / "seen.txt"
    ok(grid_site.shoal("admin", "start", str(install(grid_site, "hello"))))
    poll_until(lambda: seen.exists() and seen.read_text() == "hello", "Live saw hello")
    pids = {sid: pid(grid_site, sid) for sid in ("Live", "Plain")}
    before = revision(grid_site)

    changed = install(grid_site, "bye", extra_option="<option>--extra</option>")
    refused = grid_site.shoal("admin", "deploy", "--no-restart", str(changed))
    assert refused.returncode != 0, refused
    assert (
        "check for application `Test' update failed: server `Live' would need to be stopped"
        " (changed: options)" in refused.stderr
    ), refused.stderr

    # Nothing changed: same processes, same revision, the old property everywhere.
    assert {sid: pid(grid_site, sid) for sid in ("Live", "Plain")} == pids
    assert revision(grid_site) == before
    assert seen.read_text() == "hello"
    assert "plain.greeting=hello" in config_file(grid_site, "Plain").read_text()

    # Removing a running server is refused too.
    only_live = grid_site.descriptor("none.xml", "")
    refused = grid_site.shoal("admin", "deploy", "--no-restart", str(only_live))
    assert refused.returncode != 0, refused
    assert "server `Live' is running" in refused.stderr, refused.stderr
    assert "server `Plain' is running" in refused.stderr, refused.stderr
    assert revision(grid_site) == before
    ok(grid_site.shoal("admin", "stop"))
