"""Shoal: `shoal init` a fresh site, `SITE/bin/shoal admin start FILE`, the Admin API over Shoal's
wire protocol (shoal.rpc.wire, the registry's client endpoints), from a BlockingChannel."""

from __future__ import annotations

import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import shoal
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
from bench.procs import gone, run_cli
from bench.timing import BenchError, clock, closed_loop, poll_until
from shoal.config.endpoints import Endpoint
from shoal.config.properties import DEFAULT_MESSAGE_SIZE_MAX_KB
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.detail import Peer as RpcPeer
from shoal.rpc.tls import message_size_max_bytes
from shoal.rpc.wire import MAGIC, BlockingChannel

#: The greeter of docs/first-server.md: the locator scenario runs it, the adapter scenario N of it.
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"
#: Not 4061: a grid someone runs on this machine keeps running.
REGISTRY_PORT = 24061 + PORT_OFFSET
_CALL_SECONDS = 5.0
#: The Admin calls the benchmark makes (full names, as on the wire) and their replies.
_SERVER_LIST = "/shoal.v1.Admin/ServerList"
_SERVER_STATE = "/shoal.v1.Admin/ServerState"


class ShoalPeer(Peer):
    has_adapters = True

    def __init__(self) -> None:
        super().__init__()
        self.returned_seconds: float | None = None  # the last start: `admin start` returned
        self.column = "Shoal"
        self.notes = (
            "Shoal: deploy+start runs `SITE/bin/shoal admin start FILE` and polls the Admin "
            "API (ServerList, over Shoal's wire protocol from a BlockingChannel) every 1 ms "
            "until every server is Active, as supervisord's "
            "RUNNING is polled; `admin start` itself returns once each server also outlived "
            "the start-up grace (shoal.node.startup_grace_ms, 250 ms: an exit within it is a "
            "failure the command reports), shown on its own row. Crash states are polled "
            "in-process through ServerState.",
        )
        self._shoal = Path(sys.executable).with_name("shoal")
        self._channel: BlockingChannel | None = None

    def install(self) -> None:
        if not self._shoal.is_file():
            raise PeerSkipped(f"{self._shoal} missing: run `make bench` (it installs .venv)")
        require_free_port(REGISTRY_PORT)

    def version(self) -> str:
        # Shoal's own services speak the wire protocol (protobuf frames); grpcio carries only
        # application servers' calls. Read from the metadata: the bench imports no grpc.
        return (
            f"shoal {shoal.__version__} (wire protocol {MAGIC.decode()}), "
            f"protobuf {metadata.version('protobuf')}, "
            f"grpcio {metadata.version('grpcio')} (application servers)"
        )

    @property
    def site(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "site"

    def _prepare(self, n: int, servers: str = "") -> Path:
        """A fresh site on the bench's port with `servers` (default: n `sleep 1000`) as its
        descriptor."""
        workdir = self._fresh_workdir()
        subprocess.run(
            [str(self._shoal), "init", str(self.site)], check=True, capture_output=True, cwd=workdir
        )
        etc = self.site / "etc"
        for name in ("master.cfg", "internal.cfg", "shoal.config"):
            path = etc / name
            path.write_text(path.read_text().replace("-p 4061", f"-p {REGISTRY_PORT}"))
        descriptor = self._descriptor
        descriptor.write_text(servers or descriptor_xml("master", n, "/bin/sleep", ["1000"]))
        return descriptor

    @property
    def _descriptor(self) -> Path:
        return self.site / "etc" / "grid" / "bench.xml"

    def start(self, n: int) -> float:
        """`admin start FILE` runs; the figure is when every server is Active (polled through
        the Admin API, as supervisord's RUNNING is polled). `admin start` itself returns once
        each server also outlived the start-up grace: `returned_seconds` keeps that."""
        return self._start(n, self._prepare(n))

    def start_adapters(self, n: int) -> float:
        """As `start`, the servers being n greeters of examples/hello (shoal.server, one
        adapter on a port the system picks): each is Active once it registered the adapter."""
        greeters = [greeter_xml(sid, "always") for sid in server_ids(n, GREETER)]
        return self._start(n, self._prepare(n, application_xml("master", greeters)), GREETER)

    def _start(self, n: int, descriptor: Path, prefix: str = SLEEP) -> float:
        """`admin start DESCRIPTOR` of n servers (ids PREFIX-i): seconds until all Active."""
        self.n, self.prefix = n, prefix
        argv = [str(self.site / "bin" / "shoal"), "admin", "start", str(descriptor)]
        output = self.site / "admin-start.out"  # a file: a full pipe would block the command
        with output.open("wb") as sink:
            start = clock()
            command = subprocess.Popen(
                argv, cwd=self.site, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        try:

            def all_active() -> str | None:
                if command.poll() not in (None, 0):
                    return "exited"
                return "up" if len(self.up_pids()) == n else None  # refused: not up yet

            active_at, seen = poll_until(all_active, _command_seconds(n), "Shoal: all Active")
            command.wait(timeout=_command_seconds(n))
            self.returned_seconds = clock() - start
        finally:
            if command.poll() is None:
                command.kill()
                command.wait()
            self._adopt_master()
        if seen == "exited" or command.returncode != 0:
            said = output.read_text(errors="replace").strip()[-500:]
            raise BenchError(f"{' '.join(argv)} exited {command.returncode}: {said}")
        self._check_all_active()
        return active_at - start

    def _adopt_master(self) -> None:
        """Put the master named by the pidfile (and so its descendants) in the ledger."""
        pid = self._read_master_pid()
        if pid:
            self.ledger.add_root(pid)

    def start_hello(self) -> tuple[str, str]:
        """A fresh site running examples/hello (its SDK greeter, Active once registered), for
        the locator scenario: (the registry's client address, the greeter's adapter id)."""
        self._prepare(0)
        self.n = 1
        try:
            run_cli(
                [
                    str(self.site / "bin" / "shoal"),
                    "admin",
                    "start",
                    str(HELLO / "hello.xml"),
                    f"HELLO_DIR={HELLO}",
                ],
                cwd=self.site,
                timeout=120,
            )
        finally:
            pid = self._read_master_pid()
            if pid:
                self.ledger.add_root(pid)
        self.ledger.add(*self.server_pids())
        return f"127.0.0.1:{REGISTRY_PORT}", "HelloServer.Hello"

    def _read_master_pid(self) -> int | None:
        pidfile = self.site / "var" / "master" / "master.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _api(self) -> BlockingChannel:
        """The registry's client endpoint, one connection, made on the first call. Polled
        before the registry listens: a refused connect raises UnreachableError at once (the
        polls take it as "not up yet") and the next call connects afresh; so does a call after
        the registry went away (a restart)."""
        if self._channel is None:
            self._channel = blocking_channel(f"127.0.0.1:{REGISTRY_PORT}", registry=True)
        return self._channel

    def _server_list(self) -> admin_pb2.ServerListReply:
        return self._api().unary(
            _SERVER_LIST,
            admin_pb2.ServerListRequest(),
            admin_pb2.ServerListReply,
            deadline=_CALL_SECONDS,
        )

    def _check_all_active(self) -> None:
        reply = self._server_list()
        states = {s.server_id: s for s in reply.servers}
        missing = [sid for sid in server_ids(self.n, self.prefix) if sid not in states]
        inactive = [s.server_id for s in states.values() if s.state != common_pb2.ACTIVE]
        if missing or inactive:
            raise BenchError(f"admin start returned, but missing={missing} inactive={inactive}")
        self.ledger.add(*(s.pid for s in states.values()))

    @property
    def daemon_pid(self) -> int:
        pid = self._read_master_pid()
        if pid is None:
            raise BenchError("no master pidfile")
        return pid

    def helper_pids(self) -> list[int]:
        # The node's watchdog process (shoal.node.watchdog), a child of the master.
        master = self.daemon_pid
        return [
            pid
            for pid in _children(master)
            if "watchdog" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        ]

    def status(self, server_id: str) -> ServerStatus:
        reply = self._api().unary(
            _SERVER_STATE,
            admin_pb2.ServerStateRequest(server_id=server_id),
            admin_pb2.ServerStateReply,
            deadline=_CALL_SECONDS,
        )
        self.ledger.add(reply.status.pid)
        return ServerStatus(reply.status.pid, reply.status.state == common_pb2.ACTIVE)

    def server_pids(self) -> list[int]:
        reply = self._server_list()
        return [s.pid for s in reply.servers if s.pid]

    def up_pids(self) -> dict[str, int]:
        reply = self._server_list()
        up = {s.server_id: s.pid for s in reply.servers if s.state == common_pb2.ACTIVE and s.pid}
        self.ledger.add(*up.values())
        return up

    def state_call_rate(self, server_id: str, seconds: float) -> float:
        # The BlockingChannel, as status() polls: one call, its answer, the next call.
        unary = self._api().unary
        request = admin_pb2.ServerStateRequest(server_id=server_id)
        reply = admin_pb2.ServerStateReply
        return closed_loop(
            lambda: unary(_SERVER_STATE, request, reply, deadline=_CALL_SECONDS), seconds
        )

    def undeploy_argvs(self) -> list[list[str]]:
        shoal_cli = str(self.site / "bin" / "shoal")
        return [[shoal_cli, "admin", "ice", "application", "remove", APPLICATION]]

    def restart_everything(self, timeout: float) -> None:
        # The grid's own restart: stop it (servers, node, registry), start it with the
        # descriptor; it returns once every server is Active again.
        try:
            run_cli(
                [str(self.site / "bin" / "shoal"), "admin", "restart", str(self._descriptor)],
                cwd=self.site,
                timeout=timeout,
            )
        finally:
            self._adopt_master()

    def list_argv(self) -> list[str]:
        return [str(self.site / "bin" / "shoal"), "admin", "ice", "server", "list"]

    def stop_argv(self) -> list[str]:
        return [str(self.site / "bin" / "shoal"), "admin", "stop"]

    def cleanup(self) -> list[int]:
        if self.workdir is not None:
            # An interrupted `admin start` may have launched the master (it runs detached) just
            # before its pidfile was written: give the pidfile a moment to appear.
            pid = self._read_master_pid()
            deadline = time.monotonic() + 2
            while pid is None and (self.site / "var").is_dir() and time.monotonic() < deadline:
                time.sleep(0.05)
                pid = self._read_master_pid()
            if pid is not None and not gone(pid):
                self.ledger.add_root(pid)
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        return super().cleanup()


def blocking_channel(address: str, *, registry: bool) -> BlockingChannel:
    """A BlockingChannel to "host:port" (plain tcp), with the registry's default message size
    limit (Ice.MessageSizeMax); `registry`: errors name the registry, else "the server"."""
    host, port = address.rsplit(":", 1)
    endpoint = Endpoint("tcp", host, int(port))
    return BlockingChannel(
        endpoint,
        max_message_bytes=message_size_max_bytes(DEFAULT_MESSAGE_SIZE_MAX_KB),
        peer=RpcPeer.registry(str(endpoint)) if registry else None,
    )


def _command_seconds(n: int) -> float:
    """How long `admin start` or `restart` may take with n servers before it counts as hung."""
    return 120 + 0.2 * n


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found.extend(int(p) for p in text.split())
    return [p for p in found if not gone(p)]


def greeter_xml(server_id: str, activation: str) -> str:
    """One examples/hello greeter as a `<server>`, on the Python Shoal runs (`${PYTHON}`)."""
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" activation="{activation}">'
        f"<option>{HELLO / 'server.py'}</option>{ADAPTER}</server>"
    )
