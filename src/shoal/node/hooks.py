"""Concerns around one server's processes, as hooks: its config file, its output, its readiness.

A hook implements only the points it needs (`ServerHook`'s methods do nothing by default):
`prestart` before each spawn (may add env, output descriptors, cleanups), `poststart` once the
process runs, `destroyed` when the server is forgotten. Readiness is its own one-method hook
(`Readiness`) so that the rule "when is a server Active" lives in one replaceable place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shoal.descriptor.model import ServerDescription
from shoal.errors import ShoalError
from shoal.node.activator import RunningProcess
from shoal.node.logs import OutputLog

__all__ = [
    "ConfigWriter",
    "Launch",
    "OutputCapture",
    "OutputSettings",
    "Readiness",
    "ReadyAtSpawn",
    "ServerHook",
    "config_text",
    "escape_key",
    "escape_value",
    "server_config_path",
    "server_data_dir",
]

_log = logging.getLogger(__name__)


def server_config_path(node_data: Path, server_id: str) -> Path:
    """`IceGrid.Node.Data/servers/ID/config/config`, as IceGrid lays it out."""
    return node_data / "servers" / server_id / "config" / "config"


def server_data_dir(node_data: Path, server_id: str) -> Path:
    """`IceGrid.Node.Data/servers/ID/data` (`${server.data}`): the server's own directory."""
    return node_data / "servers" / server_id / "data"


@dataclass
class Launch:
    """One spawn being prepared: what prestart hooks fill in, and what to undo after it."""

    server: ServerDescription  # expanded, node variables resolved
    config_path: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # added to the spec's environment
    stdout_fd: int | None = None
    stderr_fd: int | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run once spawned or not

    def cleanup(self) -> None:
        for step in reversed(self.cleanups):
            try:
                step()
            except OSError as exc:  # a cleanup must not hide the spawn's own outcome
                _log.warning("server %s: cleanup after spawn failed: %s", self.server.id, exc)
        self.cleanups.clear()


class ServerHook:
    """A concern around a server's processes; override only the points you need."""

    async def prestart(self, launch: Launch) -> None:
        """Before each spawn; a ShoalError or OSError here fails the spawn (nothing runs)."""

    def poststart(self, launch: Launch, process: RunningProcess) -> None:
        """The process runs."""

    def destroyed(self, server_id: str) -> None:
        """The server is gone for good (removed from the descriptor, or the node exits)."""

    async def reconfigure(self, launch: Launch) -> None:
        """A no-restart deploy changed the properties of the running process (`launch` is the
        new description's; nothing is spawned and its env and fds are not used)."""


class Readiness:
    """When is a running server Active? One place, replaced when adapters register."""

    def check(self, server: ServerDescription, process: RunningProcess) -> Awaitable[None] | None:
        """None: ready now. An awaitable: ready when it completes (cancelled if it exits)."""
        raise NotImplementedError


class ReadyAtSpawn(Readiness):
    """Ready as soon as spawned, with or without adapters (until the location service checks
    that adapters registered)."""

    def check(self, server: ServerDescription, process: RunningProcess) -> None:
        return None


# --------------------------------------------------------------------------- config files


class ConfigWriter(ServerHook):
    """Writes `servers/ID/config/config` before each spawn, passed as SHOAL_CONFIG (the path is
    also in the spec); creates `servers/ID/data`. Generated first, the server's own after (later
    wins), `Ice.Admin.ServerId` last: the node's word on who the server is.

    Files are written in worker threads (making directories and files touches the disk): the
    files asked for in one turn of the loop go to two jobs (_WRITERS), each writing its share in
    order, and each spawn goes on as soon as its own file is written. A deploy starting 50
    servers used to send 50 jobs to the executor's threads, which fought over the GIL with the
    loop while it spawned.
    """

    def __init__(self, node_name: str, generated: Mapping[str, str]) -> None:
        self.node_name = node_name
        self.generated = dict(generated)  # e.g. Ice.Default.Locator, for every server
        #: What this node last wrote at each path, and the file's identity right after.
        self._written: dict[Path, tuple[str, _FileId]] = {}
        #: Files asked for in this turn of the loop, for the next job (see _write_queued).
        self._queued: list[_ConfigFile] = []

    async def prestart(self, launch: Launch) -> None:
        text = config_text(launch.server, self.generated, self.node_name)
        path = launch.config_path
        if not self._still_written(path, launch.data_dir, text):
            written = await self._write(path, launch.data_dir, text)
            self._written[path] = (text, written)
        launch.env["SHOAL_CONFIG"] = str(path)

    def _still_written(self, path: Path, data_dir: Path, text: str) -> bool:
        """A restart after a crash: the file this node wrote, with this text, is untouched
        (same inode, time and size) and the data directory is there: nothing to write, and
        the restart skips a round trip to a worker thread."""
        last = self._written.get(path)
        if last is None or last[0] != text:
            return False
        try:
            return _file_id(os.stat(path)) == last[1] and os.path.isdir(data_dir)
        except OSError:
            return False

    def _write(self, path: Path, data_dir: Path, text: str) -> asyncio.Future[_FileId]:
        """Queue the file for this turn's job; its identity once written, or the error."""
        loop = asyncio.get_running_loop()
        if not self._queued:
            loop.call_soon(self._write_queued, loop)
        written: asyncio.Future[_FileId] = loop.create_future()
        self._queued.append(_ConfigFile(path, data_dir, text, written))
        return written

    def _write_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        queued, self._queued = self._queued, []
        # Dealt out in turn, so that the first spawns wait the least; a file asked for twice
        # in one turn goes to one job, which writes it twice in order (one temporary name).
        shares: list[list[_ConfigFile]] = [[] for _ in range(_WRITERS)]
        share_of: dict[Path, int] = {}
        for config in queued:
            shares[share_of.setdefault(config.path, len(share_of) % _WRITERS)].append(config)
        for share in filter(None, shares):
            try:
                loop.run_in_executor(None, _write_configs, loop, share)
            except RuntimeError as exc:  # the executor is shut down: the node is exiting
                for config in share:
                    _settle(config.written, exc)

    async def reconfigure(self, launch: Launch) -> None:
        # Atomic (a rename), so the live process re-reading it sees the old file or the new.
        await self.prestart(launch)


_FileId = tuple[int, int, int]  # inode, mtime in ns, size
#: Worker-thread jobs per burst of config files. Making a file or directory is CPU work in the
#: kernel, at times ~1 ms (ext4 without a journal skips inodes deleted in the last minute, one
#: by one): two jobs keep two cores busy, and start 50 servers ~15% sooner than one job; a job
#: per file (up to 6 threads at once) was slower than either.
_WRITERS = 2


@dataclass(frozen=True)
class _ConfigFile:
    """One config file to write, and the future its spawn waits on."""

    path: Path
    data_dir: Path
    text: str
    written: asyncio.Future[_FileId]


def _file_id(stat: os.stat_result) -> _FileId:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _write_configs(loop: asyncio.AbstractEventLoop, queued: list[_ConfigFile]) -> None:
    """In a worker thread: write each file in turn and tell its waiter at once."""
    for config in queued:
        try:
            outcome: _FileId | BaseException = _write_config(
                config.path, config.data_dir, config.text
            )
        except Exception as exc:  # OSError mostly; a bug must fail the spawn, not hang it
            outcome = exc
        try:
            loop.call_soon_threadsafe(_settle, config.written, outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            return


def _settle(written: asyncio.Future[_FileId], outcome: _FileId | BaseException) -> None:
    if written.done():  # its spawn was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        written.set_exception(outcome)
    else:
        written.set_result(outcome)


def _write_config(path: Path, data_dir: Path, text: str) -> _FileId:
    path.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    try:
        # A new file (a server's first start here) needs no rename: nobody can be reading it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # a server starting now reads the old file or the new, whole
        return _file_id(os.stat(path))
    try:
        _write_all(fd, data)
        return _file_id(os.fstat(fd))
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def config_text(server: ServerDescription, generated: Mapping[str, str], node_name: str) -> str:
    """The server's config file in Ice syntax; `shoal.config.properties.load_file` reads back
    the same pairs (later lines win, as the server's ordered properties mean)."""
    lines = [
        f"# Server {server.id} on node {node_name}: written by the node at each start (and by a"
        " no-restart deploy); edits are lost. Change the descriptor instead.",
    ]
    pairs = [
        ("Ice.ProgramName", server.id),
        *generated.items(),
        *server.properties,
        ("Ice.Admin.ServerId", server.id),
    ]
    for key, value in pairs:
        lines.append(f"{escape_key(key, server.id)}={escape_value(value, key, server.id)}")
    return "\n".join(lines) + "\n"


def _check_line(text: str, key: str, server_id: str) -> None:
    if any(c in text for c in "\r\n\0"):
        raise ShoalError(
            f"server `{server_id}': property `{key}' holds a line break or NUL, which a"
            " config file cannot carry",
            "remove it from the descriptor's property",
        )


def escape_key(key: str, server_id: str = "") -> str:
    """A key as Ice's parser reads it back: `\\`, `#` and `=` escaped."""
    _check_line(key, key, server_id)
    return key.replace("\\", "\\\\").replace("#", "\\#").replace("=", "\\=")


_DOLLAR = re.compile(r"\$(?=[{$])")


def escape_value(value: str, key: str = "", server_id: str = "") -> str:
    """A value as Shoal's reader reads it back: `\\`, `#`, `=`, `${`, `$$` escaped, and `\\ `
    for the spaces at either end (the parser trims them). Tabs at either end are refused."""
    _check_line(value, key, server_id)
    if value != value.strip("\t") and value.strip(" \t"):
        raise ShoalError(
            f"server `{server_id}': property `{key}' starts or ends with a tab, which a config"
            " file cannot keep",
            "remove the tab, or use spaces",
        )
    escaped = value.replace("\\", "\\\\").replace("#", "\\#").replace("=", "\\=")
    # Shoal's reader expands `${VAR}` and reads `$$` as `$`: a `$` before `{` or `$` is doubled
    # so the server gets the value the node resolved (other `$`s, as in `$6$...`, stay as is).
    escaped = _DOLLAR.sub("$$", escaped)
    stripped = escaped.lstrip(" ")
    leading = len(escaped) - len(stripped)
    core = stripped.rstrip(" ")
    trailing = len(stripped) - len(core)
    return "\\ " * leading + core + "\\ " * trailing


# --------------------------------------------------------------------------- output capture


#: At most this much is read from a pipe at a time (asyncio's pipe transports read as much).
_READ_SIZE = 256 * 1024


class _PipeReader:
    """Hands what a server writes on one pipe to its OutputLog, as the loop reads it, until EOF
    (every writer gone); then it closes the pipe.

    A reader callback on the loop rather than asyncio's pipe transport: connecting one takes a
    coroutine (a wake-up of the spawn task for each pipe) and a file object, ~25-45 us more a
    pipe, two pipes a spawn; nothing here needs what a transport adds (flow control, a protocol).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, read_fd: int, log: OutputLog) -> None:
        self.log = log
        self._loop = loop
        self._fd = read_fd
        os.set_blocking(read_fd, False)
        loop.add_reader(read_fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # not seen on a pipe; if it happens, this pipe is done
            _log.warning("cannot read the output of a server (%s): %s", self.log.path, exc)
            data = b""
        if data:
            self.log.write(data)
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)


@dataclass(frozen=True)
class OutputSettings:
    """`IceGrid.Node.Output`, rotation (`shoal.node.log.*`) and `IceGrid.Node.RedirectErrToOut`."""

    directory: Path
    max_bytes: int
    backups: int
    redirect_err_to_out: bool = False


class OutputCapture(ServerHook):
    """Each spawn gets two pipes (one with RedirectErrToOut) read by the event loop into
    `ID.out` / `ID.err`. Pipes rather than files handed to the child: the node decides when to
    rotate (a child holding the file would keep writing into the renamed backup) and sees every
    byte for followers, without polling."""

    def __init__(self, settings: OutputSettings) -> None:
        self.settings = settings
        self._logs: dict[str, tuple[OutputLog, OutputLog]] = {}

    def logs(self, server_id: str) -> tuple[OutputLog, OutputLog]:
        """(stdout log, stderr log) of a server; the same objects for its whole life."""
        found = self._logs.get(server_id)
        if found is None:
            s = self.settings
            out_log = OutputLog(
                s.directory / f"{server_id}.out", max_bytes=s.max_bytes, backups=s.backups
            )
            err_log = OutputLog(
                s.directory / f"{server_id}.err", max_bytes=s.max_bytes, backups=s.backups
            )
            found = self._logs[server_id] = (out_log, err_log)
        return found

    async def prestart(self, launch: Launch) -> None:
        out_log, err_log = self.logs(launch.server.id)
        launch.stdout_fd = self._pipe(launch, out_log)
        if self.settings.redirect_err_to_out:
            launch.stderr_fd = launch.stdout_fd
        else:
            launch.stderr_fd = self._pipe(launch, err_log)

    @staticmethod
    def _pipe(launch: Launch, log: OutputLog) -> int:
        """A pipe whose read end the loop reads into `log`; its write end, for the child."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        # Ours is closed once the child has its copy: EOF then means every writer is gone.
        launch.cleanups.append(lambda: os.close(write_fd))
        try:
            _PipeReader(asyncio.get_running_loop(), read_fd, log)
        except BaseException:
            os.close(read_fd)
            raise
        return write_fd

    def destroyed(self, server_id: str) -> None:
        logs = self._logs.pop(server_id, None)
        if logs is not None:
            for log in logs:
                log.end_followers()
                log.close()

    def close(self) -> None:
        """The node exits: end every follow and close every file."""
        for server_id in list(self._logs):
            self.destroyed(server_id)
