"""The node daemon: `run_node` serves `Node`, holds the registry session and runs the servers.

One asyncio loop; the master also runs the registry in it. Start-up ends with one
line on the ready pipe (docs/runtime.md): `ready PID`, or `error MESSAGE<TAB>HINT` then exit 1.
SIGTERM/SIGINT (or Shutdown, or the registry's ShutdownGrid on the master) stop every server,
unregister, stop the registry if collocated, remove the pidfile and exit 0.

    python -m shoal.node.daemon --site PREFIX --name NAME [--ready-fd N] [--Key=Value ...]
    python -m shoal.node ...    the same, ~4 MiB and ~10 ms leaner (shoal/node/__main__.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import shoal
from shoal.config.endpoints import ANY_HOST, format_endpoints
from shoal.config.properties import Properties
from shoal.config.site import (
    DEFAULT_STARTUP_GRACE_MS,
    MASTER_NODE,
    STARTUP_GRACE_PROPERTY,
    Site,
    load_master_config,
    load_node_config,
)
from shoal.errors import (
    ConfigError,
    NodeActiveError,
    NodeNotFoundError,
    ShoalError,
    SiteError,
)
from shoal.node import lifecycle as lc
from shoal.node.activator import Activator, raise_fd_limit
from shoal.node.hooks import ConfigWriter, OutputCapture, OutputSettings
from shoal.node.logs import DEFAULT_BACKUPS, DEFAULT_MAX_KB
from shoal.node.pidrecord import PidRecord, reap_leftovers
from shoal.node.readiness import AdapterReadiness, AdapterRegistrations
from shoal.node.restart import RestartPolicy
from shoal.node.service import NodeService
from shoal.node.session import NodeSession, SessionSettings, first_of
from shoal.node.supervisor import NodeSettings
from shoal.node.watchdog import Watchdog
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import WireServer

__all__ = ["ReadyPipe", "main", "node_values", "run_node"]

_log = logging.getLogger("shoal.node")
#: The Node service (internal.proto), served on IceGrid.Node.Endpoints.
_NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]

# The master is ready once its servers are loaded; if the registry never pushes them, it is
# ready anyway after this long (and says so), rather than leaving `admin start` hanging.
_MASTER_LOAD_WAIT = 30.0

#: The property of a server's config naming its node's endpoints (Node.RegisterAdapters).
SERVER_NODE_ENDPOINTS = "shoal.node.Endpoints"
# A node bound to every interface is reached from its servers over the loopback.
_LOCAL_TARGET = {ANY_HOST: "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class ReadyPipe:
    """The start-up report: exactly one line on `fd`, then closed (None: nobody listens)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        except OSError as exc:  # the CLI gave up waiting: not a reason to stop
            _log.info("cannot write the ready pipe: %s", exc)
        finally:
            os.close(fd)

    def ready(self) -> None:
        self._send(f"ready {os.getpid()}\n")

    def error(self, error: ShoalError) -> None:
        message = " ".join(error.message.split())
        hint = " ".join(error.hint.split())
        self._send(f"error {message}\t{hint}\n")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def node_values(data_dir: Path) -> dict[str, str]:
    """The host facts servers' `${node.*}` take (IceGrid's names), from os.uname()."""
    uname = os.uname()
    return {
        "node.os": uname.sysname,
        "node.hostname": uname.nodename,
        "node.release": uname.release,
        "node.version": uname.version,
        "node.machine": uname.machine,
        "node.data": str(data_dir),
    }


def run_node(
    site: Site,
    node_name: str,
    overrides: Sequence[str] = (),
    ready_fd: int | None = None,
    *,
    then_exit: bool = False,
) -> int:
    """Run the node until it is told to stop; the exit status (0 after a clean stop).

    The process is expected to exit once this returns: see `_ready_to_exit`. With `then_exit`
    (the daemon's own process: `main`) it does not return after a run: the process ends as
    soon as the daemon's cleanup is done, without closing the event loop (shoal.node.exiting).
    """
    _configure_logging()
    ready = ReadyPipe(ready_fd)
    try:
        with asyncio.Runner() as runner:
            code = runner.run(_Daemon(site, node_name, overrides, ready).run())
            if then_exit:
                from shoal.node.exiting import leave

                ready.close()
                leave(code)
            return code
    except ShoalError as error:
        _log.error("node %s: %s%s", node_name, error.message, f" ({error.hint})" * bool(error.hint))
        ready.error(error)
        return 1
    except Exception as exc:  # a bug: the traceback goes to the log, one line to the CLI
        _log.exception("node %s: failed", node_name)
        ready.error(ShoalError(f"node {node_name} failed: {type(exc).__name__}: {exc}"))
        return 1
    finally:
        ready.close()
        _ready_to_exit()


def _ready_to_exit() -> None:
    """Everything is stopped and closed: make the interpreter's exit cheap.

    At exit CPython runs full garbage collections while it tears the modules down, and each
    one walks every object the daemon's imports made (protobuf, asyncio...): 50-100 ms
    between the cleanup and the process being gone, which `shoal admin stop` waits for.
    Frozen objects are skipped by those passes (the kernel frees the memory anyway); finalizers
    of objects still alive at exit were never guaranteed to run.
    """
    gc.freeze()


def _configure_logging() -> None:
    """As the seed says of OMERO.grid: output to stdout (master.out), errors to stderr
    (master.err); the CLI points both at the files of Ice.StdOut and Ice.StdErr. Unless the
    CLI or a test set logging up already (shoal.node.daemon_log says how lines are written)."""
    from shoal.node.daemon_log import configure

    configure(sys.stdout, sys.stderr)


class _Daemon:
    """One run of the node, from reading its config to removing its pidfile."""

    def __init__(
        self, site: Site, node_name: str, overrides: Sequence[str], ready: ReadyPipe
    ) -> None:
        self.site = site
        self.node_name = node_name
        self.overrides = overrides
        self.ready = ready
        self.stop = asyncio.Event()
        self.stop_reason = ""
        self.started_at = time.time()

    def request_stop(self, reason: str) -> None:
        if not self.stop.is_set():
            _log.info("node %s: stopping (%s)", self.node_name, reason)
            self.stop_reason = reason
            self.stop.set()

    async def run(self) -> int:
        properties = self._load_config()
        name = self.node_name
        prefix = self.site.prefix
        data_dir = properties.get_path("IceGrid.Node.Data", prefix, f"var/{name}").absolute()
        output_dir = properties.get_path("IceGrid.Node.Output", prefix, "var/log").absolute()
        max_bytes = properties.get_size_kb("Ice.MessageSizeMax")
        tls = TlsConfig.from_properties(properties.as_dict())
        settings = NodeSettings(
            node_name=name,
            node_data=data_dir,
            node_values=node_values(data_dir),
            supervision=lc.SupervisionConfig(
                wait_time=float(properties.get_int("IceGrid.Node.WaitTime", 60)),
                restart=RestartPolicy(
                    disable_on_failure=properties.get_int("IceGrid.Node.DisableOnFailure", 0),
                    startup_grace=properties.get_int(
                        STARTUP_GRACE_PROPERTY, DEFAULT_STARTUP_GRACE_MS
                    )
                    / 1000,
                ),
            ),
        )
        output = OutputCapture(
            OutputSettings(
                directory=output_dir,
                max_bytes=max(1, properties.get_int("shoal.node.log.max_kb", DEFAULT_MAX_KB))
                * 1024,
                backups=properties.get_int("shoal.node.log.backups", DEFAULT_BACKUPS),
                redirect_err_to_out=properties.get_bool("IceGrid.Node.RedirectErrToOut"),
            )
        )
        locator = properties.get_proxy("Ice.Default.Locator")
        if locator is None or not locator.endpoints:
            raise ConfigError(
                "required property is not set (or has no endpoint)",
                key="Ice.Default.Locator",
                hint="set it in etc/internal.cfg, e.g. IceGrid/Locator:tcp -h 127.0.0.1 -p 4061",
            )
        generated = {"Ice.Default.Locator": properties.get("Ice.Default.Locator")}

        raise_fd_limit()
        data_dir.mkdir(parents=True, exist_ok=True)
        output_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signum.name)

        async with contextlib.AsyncExitStack() as cleanup:
            pidfile = data_dir / f"{name}.pid"
            self._write_pidfile(pidfile)
            cleanup.callback(pidfile.unlink, missing_ok=True)
            # Before any server: it kills them should this node die, even by SIGKILL. Released
            # once stop_all has stopped every server (stop_servers below: it exits while the
            # session and registry close), closed last (the stack unwinds in reverse).
            watchdog = Watchdog()
            watchdog.start()
            activator: Activator | None = None
            # Should a server still run at that point (stop_all failed), the watchdog kills it
            # as if the node had died, rather than leave it orphaned.
            cleanup.callback(
                lambda: watchdog.close(kill=activator is not None and bool(activator.running))
            )
            # Blocking (it waits for leftovers to die), but nothing else runs yet.
            leftovers = await asyncio.to_thread(reap_leftovers, data_dir / "pids")
            if leftovers:
                _log.info("node %s: %d leftover process(es) handled", name, len(leftovers))
            activator = Activator(record=PidRecord(data_dir / "pids"), watchdog=watchdog)
            cleanup.callback(activator.close)
            cleanup.callback(output.close)

            session: NodeSession | None = None

            def publish(status: common_pb2.ServerStatus) -> None:
                if session is not None:
                    session.report(status)

            server = WireServer(max_message_bytes=max_bytes, name=f"node {name}")
            cleanup.push_async_callback(server.stop, 1.0)
            bound = await server.bind(
                properties.get_endpoints("IceGrid.Node.Endpoints", for_server=True), tls=tls
            )
            # Where servers built with shoal.server register their adapters (same host).
            generated[SERVER_NODE_ENDPOINTS] = format_endpoints(
                tuple(replace(e, host=_LOCAL_TARGET.get(e.host or ANY_HOST, e.host)) for e in bound)
            )
            registrations = AdapterRegistrations()
            service = NodeService(
                settings,
                activator,
                output=output,
                hooks=(ConfigWriter(name, generated),),
                readiness=AdapterReadiness(
                    registrations,
                    wait_time=settings.supervision.wait_time,
                ),
                registrations=registrations,
                on_publish=publish,
                on_shutdown=lambda: self.request_stop("Shutdown requested by the registry"),
            )
            server.add_service(_NODE_SERVICE, service)

            async def stop_servers() -> None:
                await service.stop_all()
                if not activator.running:  # its exit overlaps the session's and registry's close
                    watchdog.release()

            await server.start()
            published = tuple(
                replace(e, host=os.uname().nodename) if e.host == ANY_HOST else e for e in bound
            )
            _log.info("node %s: serving on %s", name, format_endpoints(bound))

            registry = await self._start_registry(properties)
            if registry is not None:
                cleanup.push_async_callback(registry.stop)

            def node_info() -> common_pb2.NodeInfo:
                uname = os.uname()
                info = common_pb2.NodeInfo(
                    name=name,
                    hostname=uname.nodename,
                    os=uname.sysname,
                    release=uname.release,
                    machine=uname.machine,
                    cpus=os.cpu_count() or 1,
                    data_dir=str(data_dir),
                    endpoints=format_endpoints(published),
                    version=shoal.__version__,
                    pid=os.getpid(),
                )
                info.started_at.FromNanoseconds(int(self.started_at * 1e9))
                return info

            session = NodeSession(
                SessionSettings(
                    node_name=name,
                    locator=locator.endpoints[0],
                    max_message_bytes=max_bytes,
                    tls=tls,
                ),
                node_info=node_info,
                running_servers=lambda: service.statuses(running_only=True),
                report_state=registry.report_state if registry is not None else None,
                unregister_node=registry.unregister_node if registry is not None else None,
            )
            session.start()
            cleanup.push_async_callback(self._close_session, session)
            cleanup.push_async_callback(stop_servers)  # first: servers before the session

            await first_of(session.registered.wait(), session.failed.wait(), self.stop.wait())
            if session.error is not None:
                raise self._refusal(session.error)
            if self.stop.is_set():  # stopped before it was registered: no ready line
                return self._stopped()
            if registry is not None:
                await first_of(
                    service.loaded.wait(), self.stop.wait(), asyncio.sleep(_MASTER_LOAD_WAIT)
                )
                if not service.loaded.is_set() and not self.stop.is_set():
                    _log.warning("the registry did not load this node's servers: ready anyway")
            self.ready.ready()
            _log.info("node %s: ready (pid %d)", name, os.getpid())
            # What start-up made (imports, config, the servers loaded) lives as long as the
            # node: out of the collector's sight from now on, or each young-generation pass
            # walks much of it (~2 ms pauses, amid a stop of 50 servers). No collection is
            # run first (tens of ms): the little start-up garbage left in cycles stays.
            gc.freeze()

            waits: list[Coroutine[Any, Any, Any]] = [self.stop.wait(), session.failed.wait()]
            if registry is not None:
                waits.append(self._registry_shutdown(registry))
            await first_of(*waits)
            if session.error is not None:
                _log.error("node %s: %s", name, session.error.message)
        return self._stopped()

    def _stopped(self) -> int:
        # Logged once the cleanup stack has run when called after the `async with`; the early
        # return above logs before it (the stack still stops servers and removes the pidfile).
        _log.info("node %s: stopped", self.node_name)
        return 0

    def _load_config(self) -> Properties:
        name = self.node_name
        if name == MASTER_NODE:
            properties = load_master_config(self.site, self.overrides)
        else:
            properties = load_node_config(self.site, name, self.overrides)
        configured = properties.get("IceGrid.Node.Name")
        if configured != name:
            origin = properties.origin("IceGrid.Node.Name")
            raise ConfigError(
                f"is `{configured}', but this node was started as `{name}'"
                if configured
                else "is not set",
                file=origin.file if origin else str(self.site.node_config(name)),
                line=origin.line if origin else None,
                key="IceGrid.Node.Name",
                hint=f"set IceGrid.Node.Name={name} in {self.site.node_config(name)}",
            )
        return properties

    def _write_pidfile(self, pidfile: Path) -> None:
        try:
            other = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            other = 0
        if other and other != os.getpid() and _is_shoal_process(other):
            raise SiteError(
                f"node {self.node_name} is already running (pid {other}, {pidfile})",
                f"stop it first with `shoal node {self.node_name} stop`",
            )
        temporary = pidfile.with_name(f".{pidfile.name}.tmp")
        temporary.write_text(f"{os.getpid()}\n")
        os.replace(temporary, pidfile)

    async def _start_registry(self, properties: Properties) -> Any:
        if not properties.get_bool("IceGrid.Node.CollocateRegistry"):
            return None
        try:
            module = importlib.import_module("shoal.registry.service")
        except ImportError as exc:
            raise ShoalError(
                f"cannot run the registry in node {self.node_name}: {exc}",
                "this Shoal installation has no registry service",
            ) from exc
        registry = module.Registry(self.site, properties)
        await registry.start()
        _log.info("node %s: registry started (collocated)", self.node_name)
        return registry

    async def _registry_shutdown(self, registry: Any) -> None:
        await registry.shutdown_requested.wait()
        self.request_stop("the registry asked the grid to shut down")

    async def _close_session(self, session: NodeSession) -> None:
        await session.close(self.stop_reason or "node stopping")

    def _refusal(self, error: ShoalError) -> ShoalError:
        """The registry's refusal in the words the ready pipe reports."""
        name = self.node_name
        if isinstance(error, NodeActiveError):
            holder = error.holder_host or "another host"
            return NodeActiveError(
                f"node {name} is already active on {holder}: the registry refused this one",
                "stop the other node, or give this one another name (IceGrid.Node.Name)",
                node=name,
                holder_host=error.holder_host,
            )
        if isinstance(error, NodeNotFoundError):
            return NodeNotFoundError(
                f"node {name} is not in any deployed application and dynamic registration is off",
                f'deploy a descriptor with <node name="{name}">, or set'
                " IceGrid.Registry.DynamicRegistration=1 on the registry",
                name=name,
            )
        return error


def _is_shoal_process(pid: int) -> bool:
    """A live process that looks like a Shoal node (a stale pidfile's pid may be reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"shoal" in cmdline


def _released(hold_fd: int) -> bool:
    """Block until the starter writes `go` (True) or closes the pipe without it (False).

    `shoal admin start` spawns the master held, so that its code loads while the CLI checks
    the descriptor; the master does nothing visible before it is let go (cli/daemon.py)."""
    received = b""
    try:
        while not received.endswith(b"\n"):
            chunk = os.read(hold_fd, 16)
            if not chunk:
                break
            received += chunk
    finally:
        os.close(hold_fd)
    return received == b"go\n"


_USAGE = (
    "usage: python -m shoal.node.daemon --site PREFIX --name NAME [--ready-fd N] [--hold-fd N]"
    " [--Key=Value ...]"
)


class _Arguments:
    """main's options, read without argparse: it and the shutil, gettext... it loads cost
    ~7 ms of every node's start, for four options the CLI always writes the same way."""

    def __init__(self, argv: Sequence[str]) -> None:
        options: dict[str, str] = {}
        self.overrides: list[str] = []
        words = iter(argv)
        for word in words:
            if word in ("-h", "--help"):
                print(f"{_USAGE}\n\n{__doc__}")
                sys.exit(0)
            name, equals, value = word.partition("=")
            if name in ("--site", "--name", "--ready-fd", "--hold-fd"):
                if not equals:
                    value = next(words, None) or _usage_error(f"{name} needs a value")
                options[name] = value
            elif word.startswith("--"):
                self.overrides.append(word)
            else:
                _usage_error(f"unexpected argument {word!r} (properties are --Key=Value)")
        for required in ("--site", "--name"):
            if required not in options:
                _usage_error(f"{required} is required")
        self.site = options["--site"]
        self.name = options["--name"]
        self.ready_fd = _fd(options, "--ready-fd")
        self.hold_fd = _fd(options, "--hold-fd")


def _fd(options: dict[str, str], name: str) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return _usage_error(f"{name}: not a number: {value!r}")


def _usage_error(message: str) -> NoReturn:
    print(f"{_USAGE}\npython -m shoal.node.daemon: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """`python -m shoal.node.daemon --site PREFIX --name NAME [--ready-fd N] [--Key=Value...]`:
    runs the node, then ends the process (shoal.node.exiting); it never returns."""
    arguments = _Arguments(sys.argv[1:] if argv is None else argv)
    overrides = arguments.overrides
    if arguments.hold_fd is not None and not _released(arguments.hold_fd):
        # The starter refused its input: nothing was read, written or opened, nothing to tear
        # down (and the starter waits for this process to be gone).
        os._exit(0)
    site = Site(Path(os.path.realpath(arguments.site)))
    code = run_node(site, arguments.name, overrides, arguments.ready_fd, then_exit=True)
    from shoal.node.exiting import leave  # it failed (a clean run never gets here)

    leave(code)


if __name__ == "__main__":
    main()
