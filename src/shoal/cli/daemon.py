"""Process plumbing for the CLI: start a node daemon detached, read its ready pipe, wait for pids.

The contract is docs/runtime.md: the daemon writes one line to the ready fd (`ready PID` or
`error MESSAGE<TAB>HINT`) then closes it. Waiting is event-driven: poll(2) on the pipe, and
pidfd_open(2) for a process's exit (a bounded back-off poll only where pidfd is missing).
"""

from __future__ import annotations

import enum
import errno
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shoal.config.properties import Properties
from shoal.config.site import MASTER_NODE, Site, load_node_config
from shoal.errors import SiteError

__all__ = [
    "NodeFiles",
    "ReadyKind",
    "ReadyOutcome",
    "Spawned",
    "live_pid",
    "parse_ready_line",
    "pid_alive",
    "read_pidfile",
    "read_ready",
    "spawn_node",
    "tail_lines",
    "wait_for_exit",
]

_READ_CHUNK = 4096
_MAX_READY_LINE = 64 * 1024


# ------------------------------------------------------------------------------- node files


@dataclass(frozen=True)
class NodeFiles:
    """Where a node's files are, from etc/internal.cfg + etc/NAME.cfg (+ overrides).

    Mirrored for the master by shoal.cli.quick.MasterFiles (`admin start`'s head start, which
    loads none of this); tests/unit/cli/test_quick.py checks they name the same files."""

    name: str
    config: Path
    pidfile: Path
    stdout: Path
    stderr: Path
    data_dir: Path
    properties: Properties

    @classmethod
    def load(cls, site: Site, name: str, overrides: Sequence[str] = ()) -> NodeFiles:
        config = site.node_config(name)
        if not config.is_file() and name == MASTER_NODE:
            raise SiteError(
                f"the master node has no config: {config} does not exist", hint=_master_hint(config)
            )
        if not config.is_file():
            raise SiteError(
                f"node {name} has no config: {config} does not exist",
                hint=f"copy etc/node1.cfg to {config} and replace node1 by {name}, "
                "or give the name of a configured node (SHOAL_NODE, or the argument)",
            )
        properties = load_node_config(site, name, overrides)
        data_dir = properties.get_path("IceGrid.Node.Data", site.prefix, f"var/{name}")
        pid_name = properties.get("IceGrid.Node.Name", name) or name
        return cls(
            name=name,
            config=config,
            pidfile=data_dir / f"{pid_name}.pid",
            stdout=properties.get_path("Ice.StdOut", site.prefix, f"var/log/{name}.out"),
            stderr=properties.get_path("Ice.StdErr", site.prefix, f"var/log/{name}.err"),
            data_dir=data_dir,
            properties=properties,
        )


def _master_hint(config: Path) -> str:
    """What a master's config needs, and how to put the shipped one back."""
    from importlib import resources

    template = resources.files("shoal") / "data" / "etc" / "master.cfg"
    return (
        "the master's config sets IceGrid.Node.CollocateRegistry=1, "
        "IceGrid.Registry.Client.Endpoints (the address of Ice.Default.Locator in "
        "etc/internal.cfg), IceGrid.Registry.Internal.Endpoints, IceGrid.Registry.Data and "
        f"IceGrid.Node.Endpoints; restore the shipped one with `cp {template} {config}` and "
        "set its registry port to the one in etc/internal.cfg"
    )


# ------------------------------------------------------------------------------- pids


def read_pidfile(path: Path) -> int | None:
    """The pid a pidfile names, or None if it is missing, empty or not a number."""
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None
    if not text.isdigit() or int(text) <= 0:
        return None
    return int(text)


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    return _proc_state(pid) != "Z"


def _looks_like_shoal(pid: int) -> bool:
    # A pidfile left by a crash may name a pid the kernel gave to another program since.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell (another user's process): trust the pidfile
    return b"shoal" in cmdline


def live_pid(pidfile: Path) -> int | None:
    """The pid in `pidfile` if that process is alive and is a Shoal process, else None."""
    pid = read_pidfile(pidfile)
    if pid is None or not pid_alive(pid) or not _looks_like_shoal(pid):
        return None
    return pid


def _reap_if_child(pid: int) -> int | None:
    """Reap `pid` if it is our exited child; its wait status, or None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if done == pid else None


def wait_for_exit(
    pid: int, timeout: float | None, *, clock: Callable[[], float] = time.monotonic
) -> bool:
    """Wait until `pid` has exited: True once gone, False after `timeout` seconds (None: ever).

    Uses a pidfd (woken by the kernel at exit). Our own children are left for
    `child_exit_status` to reap (a zombie counts as gone).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        return _wait_for_exit_polling(pid, timeout, clock)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        deadline = None if timeout is None else clock() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - clock())
            if poller.poll(None if left is None else int(left * 1000) + 1):
                return True
            if deadline is not None and clock() >= deadline:
                return not pid_alive(pid)
    finally:
        os.close(pidfd)


def _wait_for_exit_polling(pid: int, timeout: float | None, clock: Callable[[], float]) -> bool:
    """Fallback without pidfd (old kernels): a bounded back-off from 10 ms to 200 ms."""
    deadline = None if timeout is None else clock() + timeout
    pause = 0.01
    while True:
        if not pid_alive(pid):
            return True
        if deadline is not None and clock() >= deadline:
            return False
        left = pause if deadline is None else min(pause, max(0.0, deadline - clock()))
        time.sleep(left)
        pause = min(pause * 2, 0.2)


def exit_status_text(status: int) -> str:
    """A wait status as words: "exited with code 1", "killed by SIGKILL"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"killed by {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


# ------------------------------------------------------------------------------- ready pipe


class ReadyKind(enum.Enum):
    READY = "ready"  # `ready PID`
    ERROR = "error"  # `error MESSAGE\tHINT`
    CLOSED = "closed"  # the pipe closed with no line: the daemon died
    TIMED_OUT = "timed out"  # nothing yet: a node still waiting for its registry
    GARBLED = "garbled"  # a line that is neither


@dataclass(frozen=True)
class ReadyOutcome:
    kind: ReadyKind
    pid: int = 0
    message: str = ""
    hint: str = ""


def parse_ready_line(line: str) -> ReadyOutcome:
    """`ready 123` → READY; `error MESSAGE\tHINT` → ERROR; anything else → GARBLED."""
    line = line.rstrip("\r\n")
    word, _, rest = line.partition(" ")
    if word == "ready" and rest.strip().isdigit():
        return ReadyOutcome(ReadyKind.READY, pid=int(rest.strip()))
    if word == "error":
        message, _, hint = rest.partition("\t")
        return ReadyOutcome(ReadyKind.ERROR, message=message.strip(), hint=hint.strip())
    return ReadyOutcome(ReadyKind.GARBLED, message=line[:200])


def read_ready(
    fd: int, timeout: float | None, *, clock: Callable[[], float] = time.monotonic
) -> ReadyOutcome:
    """Wait (poll, no sleeps) for the daemon's one line on `fd`; the caller closes `fd`."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    deadline = None if timeout is None else clock() + timeout
    received = b""
    while b"\n" not in received:
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0:
            return ReadyOutcome(ReadyKind.TIMED_OUT)
        if not poller.poll(None if left is None else int(left * 1000) + 1):
            continue
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if not chunk:
            break
        received += chunk
        if len(received) > _MAX_READY_LINE:
            break
    line, newline, _ = received.partition(b"\n")
    if not newline and not line:
        return ReadyOutcome(ReadyKind.CLOSED)
    return parse_ready_line(line.decode("utf-8", errors="replace"))


# ------------------------------------------------------------------------------- spawning


@dataclass(frozen=True)
class Spawned:
    """A daemon just started: its pid, and the read end of its ready pipe (caller closes).

    `hold_fd`: spawned held (`spawn_node(hold=True)`), the write end of its hold pipe: the
    daemon has imported its code and waits there, before it touches anything, for `release`.
    """

    pid: int
    ready_fd: int
    hold_fd: int | None = None


#: What a held daemon reads on its hold pipe to go on; anything else (EOF) makes it exit 0.
GO = b"go\n"


def release(spawned: Spawned, go: bool) -> None:
    """Let a held daemon go on, or (go=False) have it exit at once having done nothing."""
    if spawned.hold_fd is None:
        return
    try:
        if go:
            os.write(spawned.hold_fd, GO)
    except BrokenPipeError:
        pass  # it died while loading: its ready pipe tells how (read_ready)
    finally:
        os.close(spawned.hold_fd)


def node_command(
    site: Site,
    name: str,
    ready_fd: int,
    overrides: Sequence[str] = (),
    hold_fd: int | None = None,
) -> list[str]:
    """The daemon's argv (docs/runtime.md): `python -m shoal.node --site P --name N ...`.

    Not through the `shoal` command: the daemon's own entry point skips click and the CLI's
    modules and starts leaner (shoal/node/__main__.py)."""
    held = ["--hold-fd", str(hold_fd)] if hold_fd is not None else []
    return [
        sys.executable,
        "-m",
        "shoal.node",
        "--site",
        str(site.prefix),
        "--name",
        name,
        "--ready-fd",
        str(ready_fd),
        *held,
        *overrides,
    ]


def spawn_node(
    site: Site,
    files: NodeFiles,
    overrides: Sequence[str] = (),
    *,
    detached: bool = True,
    environ: Mapping[str, str] | None = None,
    hold: bool = False,
) -> Spawned:
    """Start `files.name`'s daemon. Detached: new session, stdin /dev/null, output appended to
    Ice.StdOut / Ice.StdErr; attached (`--foreground`): it shares our terminal and session.

    `hold`: the daemon loads its code (the longest part of its start, ~0.2 s), then waits for
    `release` before it reads a config, writes a pidfile or opens a port: the caller checks
    its input meanwhile, and an input that is refused starts nothing.

    Mirrored by shoal.cli.quick_start._spawn_held_master (the master, detached and held, before
    click loads): a change here goes there too; the equality tests in
    tests/unit/cli/test_quick_start.py guard that.
    """
    environment = dict(os.environ if environ is None else environ)
    environment["SHOAL_HOME"] = str(site.prefix)
    hold_read, hold_write = os.pipe() if hold else (None, None)
    read_end, write_end = os.pipe()
    actions: list[tuple[int, int, str, int, int] | tuple[int, int]] = []
    if detached:
        for path in (files.stdout, files.stderr):
            path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(files.stdout), flags, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, str(files.stderr), flags, 0o644),
        ]
    argv = node_command(site, files.name, write_end, overrides, hold_read)
    try:
        os.set_inheritable(write_end, True)
        if hold_read is not None:
            os.set_inheritable(hold_read, True)
        pid = os.posix_spawn(
            argv[0],
            argv,
            environment,
            file_actions=actions,
            setsid=detached,
        )
    except OSError:
        os.close(read_end)
        if hold_write is not None:
            os.close(hold_write)
        raise
    finally:
        os.close(write_end)
        if hold_read is not None:
            os.close(hold_read)
    return Spawned(pid=pid, ready_fd=read_end, hold_fd=hold_write)


def child_exit_status(pid: int) -> int | None:
    """The wait status of our child `pid` once it has exited (reaping it), else None."""
    return _reap_if_child(pid)


def tail_lines(path: Path, count: int = 2) -> list[str]:
    """The last `count` non-empty lines of a log file (OMERO shows 2 after a failed start)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - 8192))
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise
    return [line for line in text.splitlines() if line.strip()][-count:]
