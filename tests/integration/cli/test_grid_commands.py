"""`shoal admin` and `shoal node` against a real master node and registry, as an operator types
them: what each prints and its exit code (shoal.cli.exits)."""

from __future__ import annotations

import socket

from .conftest import Site, crasher, sleeper


def test_start_status_ice_stop_round_trip(site: Site) -> None:
    descriptor = site.descriptor("one.xml", sleeper("Sleeper"))
    started = site.shoal("admin", "start", str(descriptor), "--wait", "60")
    assert started.returncode == 0, started.stderr
    assert "grid started" in started.stdout
    assert "shoal admin stop" in started.stdout

    status = site.shoal("admin", "status")
    assert status.returncode == 0, status.stderr
    assert "Sleeper" in status.stdout

    state = site.shoal("admin", "ice", "server", "state", "Sleeper")
    assert state.returncode == 0, state.stderr
    assert state.stdout.startswith("active (pid = ")
    assert site.shoal("admin", "ice", "node", "ping", "master").stdout == "node is up\n"
    assert site.shoal("admin", "ice", "registry", "ping").stdout == "registry is up\n"

    again = site.shoal("admin", "start", str(descriptor))
    assert again.returncode == 8
    assert "already running" in again.stderr

    stopped = site.shoal("admin", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "the grid is stopped" in stopped.stdout
    assert site.shoal("admin", "status").returncode == 7


def test_stopping_a_stopped_grid_is_not_an_error(site: Site) -> None:
    stopped = site.shoal("admin", "stop")
    assert stopped.returncode == 0
    assert "not running" in stopped.stdout


def test_an_invalid_descriptor_starts_nothing(site: Site) -> None:
    bad = site.descriptor("bad.xml", '<server id="X" exe="x" activation="sometimes"/>')
    started = site.shoal("admin", "start", str(bad))
    assert started.returncode == 3
    assert "bad.xml:" in started.stderr
    assert not list(site.prefix.glob("var/*/*.pid"))


def test_a_failing_server_is_named_and_the_grid_left_running(site: Site) -> None:
    descriptor = site.descriptor("crash.xml", sleeper("Good") + crasher("Crasher"))
    started = site.shoal("admin", "start", str(descriptor), "--wait", "60")
    # The crasher may look active for an instant (no adapters): then waitup sees it fail.
    if started.returncode == 0:
        started = site.shoal("admin", "waitup", "--wait", "60")
    assert started.returncode == 11, started.stderr
    assert "Crasher" in started.stderr
    assert site.shoal("admin", "status").returncode == 0
    assert site.shoal("admin", "stop").returncode == 0


def test_a_port_in_use_is_the_daemons_error_line(site: Site) -> None:
    with socket.socket() as holder:
        # A connection of an earlier test may linger in TIME_WAIT on this port.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", site.port))
        holder.listen()
        started = site.shoal("admin", "start")
    assert started.returncode == 9, started.stderr
    assert str(site.port) in started.stderr


def test_node_start_status_stop(site: Site) -> None:
    descriptor = site.descriptor("two.xml", sleeper("Sleeper"), node1=sleeper("Remote"))
    assert site.shoal("admin", "start", str(descriptor)).returncode == 0
    started = site.shoal("node", "node1", "start")
    assert started.returncode == 0, started.stderr
    assert "node node1 started (pid" in started.stdout
    status = site.shoal("node", "status", env={"SHOAL_NODE": "node1"})
    assert status.returncode == 0, status.stderr
    stopped = site.shoal("node", "node1", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "node node1 stopped" in stopped.stdout
    assert site.shoal("node", "node1", "stop").returncode == 0  # already stopped: fine
    assert site.shoal("admin", "stop").returncode == 0


def test_a_node_without_a_config_names_the_missing_file(site: Site) -> None:
    started = site.shoal("node", "nowhere", "start")
    assert started.returncode == 6
    assert "etc/nowhere.cfg" in started.stderr


def test_diagnostics_work_while_the_grid_is_down(site: Site) -> None:
    report = site.shoal("admin", "diagnostics")
    assert report.returncode == 0, report.stderr
    assert "not listening" in report.stdout
    assert "registry    not answering" in report.stdout
