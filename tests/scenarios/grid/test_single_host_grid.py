"""The seed's single-host workflow, for real: a master and two more nodes on one host.

Every test runs the `shoal` command in subprocesses against a site of its own (its own
registry port), with `application.xml` beside this file: two `always` servers on the master
and a template server by index on node1 and node2. Servers are tests/servers/misbehave.py,
carrying a word unique to the test so that nothing can outlive it unnoticed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from gridsupport import Site, poll_until
from shoal.cli.daemon import pid_alive, read_pidfile, wait_for_exit

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
MISBEHAVE = HERE.parents[1] / "servers" / "misbehave.py"


def install_descriptor(site: Site, name: str = "scenario.xml", extra_master: str = "") -> Path:
    """Copy application.xml into the site, filled in for this test; `extra_master` adds servers."""
    text = (HERE / "application.xml").read_text()
    text = text.replace("@SERVER@", str(MISBEHAVE)).replace("@MARK@", site.marker)
    text = text.replace('<node name="master">', '<node name="master">' + extra_master, 1)
    path = site.prefix / "etc" / "grid" / name
    path.write_text(text)
    return path


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def server_pid(site: Site, server_id: str) -> int | None:
    done = site.shoal("admin", "ice", "server", "pid", server_id)
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def running_pid(site: Site, server_id: str) -> int:
    return poll_until(lambda: server_pid(site, server_id), f"{server_id} to have a pid")


def state(site: Site, server_id: str) -> str:
    return site.shoal("admin", "ice", "server", "state", server_id).stdout.strip()


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def start_grid(site: Site, *words: str) -> str:
    return ok(site.shoal("admin", "start", str(install_descriptor(site)), *words))


def start_nodes(site: Site) -> None:
    ok(site.shoal("node", "node1", "start"))
    ok(site.shoal("node", "start", env={"SHOAL_NODE": "node2"}))


def grid_pids(site: Site) -> list[int]:
    return [p for p in (read_pidfile(f) for f in site.prefix.glob("var/*/*.pid")) if p]


def test_start_shows_active_servers_with_pids_and_stop_leaves_nothing(grid_site: Site) -> None:
    start_grid(grid_site)
    alpha, beta = running_pid(grid_site, "Alpha"), running_pid(grid_site, "Beta")
    for pid in (alpha, beta):
        assert grid_site.marker in cmdline(pid)

    status = ok(grid_site.shoal("admin", "status"))
    assert re.search(rf"Alpha\s+master\s+active\s+{alpha}\b", status)
    assert re.search(rf"Beta\s+master\s+active\s+{beta}\b", status)
    diagnostics = ok(grid_site.shoal("admin", "diagnostics"))
    assert re.search(rf"Alpha\s+master\s+active\s+pid {alpha}\b", diagnostics)
    assert "IceGrid.Registry.Client.Endpoints" in diagnostics
    assert "master.out" in diagnostics
    daemons = grid_pids(grid_site)
    assert daemons

    ok(grid_site.shoal("admin", "stop"))
    assert not [pid for pid in [alpha, beta, *daemons] if pid_alive(pid)]
    assert (grid_site.prefix / "var/log/master.out").exists()
    assert grid_site.shoal("admin", "status").returncode != 0


def test_two_more_nodes_run_their_template_servers_and_a_duplicate_is_refused(
    grid_site: Site,
) -> None:
    start_grid(grid_site)
    start_nodes(grid_site)
    assert ok(grid_site.shoal("admin", "ice", "node", "list")).split() == [
        "master",
        "node1",
        "node2",
    ]
    worker1 = running_pid(grid_site, "Worker-1")
    running_pid(grid_site, "Worker-2")
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "Worker-2"))
    assert "node = `node2'" in described
    assert "worker.colour=blue" in described
    node1 = read_pidfile(grid_site.prefix / "var/node1/node1.pid")
    assert node1

    # The same node again from this site: its pidfile names a live node.
    again = grid_site.shoal("node", "node1", "start")
    assert again.returncode != 0
    assert "node1" in again.stderr and "already running" in again.stderr
    # As from another host (its own data directory): the registry refuses the name.
    impostor = grid_site.shoal("node", "node1", "start", "--IceGrid.Node.Data=var/elsewhere")
    assert impostor.returncode != 0
    assert "node node1 is already active on" in impostor.stderr
    assert "Traceback" not in impostor.stderr

    assert pid_alive(node1)
    assert server_pid(grid_site, "Worker-1") == worker1
    assert "node is up" in ok(grid_site.shoal("admin", "ice", "node", "ping", "node1"))


def test_a_killed_server_is_restarted_and_its_exit_recorded(grid_site: Site) -> None:
    start_grid(grid_site)
    before = running_pid(grid_site, "Alpha")
    os.kill(before, signal.SIGKILL)
    after = poll_until(
        lambda: (pid := server_pid(grid_site, "Alpha")) != before and pid,
        "Alpha to run again with a new pid",
    )
    assert grid_site.marker in cmdline(after)
    diagnostics = ok(grid_site.shoal("admin", "diagnostics"))
    assert re.search(r"Alpha\s.*restarts 1\b.*killed by SIGKILL", diagnostics), diagnostics


def test_a_server_that_keeps_failing_is_disabled_and_enable_brings_it_back(
    grid_site: Site,
) -> None:
    flag = grid_site.prefix / "broken"
    flag.touch()
    gamma = (
        '<server id="Gamma" exe="${PYTHON}" activation="always">'
        f"<option>-S</option><option>${{SERVER}}</option><option>--fail-while</option>"
        f"<option>{flag}</option><option>--mark</option><option>{grid_site.marker}</option>"
        "</server>"
    )
    descriptor = install_descriptor(grid_site, extra_master=gamma)
    started = grid_site.shoal("admin", "start", str(descriptor))
    assert started.returncode != 0  # Gamma failed: named, the grid left running
    assert "Gamma" in started.stdout + started.stderr
    assert server_pid(grid_site, "Alpha")

    poll_until(lambda: "disabled" in state(grid_site, "Gamma"), "Gamma to be disabled")
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "Gamma"))
    assert "exit code 1" in described, described

    flag.unlink()
    ok(grid_site.shoal("admin", "ice", "server", "enable", "Gamma"))
    pid = running_pid(grid_site, "Gamma")
    assert re.match(rf"active \(pid = {pid}, enabled\)", state(grid_site, "Gamma"))


def test_deploy_restarts_only_the_changed_server_and_invalid_input_changes_nothing(
    grid_site: Site,
) -> None:
    start_grid(grid_site)
    start_nodes(grid_site)
    ids = ["Alpha", "Beta", "Worker-1", "Worker-2"]
    before = {server_id: running_pid(grid_site, server_id) for server_id in ids}

    changed = install_descriptor(grid_site, "changed.xml")
    changed.write_text(changed.read_text().replace('value="hello"', 'value="bonjour"'))
    output = ok(grid_site.shoal("admin", "deploy", str(changed)))
    assert re.search(r"restarted\s+Alpha \(properties\)", output), output
    for server_id in ["Beta", "Worker-1", "Worker-2"]:
        assert re.search(rf"unchanged\s+{server_id}\b", output), output
    after = {server_id: running_pid(grid_site, server_id) for server_id in ids}
    assert after["Alpha"] != before["Alpha"]
    assert {k: v for k, v in after.items() if k != "Alpha"} == {
        k: v for k, v in before.items() if k != "Alpha"
    }
    assert "alpha.greeting=bonjour" in ok(
        grid_site.shoal("admin", "ice", "server", "properties", "Alpha")
    )

    described = ok(grid_site.shoal("admin", "ice", "application", "describe", "Scenario"))
    invalid = install_descriptor(grid_site, "invalid.xml")
    invalid.write_text(invalid.read_text().replace('id="Beta"', 'id="Beta" colour="red"'))
    refused = grid_site.shoal("admin", "deploy", str(invalid))
    assert refused.returncode == 3
    assert f"{invalid}:" in refused.stderr and "colour" in refused.stderr
    assert ok(grid_site.shoal("admin", "ice", "application", "describe", "Scenario")) == described
    assert {server_id: server_pid(grid_site, server_id) for server_id in ids} == after


def test_a_killed_master_is_recovered_and_node_servers_keep_their_pids(grid_site: Site) -> None:
    start_grid(grid_site)
    ok(grid_site.shoal("node", "node1", "start"))
    worker1 = running_pid(grid_site, "Worker-1")
    alpha = running_pid(grid_site, "Alpha")
    master = read_pidfile(grid_site.prefix / "var/master/master.pid")
    assert master

    os.kill(master, signal.SIGKILL)
    assert wait_for_exit(master, 30)
    poll_until(lambda: not pid_alive(alpha), "the master's servers to die with it")
    assert pid_alive(worker1)

    ok(grid_site.shoal("admin", "start"))  # no descriptor: what was deployed comes back
    assert "Scenario" in ok(grid_site.shoal("admin", "ice", "application", "list")).split()
    assert running_pid(grid_site, "Alpha") != alpha
    poll_until(
        lambda: "node is up" in grid_site.shoal("admin", "ice", "node", "ping", "node1").stdout,
        "node1 to register with the new registry",
    )
    poll_until(
        lambda: state(grid_site, "Worker-1").startswith("active"), "Worker-1 reported active"
    )
    assert server_pid(grid_site, "Worker-1") == worker1


def test_a_killed_node_takes_its_servers_along(grid_site: Site) -> None:
    start_grid(grid_site)
    ok(grid_site.shoal("node", "node1", "start"))
    worker1 = running_pid(grid_site, "Worker-1")
    node1 = read_pidfile(grid_site.prefix / "var/node1/node1.pid")
    assert node1

    os.kill(node1, signal.SIGKILL)
    assert wait_for_exit(node1, 30)
    poll_until(lambda: not pid_alive(worker1), f"Worker-1 (pid {worker1}) to die with node1")


def test_a_killed_nodes_servers_leave_active_within_seconds_and_come_back_with_it(
    grid_site: Site,
) -> None:
    """kill -9 of node1: the registry sees its connection drop, pings it once, ends the session
    (no 30 s session timeout), and Worker-1 shows inactive with the reason; `server pid` fails
    naming the node. node1 started again reports Worker-1 active with a new pid."""
    start_grid(grid_site)
    ok(grid_site.shoal("node", "node1", "start"))
    worker1 = running_pid(grid_site, "Worker-1")
    node1 = read_pidfile(grid_site.prefix / "var/node1/node1.pid")
    assert node1

    os.kill(node1, signal.SIGKILL)
    poll_until(
        lambda: state(grid_site, "Worker-1").startswith("inactive"),
        "Worker-1 to leave `active'",
        timeout=8,
    )
    pid = grid_site.shoal("admin", "ice", "server", "pid", "Worker-1")
    assert pid.returncode != 0
    assert "server Worker-1 is not running (node node1 is down)" in pid.stderr
    assert "node node1 is down" in ok(
        grid_site.shoal("admin", "ice", "server", "describe", "Worker-1")
    )
    ping = grid_site.shoal("admin", "ice", "node", "ping", "node1")
    assert ping.returncode != 0 and "node is down" in ping.stdout
    poll_until(lambda: not pid_alive(worker1), f"Worker-1 (pid {worker1}) to die with node1")

    ok(grid_site.shoal("node", "node1", "start"))
    assert running_pid(grid_site, "Worker-1") != worker1


def test_deploying_with_the_debug_target_passes_its_options_to_the_server(
    grid_site: Site,
) -> None:
    descriptor = install_descriptor(grid_site)
    ok(grid_site.shoal("admin", "start", str(descriptor)))
    plain = running_pid(grid_site, "Alpha")
    assert "-X" not in cmdline(plain)

    output = ok(grid_site.shoal("admin", "deploy", str(descriptor), "debug"))
    assert re.search(r"restarted\s+Alpha \(options\)", output), output
    debug = poll_until(
        lambda: (pid := server_pid(grid_site, "Alpha")) != plain and pid,
        "Alpha to run with the debug options",
    )
    assert cmdline(debug)[1:3] == ["-X", "dev"], cmdline(debug)
    described = ok(grid_site.shoal("admin", "ice", "server", "describe", "Alpha"))
    assert "-X dev" in described
    assert "-X" not in cmdline(running_pid(grid_site, "Beta"))


def test_a_shoal_admin_symlink_starts_and_stops_the_grid(grid_site: Site, tmp_path: Path) -> None:
    links = tmp_path / "init.d"
    links.mkdir()
    (links / "shoal-admin").symlink_to(grid_site.prefix / "bin" / "shoal")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}

    def shoal_admin(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(links / "shoal-admin"), *words],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ok(shoal_admin("start", str(install_descriptor(grid_site))))
    alpha = running_pid(grid_site, "Alpha")
    assert "Alpha" in ok(shoal_admin("status"))
    ok(shoal_admin("stop"))
    assert not pid_alive(alpha)
    assert not [pid for pid in grid_pids(grid_site) if pid_alive(pid)]


SEED_NODES = """
    <node name="node1">
      <server-instance template="ProcessorTemplate" index="1"/>
    </node>

    <node name="node2">
      <server-instance template="ProcessorTemplate" index="2"/>
    </node>
"""


def test_the_seeds_three_processors_run_from_the_default_descriptor(grid_site: Site) -> None:
    """OMERO.grid's page: add node1 and node2 to default.xml, start the master and both nodes,
    and `admin diagnostics` shows three processors running."""
    default = grid_site.prefix / "etc/grid/default.xml"
    text = default.read_text()
    master_end = text.index("</node>", text.index('<node name="master">')) + len("</node>")
    default.write_text(text[:master_end] + SEED_NODES + text[master_end:])

    ok(grid_site.shoal("admin", "start"))
    start_nodes(grid_site)
    for index in range(3):
        poll_until(
            lambda i=index: state(grid_site, f"Processor-{i}").startswith("active"),
            f"Processor-{index} active",
        )
    diagnostics = ok(grid_site.shoal("admin", "diagnostics"))
    for index, node in enumerate(["master", "node1", "node2"]):
        assert re.search(rf"Processor-{index}\s+{node}\s+active\s+pid \d+", diagnostics)
    adapters = ok(grid_site.shoal("admin", "ice", "adapter", "list"))
    assert "Processor-2.ProcessorAdapter" in adapters and "tcp -h 127.0.0.1 -p" in adapters
    ok(grid_site.shoal("admin", "stop"))
