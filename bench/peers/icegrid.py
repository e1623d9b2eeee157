"""ZeroC IceGrid 3.7 from Debian (zeroc-icegrid, zeroc-ice-utils): one icegridnode with a
collocated registry, driven by icegridadmin."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess

from bench.peers import Peer, PeerSkipped, ServerStatus, descriptor_xml, server_ids
from bench.timing import BenchError, clock, poll_until

PACKAGES = ("zeroc-icegrid", "zeroc-ice-utils")
CLIENT_PORT = 24071
NODE_NAME = "bench"

_NODE_CONFIG = """\
IceGrid.InstanceName=ShoalBench
Ice.Default.Locator=ShoalBench/Locator:tcp -h 127.0.0.1 -p {port}
IceGrid.Registry.Client.Endpoints=tcp -h 127.0.0.1 -p {port}
IceGrid.Registry.Server.Endpoints=tcp -h 127.0.0.1
IceGrid.Registry.Internal.Endpoints=tcp -h 127.0.0.1
IceGrid.Registry.LMDB.Path={dir}/registry
IceGrid.Registry.AdminPermissionsVerifier=ShoalBench/NullPermissionsVerifier
IceGrid.Registry.Discovery.Enabled=0
IceGrid.Node.CollocateRegistry=1
IceGrid.Node.Name={node}
IceGrid.Node.Endpoints=tcp -h 127.0.0.1
IceGrid.Node.Data={dir}/node
IceGrid.Node.Output={dir}/log
"""

_CLIENT_CONFIG = """\
Ice.Default.Locator=ShoalBench/Locator:tcp -h 127.0.0.1 -p {port}
IceGridAdmin.Username=bench
IceGridAdmin.Password=bench
"""

# `server state X` prints e.g. "active (pid = 17460, enabled)" or "activating (enabled)".
_STATE = re.compile(r"^(\w+)(?: \(pid = (\d+))?")


class IceGridPeer(Peer):
    column = "IceGrid"
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

    def install(self) -> None:
        if shutil.which("icegridnode") and shutil.which("icegridadmin"):
            return
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise PeerSkipped(
                f"not installed, and cannot apt-get here: `apt-get install {' '.join(PACKAGES)}`"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
        done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env)
            done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not shutil.which("icegridnode"):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise PeerSkipped(f"apt-get install {' '.join(PACKAGES)} failed: {tail}")

    def version(self) -> str:
        out = subprocess.run(["icegridnode", "--version"], capture_output=True, text=True)
        return f"icegridnode {(out.stdout or out.stderr).strip()}"

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

    def start(self, n: int) -> float:
        self.n = n
        workdir = self._fresh_workdir()
        for sub in ("registry", "node", "log"):
            (workdir / sub).mkdir()
        (workdir / "node.cfg").write_text(
            _NODE_CONFIG.format(port=CLIENT_PORT, dir=workdir, node=NODE_NAME)
        )
        (workdir / "client.cfg").write_text(_CLIENT_CONFIG.format(port=CLIENT_PORT))
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
        log = (workdir / "icegridnode.out").open("wb")
        start = clock()
        self._proc = subprocess.Popen(
            ["icegridnode", f"--Ice.Config={workdir / 'node.cfg'}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.ledger.add_root(self._proc.pid)
        poll_until(_port_open, 30, "icegridnode: registry listening")
        self._admin(f"application add '{app}'")

        def all_active() -> list[int] | None:
            lines = self._admin(*(f"server state {sid}" for sid in server_ids(n)))
            parsed = [_STATE.match(line) for line in lines]
            if len(parsed) == n and all(m and m.group(1) == "active" for m in parsed):
                return [int(m.group(2)) for m in parsed if m and m.group(2)]
            return None

        seen, pids = poll_until(all_active, 60, "IceGrid: all servers active")
        self.ledger.add(*pids)
        return seen - start

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
        lines = self._admin(*(f"server pid {sid}" for sid in server_ids(self.n)))
        return [int(line) for line in lines if line.strip().isdigit()]

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
        if self._proc is not None:
            self._proc.wait()
        self._proc = None
        return leftovers


def _port_open() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", CLIENT_PORT), timeout=1):
            return True
    except OSError:
        return False


__all__ = ["IceGridPeer"]
