"""ZeroC IceGrid 3.7 from Debian (zeroc-icegrid, zeroc-ice-utils): one icegridnode with a
collocated registry, driven by icegridadmin; its Admin API called from Python through
python3-zeroc-ice under Debian's /usr/bin/python3 (icegrid_state_calls.py)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

from bench.peers import (
    ADAPTER,
    APPLICATION,
    GREETER,
    PORT_OFFSET,
    SLEEP,
    Peer,
    PeerSkipped,
    ServerStatus,
    application_xml,
    descriptor_xml,
    require_free_port,
    server_ids,
)
from bench.procs import all_gone
from bench.timing import WARMUP_CALLS, BenchError, clock, poll_until

PACKAGES = ("zeroc-icegrid", "zeroc-ice-utils")
#: Ice for Python, for the admin state calls; Debian builds it for /usr/bin/python3 only.
PYTHON_PACKAGE = "python3-zeroc-ice"
DEBIAN_PYTHON = "/usr/bin/python3"
STATE_CALLS_DRIVER = Path(__file__).with_name("icegrid_state_calls.py")
#: The locator scenario's greeter (`serve`) and lookup driver, run by DEBIAN_PYTHON.
LOCATOR_DRIVER = Path(__file__).with_name("icegrid_locator.py")
INSTANCE_NAME = "ShoalBench"
CLIENT_PORT = 24071 + PORT_OFFSET
NODE_NAME = "bench"

_NODE_CONFIG = """\
IceGrid.InstanceName={instance}
Ice.Default.Locator={instance}/Locator:tcp -h 127.0.0.1 -p {port}
IceGrid.Registry.Client.Endpoints=tcp -h 127.0.0.1 -p {port}
IceGrid.Registry.Server.Endpoints=tcp -h 127.0.0.1
IceGrid.Registry.Internal.Endpoints=tcp -h 127.0.0.1
IceGrid.Registry.LMDB.Path={dir}/registry
IceGrid.Registry.AdminPermissionsVerifier={instance}/NullPermissionsVerifier
IceGrid.Registry.Discovery.Enabled=0
IceGrid.Node.CollocateRegistry=1
IceGrid.Node.Name={node}
IceGrid.Node.Endpoints=tcp -h 127.0.0.1
IceGrid.Node.Data={dir}/node
IceGrid.Node.Output={dir}/log
"""

_CLIENT_CONFIG = """\
Ice.Default.Locator={instance}/Locator:tcp -h 127.0.0.1 -p {port}
IceGridAdmin.Username=bench
IceGridAdmin.Password=bench
"""

# The greeters of the locator and adapter scenarios: Python Ice programs with one adapter. As
# root, the node runs servers as `nobody` unless told otherwise; Shoal's run as the node's user:
# so do these.
_HELLO_SERVER = (
    '<server id="{server_id}" exe="{python}" activation="{activation}"{user}>'
    "<option>{driver}</option><option>serve</option>" + ADAPTER + "</server>"
)

# `server state X` prints e.g. "active (pid = 17460, enabled)" or "activating (enabled)".
_STATE = re.compile(r"^(\w+)(?: \(pid = (\d+))?")


class IceGridPeer(Peer):
    column = "IceGrid"
    # The node waits on one pipe per server with select(): it aborts once an fd reaches
    # FD_SETSIZE (1024), near 1000 servers (shared reference, anchors.md).
    max_servers = 950
    has_adapters = True
    notes = (
        "IceGrid: a server is `/bin/sh -c 'exec /bin/sleep 1000'` (the node appends "
        "--Ice.Config=..., which sleep rejects) with Ice.Admin.Endpoints empty (else the node "
        "waits for an Ice process that never registers); deploy+start is icegridnode launch + "
        "`application add` + polling `server state` of all servers with one icegridadmin "
        "process per poll (~15 ms each), so its figures can be one poll late.",
    )

    def __init__(self) -> None:
        super().__init__()
        self._proc: subprocess.Popen[bytes] | None = None
        self._exited: list[subprocess.Popen[bytes]] = []  # nodes stopped by a restart
        #: Why the admin state calls cannot be measured (python3-zeroc-ice missing), or None.
        self.state_calls_skipped: str | None = None

    def install(self) -> None:
        require_free_port(CLIENT_PORT)
        if not (shutil.which("icegridnode") and shutil.which("icegridadmin")):
            done = _apt_get_install(PACKAGES)
            if not shutil.which("icegridnode"):
                raise PeerSkipped(done)
        if not _has_ice_for_python():
            done = _apt_get_install((PYTHON_PACKAGE,))
            if not _has_ice_for_python():
                self.state_calls_skipped = done

    def version(self) -> str:
        out = subprocess.run(["icegridnode", "--version"], capture_output=True, text=True)
        version = f"icegridnode {(out.stdout or out.stderr).strip()}"
        if self.state_calls_skipped is None:
            ice = subprocess.run(
                [
                    DEBIAN_PYTHON,
                    "-c",
                    "import Ice, platform; print(Ice.stringVersion(), platform.python_version())",
                ],
                capture_output=True,
                text=True,
            )
            ice_version, _, python_version = ice.stdout.strip().partition(" ")
            version += f", Ice for Python {ice_version} ({DEBIAN_PYTHON} {python_version})"
        return version

    def _admin(self, *commands: str) -> list[str]:
        assert self.workdir is not None
        argv = [
            "icegridadmin",
            f"--Ice.Config={self.workdir / 'client.cfg'}",
            "-e",
            "; ".join(commands),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise BenchError(f"icegridadmin {commands[0]}...: {done.stderr.strip()}")
        return done.stdout.splitlines()

    def _prepare(self, node_config: str = "") -> Path:
        """A fresh workdir with the node's and the client's configs (`node_config` added)."""
        workdir = self._fresh_workdir()
        for sub in ("registry", "node", "log"):
            (workdir / sub).mkdir()
        (workdir / "node.cfg").write_text(
            _NODE_CONFIG.format(
                instance=INSTANCE_NAME, port=CLIENT_PORT, dir=workdir, node=NODE_NAME
            )
            + node_config
        )
        (workdir / "client.cfg").write_text(
            _CLIENT_CONFIG.format(instance=INSTANCE_NAME, port=CLIENT_PORT)
        )
        return workdir

    def start(self, n: int) -> float:
        self.n, self.prefix = n, SLEEP
        workdir = self._prepare()
        app = workdir / "app.xml"
        app.write_text(
            descriptor_xml(
                NODE_NAME,
                n,
                "/bin/sh",
                ["-c", "exec /bin/sleep 1000"],
                extra='<property name="Ice.Admin.Endpoints" value=""/>',
            )
        )
        return self._start_application(app, n)

    def _start_application(self, app: Path, n: int) -> float:
        """icegridnode launched, `application add APP`: seconds until its n servers are active."""
        start = clock()
        self._launch_and_add(app)

        def all_active() -> dict[str, int] | None:
            up = self.up_pids()
            return up if len(up) == n else None

        seen, _ = poll_until(all_active, 60 + 0.1 * n, "IceGrid: all servers active")
        return seen - start

    def start_adapters(self, n: int) -> float:
        """As `start`, the servers being n Python Ice greeters (icegrid_locator.py `serve`):
        each is active once it registered its adapter and its admin facet."""
        if self.state_calls_skipped is not None:  # no Ice for Python: no greeter
            raise PeerSkipped(self.state_calls_skipped)
        self.n, self.prefix = n, GREETER
        workdir = self._prepare_for_greeters()
        app = workdir / "app.xml"
        servers = [(sid, "always") for sid in server_ids(n, GREETER)]
        app.write_text(self._greeters_xml(APPLICATION, servers))
        return self._start_application(app, n)

    def start_hello(self, on_demand: list[str]) -> Path:
        """icegridnode running the Python Ice greeter of icegrid_locator.py as server
        `HelloServer` (`always`, adapter `HelloServer.Hello`) and deploying the same greeter
        `on-demand` as each server of `on_demand`, for the locator scenario; returns the client
        config (Ice.Default.Locator) for icegrid_locator.py."""
        if self.state_calls_skipped is not None:  # no Ice for Python: no greeter, no driver
            raise PeerSkipped(self.state_calls_skipped)
        workdir = self._prepare_for_greeters()
        servers = [("HelloServer", "always")] + [(sid, "on-demand") for sid in on_demand]
        app = workdir / "hello.xml"
        app.write_text(self._greeters_xml("Hello", servers))
        self._launch_and_add(app)
        poll_until(lambda: self.status("HelloServer").active, 60, "IceGrid: HelloServer active")
        return workdir / "client.cfg"

    def _prepare_for_greeters(self) -> Path:
        """`_prepare`, letting the node run the greeters as root when the benchmark is root."""
        as_root = os.geteuid() == 0
        return self._prepare("IceGrid.Node.AllowRunningServersAsRoot=1\n" if as_root else "")

    @staticmethod
    def _greeters_xml(application: str, servers: list[tuple[str, str]]) -> str:
        """An application of Python Ice greeters: (server id, activation) each."""
        user = ' user="root"' if os.geteuid() == 0 else ""
        return application_xml(
            NODE_NAME,
            [
                _HELLO_SERVER.format(
                    server_id=server_id,
                    python=DEBIAN_PYTHON,
                    activation=activation,
                    user=user,
                    driver=LOCATOR_DRIVER,
                )
                for server_id, activation in servers
            ],
            application,
        )

    def _launch_and_add(self, app: Path) -> None:
        """icegridnode launched; once its registry listens, `application add APP`."""
        self._launch_node()
        poll_until(_port_open, 30, "icegridnode: registry listening")
        self._admin(f"application add '{app}'")

    def _launch_node(self) -> None:
        """Start icegridnode (with its registry) on the workdir, in its own session."""
        assert self.workdir is not None
        with (self.workdir / "icegridnode.out").open("ab") as log:
            self._proc = subprocess.Popen(
                ["icegridnode", f"--Ice.Config={self.workdir / 'node.cfg'}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.ledger.add_root(self._proc.pid)

    @property
    def daemon_pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def status(self, server_id: str) -> ServerStatus:
        lines = self._admin(f"server state {server_id}")
        match = _STATE.match(lines[0]) if lines else None
        if match is None:
            raise BenchError(f"IceGrid: unexpected `server state` answer {lines!r}")
        pid = int(match.group(2) or 0)
        self.ledger.add(pid)
        return ServerStatus(pid, match.group(1) == "active")

    def server_pids(self) -> list[int]:
        lines = self._admin(*(f"server pid {sid}" for sid in server_ids(self.n, self.prefix)))
        return [int(line) for line in lines if line.strip().isdigit()]

    def up_pids(self) -> dict[str, int]:
        # One icegridadmin process asks `server state` of every server (a poll takes ~15 ms
        # with 50 servers, longer with hundreds).
        ids = server_ids(self.n, self.prefix)
        lines = self._admin(*(f"server state {sid}" for sid in ids))
        up = {}
        for sid, line in zip(ids, lines, strict=False):
            match = _STATE.match(line)
            if match and match.group(1) == "active" and match.group(2):
                up[sid] = int(match.group(2))
        self.ledger.add(*up.values())
        return up

    def state_call_rate(self, server_id: str, seconds: float) -> float:
        if self.state_calls_skipped is not None:
            raise PeerSkipped(self.state_calls_skipped)
        assert self.workdir is not None
        argv = [
            DEBIAN_PYTHON,
            str(STATE_CALLS_DRIVER),
            str(self.workdir / "client.cfg"),
            INSTANCE_NAME,
            server_id,
            str(seconds),
            str(WARMUP_CALLS),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise BenchError(f"{STATE_CALLS_DRIVER.name}: {done.stderr.strip()[-300:]}")
        return float(done.stdout.strip())

    def undeploy_argvs(self) -> list[list[str]]:
        return [[*self.list_argv()[:-1], f"application remove {APPLICATION}"]]

    def restart_everything(self, timeout: float) -> None:
        # IceGrid has no "restart all": the node is shut down (its servers with it) and started
        # again; the collocated registry reloads the application and the node activates its
        # `always` servers. This figure includes the daemon's restart, as Shoal's does.
        assert self._proc is not None
        self._admin(f"node shutdown {NODE_NAME}")
        old = self._proc
        poll_until(lambda: all_gone([old.pid]), timeout, "IceGrid: node shut down")
        old.wait()
        self._exited.append(old)
        poll_until(lambda: not _port_open(), timeout, "IceGrid: registry port closed")
        self._launch_node()

    def list_argv(self) -> list[str]:
        assert self.workdir is not None
        return [
            "icegridadmin",
            f"--Ice.Config={self.workdir / 'client.cfg'}",
            "-e",
            "server list",
        ]

    def stop_argv(self) -> list[str]:
        return [*self.list_argv()[:-1], f"node shutdown {NODE_NAME}"]

    def cleanup(self) -> list[int]:
        leftovers = super().cleanup()
        for proc in [*self._exited, self._proc]:
            if proc is not None:
                proc.wait()
        self._proc = None
        self._exited = []
        return leftovers


def _has_ice_for_python() -> bool:
    if not Path(DEBIAN_PYTHON).is_file():
        return False
    done = subprocess.run([DEBIAN_PYTHON, "-c", "import Ice, IceGrid"], capture_output=True)
    return done.returncode == 0


def _apt_get_install(packages: tuple[str, ...]) -> str:
    """apt-get install (after `apt-get update` if the first try fails); return why it could not,
    for the caller to report when what it needs is still missing."""
    words = " ".join(packages)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"not installed, and cannot apt-get here: `apt-get install {words}`"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return f"apt-get install {words} failed: {tail}"
    return f"apt-get install {words} succeeded, but it is still missing"


def _port_open() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", CLIENT_PORT), timeout=1):
            return True
    except OSError:
        return False


__all__ = ["IceGridPeer"]
