"""What every grid command shares: the master node's files, the registry target, deadlines,
and the start lock that tells `waitup` and `stop` a grid is coming up.

The start lock is `var/master/master.starting` (beside the master's pidfile) holding the pid of
the `shoal admin start` that writes it before it spawns the master and removes it once the
application is deployed: between the two, the registry may not answer yet, and a grid that is
starting must not look stopped.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.cli.context import CliContext
from shoal.cli.daemon import NodeFiles, live_pid
from shoal.cli.errors import AlreadyRunningError
from shoal.cli.target import internal_properties, locator_endpoint
from shoal.config.properties import Properties
from shoal.config.site import (
    DEFAULT_STARTUP_GRACE_MS,
    MASTER_NODE,
    STARTUP_GRACE_PROPERTY,
    Site,
)
from shoal.errors import ShoalError

if TYPE_CHECKING:  # the client (asyncio, protobuf) loads when a command first needs it
    from shoal.cli.client import AdminClient, RegistryTarget
    from shoal.rpc import admin_pb2

#: How long `is it running?` waits for the registry: it answers in milliseconds when up.
PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class Grid:
    site: Site
    master: NodeFiles

    @classmethod
    def load(cls, context: CliContext) -> Grid:
        site = context.site()
        return cls(site, NodeFiles.load(site, MASTER_NODE))

    @cached_property
    def internal(self) -> Properties:
        """etc/internal.cfg, read once for the registry's address and its channel settings."""
        return internal_properties(self.site)

    @cached_property
    def target(self) -> RegistryTarget:
        """The registry's address and channel settings (built with the client, when first
        needed: `admin start` spawns the master before it loads it)."""
        from shoal.cli.client import RegistryTarget

        return RegistryTarget.from_properties(self.internal, str(self.site.internal_config))

    def master_pid(self) -> int | None:
        """The master node's pid from its pidfile, if that process lives."""
        return live_pid(self.master.pidfile)

    def client(self, *, blocking: bool = False) -> AdminClient:
        """The admin client; `blocking` for commands whose calls are all unary (no event
        loop, no asyncio imported: see AdminClient)."""
        from shoal.cli.client import AdminClient

        return AdminClient(self.target, blocking=blocking)

    def startup_grace(self) -> float:
        """The master node's start-up grace in seconds: how long `admin start` and `waitup`
        watch a new server before they call it up (other nodes are taken to use the same)."""
        properties = self.master.properties
        return properties.get_int(STARTUP_GRACE_PROPERTY, DEFAULT_STARTUP_GRACE_MS) / 1000

    def registry_listens(self) -> bool:
        """Does anything accept connections at the registry's address? Read and probed
        without loading the client (a bad etc/internal.cfg raises here, before anything
        starts)."""
        endpoint = locator_endpoint(self.internal, str(self.site.internal_config))
        return port_open(endpoint.host, endpoint.port)

    @property
    def start_lock(self) -> Path:
        return self.master.pidfile.with_suffix(".starting")

    def starting_pid(self) -> int | None:
        """The pid of a `shoal admin start` still bringing the grid up, if that process lives."""
        return live_pid(self.start_lock)

    def coming_up(self) -> bool:
        """A start in progress, or a master process (whose registry may not answer yet)."""
        return self.starting_pid() is not None or self.master_pid() is not None

    @contextlib.contextmanager
    def starting(self, *, taken: bool = False) -> Iterator[None]:
        """Hold the start lock (one `admin start` at a time) for the `with` block; `taken`:
        this process holds it already (shoal.cli.quick_start took it, then spawned the master)."""
        if not taken:
            self._take_start_lock()
        try:
            yield
        finally:
            if self.starting_pid() == os.getpid():
                self.start_lock.unlink(missing_ok=True)

    def _take_start_lock(self) -> None:
        self.start_lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a second try after removing a dead start's lock
            try:
                fd = os.open(self.start_lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self.starting_pid()
                if owner is not None and owner != os.getpid():
                    raise AlreadyRunningError(
                        f"the grid is being started by another `shoal admin start` (pid {owner})",
                        "`shoal admin waitup` waits for it; `shoal admin stop` stops it",
                    ) from None
                self.start_lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as lock:
                lock.write(f"{os.getpid()}\n")
            break


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
    # A plain connect first: nothing listening (the usual case before a start) is told at
    # once, without a call's deadline.
    if not port_open(endpoint.host, endpoint.port):
        return None
    try:
        return client.run(client.api.registry_ping(deadline=PROBE_SECONDS))
    except ShoalError:
        return None  # something listens there, but it is not a registry that answers


def wait_for_start(
    grid: Grid,
    client: AdminClient,
    seconds: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> admin_pb2.RegistryInfo | None:
    """A grid coming up: wait until its registry answers and the start lock is gone.

    Returns the registry's answer, or None when nothing is starting any more (the start
    failed) or `seconds` ran out (`grid.coming_up()` tells which). Polls with a bounded
    back-off: no event announces another process's lock or listening socket.
    """
    deadline = Deadline(seconds, clock)
    delay = 0.02
    while True:
        info = registry_info(client)
        starting = grid.starting_pid() is not None
        if info is not None and not starting:
            return info
        if not starting and grid.master_pid() is None:
            return registry_info(client)  # it may have finished between the two looks
        left = deadline.left()
        if left is not None and left <= 0:
            return None
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, 0.25)


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
