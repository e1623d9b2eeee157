"""`shoal admin start`'s head start: the master spawned, held, before click and protobuf load.

The master's own start (~0.2 s, mostly loading its code) is the longest step of `admin start`,
and the full command spawns it only once click and its own modules are loaded (~80 ms in). For
a plain site with nothing running, `head_start` does first what shoal.cli.start.start_grid does
first, with built-in modules only: take the start lock, see that no master has a pidfile and
nothing listens at the registry's address, spawn the master held (shoal.cli.daemon.spawn_node's
argv, environment and files). The full command then runs as ever and adopts that master
(shoal.cli.start) instead of spawning one; held, the master does nothing before the full
command has checked the descriptor, and leaves having done nothing if it is refused.

`--wait SECONDS` changes nothing here, with a value click takes (`_wait_seconds` mirrors its
option's type): a value it refuses is a usage error, and spawns nothing. Anything else goes
to the full command untouched (`head_start` returns None having left nothing behind): other
options (`--foreground`, `--help`...), a `--wait` value click refuses, a site or config that
is not plain (the rules of shoal.cli.quick), a start lock or a master pidfile already there (a
start in progress, a running grid, a stale file: the full command tells which), something
listening at the registry's address, a spawn that fails.
"""

from __future__ import annotations

import os
import sys

from shoal.cli.quick import MASTER, PROBE_SECONDS, MasterFiles, connected, master_site, plain_site


class HeadStart:
    """A master spawned held, and the start lock taken for it, for `admin start` to adopt
    (shoal.cli.start); one that is not adopted is called off (shoal.cli.entry)."""

    __slots__ = ("claimed", "files", "hold_fd", "pid", "prefix", "ready_fd")

    def __init__(
        self, prefix: str, files: MasterFiles, pid: int, ready_fd: int, hold_fd: int
    ) -> None:
        self.prefix = prefix
        self.files = files
        self.pid = pid
        self.ready_fd = ready_fd  # the read end of its ready pipe
        self.hold_fd = hold_fd  # the write end of its hold pipe
        self.claimed = False  # start_grid adopted it, or called it off


def head_start(program: str, args: list[str], launcher_prefix: str | None) -> HeadStart | None:
    """The master spawned for `admin start [--wait SECONDS] [WORDS...]`, or None (nothing
    was done)."""
    if args[:2] != ["admin", "start"] or not _plain_start(args[2:]):
        return None
    prefix = plain_site(program, launcher_prefix)
    if prefix is None:
        return None
    found = master_site(prefix)
    if found is None:
        return None
    endpoint, files = found
    if os.path.lexists(files.pidfile):
        return None
    if not _take_start_lock(files.start_lock):
        return None
    spawned = None
    try:
        if not _listens(endpoint):
            spawned = _spawn_held_master(prefix, files)
    except OSError:  # the full command meets it again, and tells it its way
        pass
    finally:
        if spawned is None:  # the full command takes the lock itself
            _drop_start_lock(files.start_lock)
    return None if spawned is None else HeadStart(prefix, files, *spawned)


def _plain_start(words: list[str]) -> bool:
    """Words, and `--wait SECONDS` or `--wait=SECONDS` with a value click takes: a start that
    spawns the master detached."""
    options = iter(words)
    for word in options:
        if word == "--wait":
            if not _wait_seconds(next(options, None)):
                return False
        elif word.startswith("--wait="):
            if not _wait_seconds(word.partition("=")[2]):
                return False
        elif word[:1] == "-":
            return False
    return True


def _wait_seconds(value: str | None) -> bool:
    """Would click take `value` for `admin start --wait`? Its type, click.FloatRange(min=0)
    (shoal.cli.start.start), mirrored: float() takes it, and it is not below 0 (nan and inf
    pass). Click checks only the last `--wait`; every one is checked here (a refusal only
    leaves the start to the full command)."""
    if value is None:  # `--wait` last: click says it needs a value
        return False
    try:
        seconds = float(value)
    except ValueError:
        return False
    return not seconds < 0


def _drop_start_lock(path: str) -> None:
    """The start lock `head_start` took, removed; one removed meanwhile leaves nothing to do
    (the full command goes on as with no head start, not to entry.main's error report)."""
    try:  # noqa: SIM105 (contextlib: ~5 ms more on this path)
        os.unlink(path)
    except FileNotFoundError:
        pass


def _take_start_lock(path: str) -> bool:
    """shoal.cli.grid.Grid.starting's lock, created only where there is none."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:  # one there already (its owner may live or not), or no way to make it
        return False
    with open(fd, "w") as lock:
        lock.write(f"{os.getpid()}\n")
    return True


def _listens(endpoint: tuple[str, int]) -> bool:
    """shoal.cli.grid.port_open: does anything accept connections at the registry's address?"""
    connection = connected(endpoint, PROBE_SECONDS)
    if connection is None:
        return False
    connection.close()
    return True


def _spawn_held_master(prefix: str, files: MasterFiles) -> tuple[int, int, int]:
    """shoal.cli.daemon.spawn_node(site, master, detached=True, hold=True): (pid, the read end
    of its ready pipe, the write end of its hold pipe)."""
    environment = dict(os.environ)
    environment["SHOAL_HOME"] = prefix
    for path in (files.stdout, files.stderr):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, files.stdout, flags, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, files.stderr, flags, 0o644),
    ]
    hold_read, hold_write = os.pipe()
    read_end, write_end = os.pipe()
    argv = [
        sys.executable,
        "-m",
        "shoal.node",
        "--site",
        prefix,
        "--name",
        MASTER,
        "--ready-fd",
        str(write_end),
        "--hold-fd",
        str(hold_read),
    ]
    try:
        os.set_inheritable(write_end, True)
        os.set_inheritable(hold_read, True)
        pid = os.posix_spawn(argv[0], argv, environment, file_actions=actions, setsid=True)
    except OSError:
        os.close(read_end)
        os.close(hold_write)
        raise
    finally:
        os.close(write_end)
        os.close(hold_read)
    return pid, read_end, hold_write
