"""Write a grid server in Python: bind the adapters the descriptor declares, tell the node where
they listen, and stop cleanly on SIGTERM.

    async def main() -> None:
        server = Server.from_environment()        # the config the node wrote (SHOAL_CONFIG)
        hello = server.adapter("Hello")           # a grpc.aio.Server on Hello.Endpoints
        hello.add_generic_rpc_handlers([handler]) # or add_XServicer_to_server(servicer, hello)
        await server.run()                        # until SIGTERM/SIGINT, then a clean stop

    asyncio.run(main())

`run` starts every adapter, registers the bound endpoints (real ports, so `-p 0` works) with
the node at `shoal.node.Endpoints` (Node.RegisterAdapters), which makes the server Active and
lets clients find it through the locator. On SIGTERM it withdraws the adapters, lets calls in
flight finish for `stop_grace` seconds and returns; the program then exits 0.
Outside the grid, `Server(properties={"Hello.Endpoints": "tcp -h 127.0.0.1 -p 0"})` serves the
same way and registers nothing.

A no-restart deploy (`shoal admin deploy --no-restart`) that changes only properties rewrites the
config file and sends SIGHUP to a server that registered adapters; `run` then reads the file
again (`from_environment` servers), replaces `server.properties` and calls the callbacks given
to `server.on_properties_changed` with the new Properties. The process keeps running.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc.aio

from shoal.config.endpoints import ANY_HOST, Endpoint, EndpointParseError, parse_endpoint
from shoal.config.properties import Properties, parse_command_line
from shoal.errors import ConfigError, ShoalError
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.channels import TlsConfig, describe_endpoints, make_server
from shoal.rpc.detail import Peer
from shoal.rpc.wire import Stub, WireChannel

__all__ = ["Server"]

_log = logging.getLogger("shoal.server")
_NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]

#: The property the node writes into each server's config: where to register adapters.
NODE_ENDPOINTS = "shoal.node.Endpoints"
_CALL_TIMEOUT = 10.0
_WILDCARD = frozenset({ANY_HOST, "0.0.0.0", "::"})

#: Called with the new properties after a no-restart deploy changed them (sync or async).
PropertiesCallback = Callable[[Properties], Awaitable[None] | None]


class Server:
    """One server process: its properties, its adapters (grpc.aio servers), its node."""

    def __init__(
        self, properties: Properties | Mapping[str, str] | None = None, *, stop_grace: float = 5.0
    ) -> None:
        if properties is None:
            properties = Properties()
        elif not isinstance(properties, Properties):
            properties = Properties.from_mapping(properties)
        self.properties = properties
        self.stop_grace = stop_grace
        self._adapters: dict[str, tuple[grpc.aio.Server, tuple[Endpoint, ...]]] = {}
        self._stop = asyncio.Event()
        self._running = False
        # How to read the properties again on SIGHUP (from_environment sets it).
        self._reload: Callable[[], Properties] | None = None
        self._callbacks: list[PropertiesCallback] = []
        self._reloads: set[asyncio.Task[None]] = set()

    @classmethod
    def from_environment(
        cls,
        args: Sequence[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        stop_grace: float = 5.0,
    ) -> Server:
        """The properties the node wrote (`SHOAL_CONFIG`), overridden by `--Key=Value` args
        (default: sys.argv[1:])."""
        arguments = list(sys.argv[1:] if args is None else args)
        cwd = Path.cwd()

        def read() -> Properties:
            properties, _ = parse_command_line(
                arguments, cwd=cwd, environ=environ, config_variable="SHOAL_CONFIG"
            )
            return properties

        server = cls(read(), stop_grace=stop_grace)
        server._reload = read
        return server

    def on_properties_changed(self, callback: PropertiesCallback) -> None:
        """Call `callback(new_properties)` when a no-restart deploy changed them (SIGHUP while
        `run` serves); `server.properties` is already the new set then."""
        self._callbacks.append(callback)

    @property
    def server_id(self) -> str:
        """`Ice.Admin.ServerId`: the server's id in the grid (empty outside it)."""
        return self.properties.get("Ice.Admin.ServerId")

    def adapter(self, name: str) -> grpc.aio.Server:
        """The grpc.aio server of adapter `name`, bound to `NAME.Endpoints` (made on first use;
        call it from the event loop that runs the server). Add servicers, then `run`."""
        found = self._adapters.get(name)
        if found is not None:
            return found[0]
        if self._running:
            raise ShoalError(f"adapter `{name}' must be made before run()")
        key = f"{name}.Endpoints"
        endpoints = self.properties.get_endpoints(key, for_server=True)
        if not endpoints:
            raise ConfigError(
                "is not set: the adapter has no endpoint to listen on",
                key=key,
                hint=f'declare <adapter name="{name}" endpoints="tcp -h 127.0.0.1"> in the'
                f" descriptor, or pass {key}=... outside the grid",
            )
        grpc_server, bound = make_server(
            endpoints,
            max_message_bytes=self.properties.get_size_kb("Ice.MessageSizeMax"),
            tls=TlsConfig.from_properties(self.properties.as_dict()),
        )
        self._adapters[name] = (grpc_server, bound)
        return grpc_server

    def endpoints(self, name: str) -> str:
        """Adapter `name`'s endpoints as bound (real ports), in Ice's string form."""
        if name not in self._adapters:
            raise ShoalError(f"no adapter `{name}': call server.adapter({name!r}) first")
        return describe_endpoints(_published(e) for e in self._adapters[name][1])

    def stop(self) -> None:
        """Ask `run` to stop (what SIGTERM does)."""
        self._stop.set()

    async def run(self) -> None:
        """Serve until SIGTERM, SIGINT or `stop()`: start the adapters, register them with the
        node, wait; then withdraw them and stop, letting calls in flight finish."""
        if not self._adapters:
            raise ShoalError("the server has no adapter", "call server.adapter(NAME) first")
        self._running = True
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                if signum is signal.SIGHUP:
                    loop.add_signal_handler(signum, self._on_hangup)
                else:
                    loop.add_signal_handler(signum, self._on_signal, signum)
                handled.append(signum)
            except (RuntimeError, ValueError):  # not the main thread: stop() only
                pass
        try:
            for grpc_server, _ in self._adapters.values():
                await grpc_server.start()
            for name in self._adapters:
                _log.info("adapter %s: serving on %s", name, self.endpoints(name))
            await self._register()
            await self._stop.wait()
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            await self._unregister()
            await asyncio.gather(
                *(grpc_server.stop(self.stop_grace) for grpc_server, _ in self._adapters.values())
            )
            self._running = False
            _log.info("server %s: stopped", self.server_id or os.getpid())

    def _on_signal(self, signum: signal.Signals) -> None:
        _log.info("server %s: %s received, stopping", self.server_id or os.getpid(), signum.name)
        self.stop()

    def _on_hangup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload_properties())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload_properties(self) -> None:
        """Read the properties again (what SIGHUP does) and tell the callbacks if they changed.
        A file that cannot be read leaves the old properties in place."""
        if self._reload is None:
            _log.info("server %s: SIGHUP ignored (no config to read again)", self.server_id)
            return
        try:
            properties = await asyncio.to_thread(self._reload)
        except (ShoalError, OSError) as error:
            _log.warning("server %s: cannot read the properties again: %s", self.server_id, error)
            return
        if properties.as_dict() == self.properties.as_dict():
            return
        self.properties = properties
        _log.info("server %s: properties updated", self.server_id or os.getpid())
        for callback in list(self._callbacks):
            try:
                outcome = callback(properties)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:  # one broken callback must not stop the server or the others
                _log.exception("server %s: a properties callback failed", self.server_id)

    # ------------------------------------------------------------------ the node

    def _registrations(self) -> list[common_pb2.AdapterStatus]:
        """Adapters that have an id (`NAME.AdapterId`, which the node writes for each adapter
        the descriptor declares); an adapter without one is not located, as in Ice."""
        registrations = []
        for name in self._adapters:
            adapter_id = self.properties.get(f"{name}.AdapterId")
            if adapter_id:
                registrations.append(
                    common_pb2.AdapterStatus(adapter_id=adapter_id, endpoints=self.endpoints(name))
                )
        return registrations

    def _node_endpoint(self) -> str:
        endpoints = self.properties.get(NODE_ENDPOINTS)
        return endpoints.split(":")[0].strip() if endpoints else ""

    async def _call_node(self, method: str, request: Any) -> Any:
        address = self._node_endpoint()
        tls = TlsConfig.from_properties(self.properties.as_dict())
        try:
            endpoint = parse_endpoint(address)
        except EndpointParseError as exc:
            raise ConfigError(str(exc), key=NODE_ENDPOINTS) from exc
        # The node speaks Shoal's wire protocol; this server's own adapters are gRPC.
        channel = WireChannel(
            endpoint,
            max_message_bytes=self.properties.get_size_kb("Ice.MessageSizeMax"),
            tls=tls,
            peer=Peer("the node", address),
        )
        try:
            return await getattr(Stub(channel, _NODE_SERVICE), method)(
                request, timeout=_CALL_TIMEOUT
            )
        finally:
            await channel.close()

    async def _register(self) -> None:
        if not self.server_id or not self._node_endpoint():
            _log.info("not started by a node (no %s): adapters not registered", NODE_ENDPOINTS)
            return
        adapters = self._registrations()
        if not adapters:
            return
        await self._call_node(
            "RegisterAdapters",
            internal_pb2.RegisterAdaptersRequest(server_id=self.server_id, adapters=adapters),
        )
        _log.info(
            "server %s: registered %s", self.server_id, ", ".join(a.adapter_id for a in adapters)
        )

    async def _unregister(self) -> None:
        if not self.server_id or not self._node_endpoint() or not self._registrations():
            return
        try:
            await self._call_node(
                "UnregisterAdapters",
                internal_pb2.UnregisterAdaptersRequest(server_id=self.server_id),
            )
        except ShoalError as error:  # stopping anyway: the node forgets them at exit
            _log.warning("server %s: cannot withdraw adapters: %s", self.server_id, error)


def _published(endpoint: Endpoint) -> Endpoint:
    """A bound endpoint as clients use it: a wildcard host becomes this host's name."""
    if endpoint.host in _WILDCARD:
        return replace(endpoint, host=os.uname().nodename)
    return endpoint
