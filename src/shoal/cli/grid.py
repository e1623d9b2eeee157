"""What every grid command shares: the master node's files, the registry target, deadlines."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from shoal.cli.client import AdminClient, RegistryTarget
from shoal.cli.context import CliContext
from shoal.cli.daemon import NodeFiles, live_pid
from shoal.config.site import MASTER_NODE, Site
from shoal.errors import ShoalError
from shoal.rpc import admin_pb2

#: How long `is it running?` waits for the registry: it answers in milliseconds when up.
PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class Grid:
    site: Site
    master: NodeFiles
    target: RegistryTarget

    @classmethod
    def load(cls, context: CliContext) -> Grid:
        site = context.site()
        return cls(site, NodeFiles.load(site, MASTER_NODE), RegistryTarget.for_site(site))

    def master_pid(self) -> int | None:
        """The master node's pid from its pidfile, if that process lives."""
        return live_pid(self.master.pidfile)

    def client(self) -> AdminClient:
        return AdminClient(self.target)


def local_pid(info: admin_pb2.RegistryInfo | None) -> int | None:
    """The registry's pid if it runs on this host (a pid elsewhere means nothing here)."""
    if info is None or not info.pid:
        return None
    if info.hostname and info.hostname not in (socket.gethostname(), socket.getfqdn()):
        return None
    return int(info.pid)


def port_open(host: str | None, port: int | None, seconds: float = PROBE_SECONDS) -> bool:
    """A plain TCP connect: is anything listening there?"""
    if not port:
        return False
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=seconds):
            return True
    except OSError:
        return False


def registry_info(client: AdminClient) -> admin_pb2.RegistryInfo | None:
    """The registry's RegistryPing answer, or None when nothing answers at its endpoint."""
    endpoint = client.target.endpoint
    # Connect first: a refused gRPC call leaves the (process-wide) subchannel in reconnect
    # back-off, which would fail the calls to a registry started right after this probe.
    if not port_open(endpoint.host, endpoint.port):
        return None
    try:
        return client.run(client.api.registry_ping(deadline=PROBE_SECONDS))
    except ShoalError:
        return None  # something listens there, but it is not a registry that answers


@dataclass
class Deadline:
    """`--wait SECONDS` as one budget over several steps; None waits for ever."""

    seconds: float | None
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._end = None if self.seconds is None else self.clock() + self.seconds

    def left(self) -> float | None:
        if self._end is None:
            return None
        return max(0.0, self._end - self.clock())


def relative(site: Site, path: object) -> str:
    """A path as the user would type it from the site (relative when inside it)."""
    text = str(path)
    prefix = str(site.prefix) + "/"
    return text[len(prefix) :] if text.startswith(prefix) else text
