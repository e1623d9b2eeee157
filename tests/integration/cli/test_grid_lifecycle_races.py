"""`shoal admin` while a grid comes up or has history: a stop or waitup during a start, the
start summary counting every application, node words as OMERO writes them, clean errors."""

from __future__ import annotations

import os
import subprocess
import sys

from gridsupport import WAIT, poll_until
from shoal.cli.daemon import live_pid

from .conftest import Site, sleeper


def start_in_background(site: Site, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}
    environment["SHOAL_HOME"] = str(site.prefix)
    return subprocess.Popen(
        [sys.executable, "-m", "shoal", "admin", "start", *args],
        cwd=site.prefix,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_lock_held(site: Site) -> bool:
    return live_pid(site.prefix / "var" / "master" / "master.starting") is not None


def test_waitup_during_a_start_waits_for_it(site: Site) -> None:
    descriptor = site.descriptor("one.xml", sleeper("Sleeper"))
    with start_in_background(site, str(descriptor)) as starting:
        poll_until(lambda: start_lock_held(site), "admin start to take its start lock")
        waited = site.shoal("admin", "waitup", "--wait", "60")
        starting.communicate(timeout=WAIT)
    assert waited.returncode == 0, waited.stderr
    assert "the grid is up: 1 server(s) active" in waited.stdout
    assert site.shoal("admin", "stop").returncode == 0


def test_a_stop_during_a_start_stops_the_grid_it_started(site: Site) -> None:
    descriptor = site.descriptor("one.xml", sleeper("Sleeper"))
    with start_in_background(site, str(descriptor)) as starting:
        poll_until(lambda: start_lock_held(site), "admin start to take its start lock")
        stopped = site.shoal("admin", "stop", "--wait", "60")
        starting.communicate(timeout=WAIT)
    assert stopped.returncode == 0, stopped.stderr
    assert "the grid is stopped" in stopped.stdout
    assert live_pid(site.prefix / "var" / "master" / "master.pid") is None
    assert site.shoal("admin", "status").returncode == 7


def test_a_start_summary_counts_the_applications_recovered_from_the_database(
    site: Site,
) -> None:
    first = site.descriptor("first.xml", sleeper("Old-1") + sleeper("Old-2"))
    assert site.shoal("admin", "start", str(first)).returncode == 0
    assert site.shoal("admin", "stop").returncode == 0
    second = site.descriptor("second.xml", sleeper("New-1")).read_text()
    other = site.prefix / "etc" / "grid" / "other.xml"
    other.write_text(second.replace('name="Test"', 'name="Other"'))
    started = site.shoal("admin", "start", str(other))
    assert started.returncode == 0, started.stderr
    assert "Test (recovered from the registry database" in started.stdout
    assert "Other (deployed now" in started.stdout
    assert "servers:  3 in all: 3 active" in started.stdout
    assert site.shoal("admin", "stop").returncode == 0


def test_node_words_in_omeros_order_and_a_down_node_said_once(site: Site) -> None:
    descriptor = site.descriptor("two.xml", sleeper("Sleeper"), node1=sleeper("Remote"))
    assert site.shoal("admin", "start", str(descriptor)).returncode == 0
    down = site.shoal("node", "status", "node1")
    assert down.returncode == 7
    assert down.stderr.count("is down") == 1, down.stderr
    started = site.shoal("node", "start", "node1")
    assert started.returncode == 0, started.stderr
    assert "node node1 started (pid" in started.stdout
    assert site.shoal("node", "status", "node1").returncode == 0
    assert site.shoal("node", "stop", "node1").returncode == 0
    assert site.shoal("admin", "stop").returncode == 0


def test_commands_against_a_down_grid_say_so_in_one_clean_line(site: Site) -> None:
    for words in (("admin", "ice", "server", "list"), ("admin", "deploy")):
        answer = site.shoal(*words)
        assert answer.returncode == 7, answer.stderr
        assert answer.stderr.startswith(
            f"shoal: cannot reach the registry at tcp -h 127.0.0.1 -p {site.port}\n"
        ), answer.stderr
        assert "shoal admin start" in answer.stderr
        assert "failed to connect" not in answer.stderr
