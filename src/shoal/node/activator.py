"""The one place that spawns, signals and reaps server processes (asyncio, Linux).

`Activator.spawn(SpawnSpec)` starts a server in its own process group and returns a
`RunningProcess`; its `wait()` gives the `Exit`. `signal` and `stop` reach the whole group.

Errors (all `ShoalError`):

    ShoalError
    └── ActivatorError       the activator cannot do what was asked
        ├── SpawnError       nothing was started: exe, working directory, user or log file
        ├── BadSignal        not a signal IceGrid's sendSignal accepts
        └── NotRunning       the process was already reaped

How exits are seen (one reaper per pid, never two): each process gets a pidfd
(`os.pidfd_open`) watched by the event loop (`add_reader`); readable means exited, and
`waitid(P_PIDFD)` reaps it. Where pidfd is missing (Linux < 5.3, a seccomp filter) or runs out
(EMFILE), a SIGCHLD handler on the loop checks each process it tracks with `waitid(WNOHANG)`.
Nothing polls. Nobody else may `wait(-1)` in the node: that would steal our children's statuses.

Why `subprocess.Popen` and not `asyncio.create_subprocess_exec`: asyncio's child watcher would
reap (3.11's default starts one thread per child). Nor `os.posix_spawn`: it can set the process
group but not the working directory, umask or user. Popen sets cwd, umask, process group, user
and groups natively, closes fds cheaply (close_range or /proc/self/fd) and reports exec failures
as OSError before it returns. Never with a `preexec_fn`: that costs the vfork fast path (~12 ms
instead of ~1 ms per spawn) and runs Python in the forked child, which can crash there when gRPC
threads run in the node (SIGSEGV in threading's after-fork hooks). After that the Popen object
is never asked to poll, wait or send_signal (send_signal polls, i.e. may reap); once we reap,
its `returncode` is set so that neither its `__del__` nor `subprocess._cleanup` ever waits for
the pid.

Life of a server process:

    spawn ──> running ──(exit, or signal/stop)──> leader is a zombie ──> group SIGKILLed ──> reaped
                                                                            (record removed, Exit)

At reap time the leader is a zombie, so its pid still holds the group id: the SIGKILL sweep
reaches only what the server left in its group, never a stranger that got the number.

When the node dies (even by SIGKILL) its servers die too: the node's watchdog process
(`shoal.node.watchdog`, given as `watchdog=`) is told of each process group as it is spawned
(`track`) and reaped (`untrack`); when its pipe from the node closes it kills the groups still
tracked, a server's children included. Should the watchdog die with the node, a restarted node
kills the leftovers from its pid record (`pidrecord.reap_leftovers`, start time checked).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pwd
import resource
import signal as signals
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from shoal.descriptor.model import ServerDescription
from shoal.errors import ShoalError
from shoal.node.pidrecord import PidEntry, PidRecord, process_start_time

__all__ = [
    "SIGNAL_NAMES",
    "Activator",
    "ActivatorError",
    "BadSignal",
    "Exit",
    "GroupTracker",
    "NotRunning",
    "RunningProcess",
    "SpawnError",
    "SpawnSpec",
    "clean_base_env",
    "parse_signal",
    "raise_fd_limit",
    "signal_name",
]

_log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- errors


class ActivatorError(ShoalError):
    """The activator cannot do what was asked."""


class SpawnError(ActivatorError):
    """A server could not be started; nothing runs. `errno` is set for an exec-time failure."""

    def __init__(
        self, message: str, *, server_id: str, errno: int | None = None, hint: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.server_id = server_id
        self.errno = errno


class BadSignal(ActivatorError):
    """Not a signal IceGrid's sendSignal accepts."""


class NotRunning(ActivatorError):
    """The process was already reaped: its pid and group id may belong to someone else now."""


# --------------------------------------------------------------------------- signals

# IceGrid's sendSignal names (Activator.cpp), in its order; any other name is refused.
SIGNAL_NAMES: Mapping[str, int] = MappingProxyType(
    {
        signum.name: int(signum)
        for signum in (
            signals.SIGHUP, signals.SIGINT, signals.SIGQUIT, signals.SIGILL, signals.SIGTRAP,
            signals.SIGABRT, signals.SIGBUS, signals.SIGFPE, signals.SIGUSR1, signals.SIGSEGV,
            signals.SIGUSR2, signals.SIGPIPE, signals.SIGALRM, signals.SIGKILL, signals.SIGTERM,
        )
    }
)  # fmt: skip


def parse_signal(sig: str | int) -> int:
    """A signal number from one of SIGNAL_NAMES or a number 1-63 (int or decimal string)."""
    if isinstance(sig, str):
        if sig in SIGNAL_NAMES:
            return SIGNAL_NAMES[sig]
        number = int(sig) if sig.isascii() and sig.isdigit() else 0
    else:
        number = sig if isinstance(sig, int) and not isinstance(sig, bool) else 0
    if not 1 <= number <= 63:
        raise BadSignal(
            f"bad signal `{sig}'",
            hint=f"use a number from 1 to 63 or one of {', '.join(SIGNAL_NAMES)}",
        )
    return number


def signal_name(number: int) -> str:
    """`SIGTERM` for 15; the number itself for one with no name (real-time signals)."""
    try:
        return signals.Signals(number).name
    except ValueError:
        return str(number)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Exit:
    """How a process ended. `code` when it exited, `signal` when a signal killed it; both None
    when its status was lost (someone else reaped it). `time` comes from the activator's clock."""

    pid: int
    code: int | None
    signal: int | None
    time: float
    core_dumped: bool = False

    @property
    def returncode(self) -> int:
        """subprocess's convention: the exit code, or minus the signal number (-255: lost)."""
        if self.signal is not None:
            return -self.signal
        return self.code if self.code is not None else -255

    @property
    def reason(self) -> str:
        """IceGrid's wording: `exit code 3`, `signal SIGSEGV` (+ ` (core dumped)`)."""
        if self.signal is not None:
            core = " (core dumped)" if self.core_dumped else ""
            return f"signal {signal_name(self.signal)}{core}"
        if self.code is not None:
            return f"exit code {self.code}"
        return "unknown status (reaped elsewhere)"


# Taken from the node's environment into every server's; everything else must be asked for.
_BASE_ENV_NAMES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def clean_base_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The part of the node's environment every server gets: PATH, HOME, locale, TZ, SHOAL_HOME."""
    environ = os.environ if environ is None else environ
    base = {
        name: value
        for name, value in environ.items()
        if name in _BASE_ENV_NAMES or name.startswith("LC_") or name == "SHOAL_HOME"
    }
    base.setdefault("PATH", _DEFAULT_PATH)
    return base


@dataclass(frozen=True)
class SpawnSpec:
    """Everything needed to start one server process, and nothing about XML.

    `argv[0]` is looked up in `env["PATH"]` when it has no slash, else is relative to `cwd`.
    Output files are opened in append mode (None: /dev/null). `user` (empty: the node's own)
    needs the node to run as root.
    """

    server_id: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    stdout_path: str | None = None
    stderr_path: str | None = None
    user: str = ""
    umask: int = 0o022

    def __post_init__(self) -> None:
        if not self.argv or not self.argv[0]:
            raise SpawnError(f"server `{self.server_id}': no executable", server_id=self.server_id)
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))

    @classmethod
    def for_server(
        cls,
        server: ServerDescription,
        *,
        config_path: str,
        data_dir: str,
        stdout_path: str | None = None,
        stderr_path: str | None = None,
        base_env: Mapping[str, str] | None = None,
        umask: int = 0o022,
    ) -> SpawnSpec:
        """The spec of an expanded server on this node.

        env: `base_env` (default `clean_base_env()`), then the server's `envs`, then
        SHOAL_CONFIG and SHOAL_SERVER_ID (the node's, not to be overridden). cwd: `pwd`,
        relative to `data_dir` when relative, else `data_dir`.
        """
        env = dict(clean_base_env() if base_env is None else base_env)
        for assignment in server.envs:
            name, equals, value = assignment.partition("=")
            if not equals or not name:
                raise SpawnError(
                    f"server `{server.id}': env `{assignment}' is not NAME=VALUE",
                    server_id=server.id,
                )
            env[name] = value
        env["SHOAL_CONFIG"] = config_path
        env["SHOAL_SERVER_ID"] = server.id
        return cls(
            server_id=server.id,
            argv=(server.exe, *server.options),
            env=env,
            cwd=os.path.join(data_dir, server.pwd) if server.pwd else data_dir,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
            user=server.user,
            umask=umask,
        )


# --------------------------------------------------------------------------- parent death


class GroupTracker(Protocol):
    """Who kills a dead node's servers (`shoal.node.watchdog.Watchdog`). Its methods must not
    raise nor block: they run on the event loop, right after a spawn and a reap."""

    def track(self, pgid: int, start_time: int) -> None:
        """A server's process group now exists; its leader has this /proc start time."""

    def untrack(self, pgid: int) -> None:
        """That server was reaped: its group id may be reused from now on."""


# --------------------------------------------------------------------------- processes


class RunningProcess:
    """One server process from spawn until reaped; made by `Activator.spawn` only.

    It leads its own process group (`pgid == pid`). `exit` is None until it has been reaped.
    """

    def __init__(
        self,
        spec: SpawnSpec,
        popen: subprocess.Popen[bytes],
        start_time: int,
        spawned_at: float,
        exited: asyncio.Future[Exit],
    ) -> None:
        self.spec = spec
        self.pid = popen.pid
        self.pgid = popen.pid
        self.start_time = start_time  # /proc/PID/stat field 22, to tell a reused pid apart
        self.spawned_at = spawned_at
        self._popen = popen
        self._exited = exited
        self._pidfd: int | None = None

    @property
    def server_id(self) -> str:
        return self.spec.server_id

    @property
    def exit(self) -> Exit | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> Exit:
        """The exit, once reaped. Cancelling a waiter does not disturb the others."""
        return await asyncio.shield(self._exited)

    def when_exited(self, callback: Callable[[Exit], None]) -> None:
        """Call `callback` with the Exit once the process is reaped (at once if it is): what
        `wait` gives, without a task to await it (a stop of 50 servers makes 50 of those)."""
        self._exited.add_done_callback(lambda exited: callback(exited.result()))

    def __repr__(self) -> str:
        state = self.exit.reason if self.exit else "running"
        return f"<RunningProcess {self.server_id} pid={self.pid} {state}>"


class Activator:
    """Spawns, signals and reaps server processes for one node, on one event loop.

    `use_pidfd=False` forces the SIGCHLD watcher (which must run on the main thread's loop).
    `watchdog` is told of every process group spawned and reaped, so that the node's death
    takes its servers along (None: they would outlive a killed node). There is no pre-exec
    callback (PR_SET_PDEATHSIG was one): it crashed children of a process running gRPC threads
    and forced fork instead of vfork.
    `run_as_root` defaults to the effective uid being 0; `clock` stamps spawns and exits.
    Spawn only from the loop's thread.
    """

    def __init__(
        self,
        *,
        record: PidRecord | None = None,
        use_pidfd: bool = True,
        watchdog: GroupTracker | None = None,
        run_as_root: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._record = record
        self._use_pidfd = use_pidfd and hasattr(os, "pidfd_open")
        self._watchdog = watchdog
        self._run_as_root = os.geteuid() == 0 if run_as_root is None else run_as_root
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._running: dict[int, RunningProcess] = {}
        self._sigchld_pids: set[int] = set()  # processes the SIGCHLD watcher reaps
        self._sigchld_installed = False

    @property
    def running(self) -> Mapping[int, RunningProcess]:
        """Processes spawned and not yet reaped, by pid."""
        return MappingProxyType(self._running)

    def watcher_of(self, process: RunningProcess) -> str:
        """`pidfd` or `sigchld`: which watcher will reap `process` (for status and tests)."""
        return "pidfd" if process._pidfd is not None else "sigchld"

    # ----------------------------------------------------------------- spawn

    async def spawn(
        self, spec: SpawnSpec, *, stdout_fd: int | None = None, stderr_fd: int | None = None
    ) -> RunningProcess:
        """Start `spec`'s process; a SpawnError when it cannot, before anything runs.

        `stdout_fd`/`stderr_fd`, when given, are open descriptors (the write ends of the node's
        output pipes) used instead of the spec's paths; the caller keeps and closes them.
        """
        loop = self._bind_loop()
        if not self._use_pidfd:
            self._install_sigchld(loop)  # before the fork, so no exit goes unseen
        if spec.user:
            # getpwnam and getgrouplist may ask NSS (LDAP, sssd): seconds, off the loop.
            user, group, groups, env = await asyncio.to_thread(self._credentials, spec)
        else:
            user, group, groups, env = self._credentials(spec)
        with ExitStack() as opened:
            stdout = (
                stdout_fd
                if stdout_fd is not None
                else self._open_output(opened, spec, spec.stdout_path)
            )
            if stderr_fd is not None:
                stderr = stderr_fd
            elif spec.stderr_path == spec.stdout_path and stdout_fd is None:
                stderr = stdout
            else:
                stderr = self._open_output(opened, spec, spec.stderr_path)
            try:
                # Blocks until the exec (or its failure): ~1 ms (vfork, unless `user` is set).
                popen = subprocess.Popen(  # noqa: ASYNC220
                    spec.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    cwd=spec.cwd,
                    env=env,
                    close_fds=True,
                    process_group=0,
                    umask=spec.umask,
                    user=user,
                    group=group,
                    extra_groups=groups,
                )
            except OSError as exc:
                raise _exec_error(spec, exc) from exc
        process = RunningProcess(
            spec,
            popen,
            start_time=process_start_time(popen.pid) or 0,
            spawned_at=self._clock(),
            exited=loop.create_future(),
        )
        self._running[process.pid] = process
        if self._watchdog is not None:
            # First thing after the exec: from here on, the node's death takes the group along.
            self._watchdog.track(process.pgid, process.start_time)
        self._watch(loop, process)
        if self._record is not None:
            try:
                self._record.add(
                    PidEntry(spec.server_id, process.pid, process.pgid, process.start_time)
                )
            except OSError as exc:
                # Unrecorded, a crash of the node could orphan its children: do not run it.
                os.killpg(process.pgid, signals.SIGKILL)
                await process.wait()
                raise SpawnError(
                    f"server `{spec.server_id}': cannot write the pid record: {exc}",
                    server_id=spec.server_id,
                    hint=f"check {self._record.record_dir} is writable",
                ) from exc
        return process

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._thread = loop, threading.get_ident()
        elif loop is not self._loop or threading.get_ident() != self._thread:
            raise ActivatorError(
                "the activator is bound to another event loop or thread",
                hint="spawn only from the node's event loop thread",
            )
        return loop

    def _credentials(
        self, spec: SpawnSpec
    ) -> tuple[int | None, int | None, list[int] | None, dict[str, str]]:
        """uid, gid, groups and env for `spec.user`: Nones and the spec's env without a user."""
        env = dict(spec.env)
        if not spec.user:
            return None, None, None, env
        if not self._run_as_root:
            raise SpawnError(
                f"server `{spec.server_id}': user={spec.user} needs the node to run as root",
                server_id=spec.server_id,
                hint="run the node as root, or remove the server's user attribute",
            )
        try:
            account = pwd.getpwnam(spec.user)
        except KeyError:
            raise SpawnError(
                f"server `{spec.server_id}': unknown user `{spec.user}'",
                server_id=spec.server_id,
            ) from None
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
        groups = os.getgrouplist(account.pw_name, account.pw_gid)
        return account.pw_uid, account.pw_gid, groups, env

    @staticmethod
    def _open_output(opened: ExitStack, spec: SpawnSpec, path: str | None) -> int:
        if path is None:
            return subprocess.DEVNULL
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SpawnError(
                f"server `{spec.server_id}': cannot open output file `{path}': {exc.strerror}",
                server_id=spec.server_id,
                errno=exc.errno,
            ) from exc
        opened.callback(os.close, fd)
        return fd

    # ----------------------------------------------------------------- signals and stop

    def signal(self, process: RunningProcess, sig: str | int) -> int:
        """Send `sig` (validated as sendSignal does) to the process group; the number sent."""
        number = parse_signal(sig)
        if process.exit is not None:
            raise NotRunning(f"server `{process.server_id}' (pid {process.pid}) is not running")
        # Not reaped yet, so the group id is still ours even if the leader has exited.
        os.killpg(process.pgid, number)
        return number

    async def stop(self, process: RunningProcess, timeout: float) -> Exit:  # noqa: ASYNC109
        """SIGTERM to the group; after `timeout` seconds, SIGKILL to the group; the Exit.

        The lifecycle state machine drives these steps itself; this is the shutdown shortcut.
        """
        if process.exit is not None:
            return process.exit
        # Step 1: SIGTERM sent; wait up to the deadline.
        os.killpg(process.pgid, signals.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            pass
        if process.exit is not None:  # reaped while the wait was being cancelled
            return process.exit
        # Step 2: deadline passed; SIGKILL sent (the group is still ours: not reaped yet).
        os.killpg(process.pgid, signals.SIGKILL)
        return await process.wait()

    async def stop_all(self, timeout: float) -> list[Exit]:  # noqa: ASYNC109
        """Stop every running process at once (node shutdown); their exits."""
        return list(
            await asyncio.gather(*(self.stop(p, timeout) for p in list(self._running.values())))
        )

    def close(self) -> None:
        """Stop watching and close the pid record; refused while processes are running (stop
        them first)."""
        if self._running:
            raise ActivatorError(
                f"{len(self._running)} server process(es) still running",
                hint="stop_all() before close()",
            )
        if self._record is not None:
            self._record.close()
        if self._sigchld_installed and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_signal_handler(signals.SIGCHLD)
        self._sigchld_installed = False

    # ----------------------------------------------------------------- exit waiting

    def _watch(self, loop: asyncio.AbstractEventLoop, process: RunningProcess) -> None:
        """Give `process` to exactly one watcher: its pidfd if possible, else SIGCHLD."""
        if self._use_pidfd:
            try:
                process._pidfd = os.pidfd_open(process.pid)
            except OSError as exc:
                if exc.errno in (errno.ENOSYS, errno.EPERM):  # pragma: no cover - old kernel
                    self._use_pidfd = False  # for good; EMFILE and such: this process only
                _log.warning("no pidfd for pid %d (%s): watching SIGCHLD", process.pid, exc)
            else:
                loop.add_reader(process._pidfd, self._reap, process)
                return
        self._install_sigchld(loop)
        self._sigchld_pids.add(process.pid)
        loop.call_soon(self._on_sigchld)  # it may have exited before it was tracked

    def _install_sigchld(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._sigchld_installed:
            # Replaces any other SIGCHLD handler on this loop: one Activator per loop.
            try:
                loop.add_signal_handler(signals.SIGCHLD, self._on_sigchld)
            except (RuntimeError, ValueError) as exc:  # not the main thread's loop
                raise ActivatorError(
                    f"cannot watch SIGCHLD: {exc}",
                    hint="without pidfd, run the activator on the main thread's event loop",
                ) from exc
            self._sigchld_installed = True
        # A burst of exits fills asyncio's wakeup socket, and each byte that does not fit is
        # reported as an error. Losing one is harmless: a SIGCHLD byte is already pending, and
        # its handler checks every tracked process. Done at each spawn, since every
        # add_signal_handler (ours or the node's) turns the warning back on; signals are
        # blocked meanwhile so that none is lost while the fd is swapped.
        blocked = signals.pthread_sigmask(signals.SIG_BLOCK, signals.valid_signals())
        try:
            wakeup_fd = signals.set_wakeup_fd(-1)
            signals.set_wakeup_fd(wakeup_fd, warn_on_full_buffer=False)
        finally:
            signals.pthread_sigmask(signals.SIG_SETMASK, blocked)

    def _on_sigchld(self) -> None:
        """SIGCHLD (signals coalesce, so check every tracked process): reap the exited ones."""
        for pid in list(self._sigchld_pids):
            try:
                # WNOWAIT: look without reaping; _reap sweeps the group first.
                exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:  # pragma: no cover - someone else reaped it
                exited = True
            if exited:
                self._reap(self._running[pid])

    def _reap(self, process: RunningProcess) -> None:
        """The process has exited (a zombie): kill what it left in its group, reap it, publish."""
        assert self._loop is not None
        # The zombie leader holds the group id: this reaches nobody outside the group.
        with suppress(ProcessLookupError):
            os.killpg(process.pgid, signals.SIGKILL)
        try:
            if process._pidfd is not None:
                status = os.waitid(os.P_PIDFD, process._pidfd, os.WEXITED | os.WNOHANG)
            else:
                status = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG)
        except ChildProcessError:  # pragma: no cover - someone else reaped it
            status = None
            ended = Exit(process.pid, None, None, self._clock())
        else:
            if status is None:  # pragma: no cover - readable pidfd, yet not waitable
                return
            ended = _exit_from(status, self._clock())
        if process._pidfd is not None:
            self._loop.remove_reader(process._pidfd)
            os.close(process._pidfd)
            process._pidfd = None
        self._sigchld_pids.discard(process.pid)
        del self._running[process.pid]
        process._popen.returncode = ended.returncode  # Popen must never wait for this pid
        if self._watchdog is not None:
            self._watchdog.untrack(process.pgid)  # reaped: the number may be reused now
        if self._record is not None:
            try:
                self._record.remove(process.pid)
            except OSError as exc:  # pragma: no cover - read-only var directory
                _log.warning("cannot remove the pid record of %d: %s", process.pid, exc)
        process._exited.set_result(ended)


def _exit_from(status: os.waitid_result, now: float) -> Exit:
    if status.si_code == os.CLD_EXITED:
        return Exit(status.si_pid, status.si_status, None, now)
    return Exit(
        status.si_pid, None, status.si_status, now, core_dumped=status.si_code == os.CLD_DUMPED
    )


def _exec_error(spec: SpawnSpec, exc: OSError) -> SpawnError:
    """A clear message for a failed exec: which of exe or working directory, and why."""
    reason = exc.strerror or str(exc)
    if exc.filename == spec.cwd and exc.filename != spec.argv[0]:
        message = f"server `{spec.server_id}': cannot use working directory `{spec.cwd}': {reason}"
        hint = "check the server's pwd (or the node's data directory)"
    else:
        message = f"server `{spec.server_id}': cannot run `{spec.argv[0]}': {reason}"
        hint = {
            errno.ENOENT: "check the server's exe (a name without / is looked up in PATH)",
            errno.EACCES: "the file must be executable (chmod +x) and its directories searchable",
            errno.ENOEXEC: "a script needs a #! line",
        }.get(exc.errno or 0, "")
    return SpawnError(message, server_id=spec.server_id, errno=exc.errno, hint=hint)


# --------------------------------------------------------------------------- limits


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each server costs the node fds: a pidfd,
    its log files while starting); (old soft limit, new soft limit). Call once at node start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard
    if hard == resource.RLIM_INFINITY:  # pragma: no cover - Linux caps it at fs.nr_open
        with open("/proc/sys/fs/nr_open") as nr_open:
            wanted = int(nr_open.read())
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return soft, wanted
    return soft, soft
