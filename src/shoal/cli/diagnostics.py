"""`shoal admin diagnostics`: what an operator needs to debug a site, grid up or down.

Versions, the prefix, config files, every configured endpoint and whether something listens on
it, the registry's view of nodes and servers when it answers, log sizes, and warnings.
"""

from __future__ import annotations

import ipaddress
import platform
import socket
import sys
import time
from pathlib import Path

import click

from shoal import __version__
from shoal.cli.client import AdminClient
from shoal.cli.context import CliContext
from shoal.cli.grid import Grid, registry_info, relative
from shoal.cli.readiness import state_name
from shoal.cli.status import uptime
from shoal.config.endpoints import Endpoint, parse_endpoints
from shoal.config.properties import Properties
from shoal.config.site import Site, load_node_config
from shoal.errors import ShoalError
from shoal.rpc import admin_pb2

_CONNECT_SECONDS = 0.5
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False  # Ice: no host means every interface
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening(endpoint: Endpoint) -> str:
    """Connect test: `listening`, `not listening`, or why it cannot be tested."""
    if not endpoint.port:
        return "any free port (reported by the node when it registers)"
    host = endpoint.host or "127.0.0.1"
    if host in ("0.0.0.0", "*", "::"):
        host = "127.0.0.1"
    try:
        with socket.create_connection((host, endpoint.port), timeout=_CONNECT_SECONDS):
            return "listening"
    except OSError as exc:
        return f"not listening ({exc.strerror or exc})"


def _endpoints(properties: Properties, key: str) -> list[Endpoint]:
    try:
        return list(parse_endpoints(properties.get(key)))
    except Exception:
        return []


def _node_configs(site: Site) -> list[str]:
    skip = {"internal"}
    return sorted(p.stem for p in site.etc.glob("*.cfg") if p.stem not in skip)


def _section(title: str) -> None:
    click.echo(f"\n{title}")
    click.echo("-" * len(title))


def _site_report(site: Site, warnings: list[str]) -> None:
    _section("Site")
    click.echo(f"prefix      {site.prefix}")
    for path in (site.internal_config, site.client_config, site.default_descriptor):
        click.echo(
            f"config      {relative(site, path)}: {'found' if path.is_file() else 'MISSING'}"
        )
    for name in _node_configs(site):
        click.echo(f"node config etc/{name}.cfg")
    _section("Endpoints")
    for name in _node_configs(site):
        try:
            properties = load_node_config(site, name)
        except ShoalError as error:
            warnings.append(f"etc/{name}.cfg cannot be read: {error.message}")
            continue
        keys = ["IceGrid.Node.Endpoints"]
        if properties.get_bool("IceGrid.Node.CollocateRegistry"):
            keys = [
                "IceGrid.Registry.Client.Endpoints",
                "IceGrid.Registry.Internal.Endpoints",
                *keys,
            ]
            _verifier_warning(properties, warnings)
        for key in keys:
            for endpoint in _endpoints(properties, key):
                click.echo(f"{name:<10}  {key} = {endpoint}: {listening(endpoint)}")


def _verifier_warning(properties: Properties, warnings: list[str]) -> None:
    verifier = properties.get("IceGrid.Registry.AdminPermissionsVerifier")
    if not verifier.endswith("NullPermissionsVerifier"):
        return
    for endpoint in _endpoints(properties, "IceGrid.Registry.Client.Endpoints"):
        if not is_loopback(endpoint.host):
            warnings.append(
                f"the null admin verifier lets anyone administer the grid on `{endpoint}' "
                "(not loopback): set IceGrid.Registry.AdminCryptPasswords, or listen on 127.0.0.1"
            )


def _grid_report(grid: Grid, client: AdminClient, warnings: list[str]) -> None:
    _section("Grid")
    info = registry_info(client)
    pid = grid.master_pid()
    click.echo(f"master node {'running, pid ' + str(pid) if pid else 'not started'}")
    if info is None:
        click.echo(f"registry    not answering at {grid.target.address}")
        return
    reply: admin_pb2.DiagnosticsReply = client.run(client.api.diagnostics())
    now = time.time()
    click.echo(f"registry    up at {grid.target.address}, pid {info.pid}, version {info.version}")
    for application in reply.applications:
        click.echo(
            f"application {application.name} revision {application.revision} "
            f"from {application.source_name or '?'} targets: {' '.join(application.targets) or '-'}"
        )
    _section("Nodes")
    for node in reply.nodes:
        if not node.up:  # no session: what it reported last is no longer true
            click.echo(f"{node.info.name:<10}  DOWN  (no session with the registry)")
            continue
        age = f"{int(now - node.info.started_at.ToSeconds())} s"
        load = f"{node.load.avg1:.2f}/{node.load.avg5:.2f}/{node.load.avg15:.2f}"
        click.echo(
            f"{node.info.name:<10}  up    host {node.info.hostname or '-'}"
            f"  {node.info.os} {node.info.release}  load {load}  up for {age}"
        )
    _section("Servers")
    for server in reply.servers:
        last = server.last_exit.description if server.HasField("last_exit") else "-"
        click.echo(
            f"{server.server_id:<16}  {server.node:<10}  {state_name(server.state):<12}"
            f"  pid {server.pid or '-'}  up {uptime(server, now)}  restarts {server.restart_count}"
            f"  {'enabled' if server.enabled else 'DISABLED'}  last exit: {last}"
        )
    _section("Adapters")
    for adapter in reply.adapters:
        owner = adapter.server_id or "(registered by a program, dynamic)"
        click.echo(
            f"{adapter.adapter_id:<24}  {owner:<16}  {adapter.endpoints or '<inactive>'}"
            + (f"  replica group {adapter.replica_group}" if adapter.replica_group else "")
        )
    _section("Objects")
    for found in reply.objects:
        source = f"application {found.application}" if found.application else "added"
        click.echo(f"{found.identity:<24}  {found.type or '-':<20}  {found.proxy}  ({source})")
    warnings.extend(reply.warnings)


def _logs_report(site: Site) -> None:
    _section("Logs")
    logs = sorted(site.log_dir.glob("*")) if site.log_dir.is_dir() else []
    if not logs:
        click.echo(f"no files in {relative(site, site.log_dir)}")
    for path in logs:
        if path.is_file():
            click.echo(f"{relative(site, path):<40} {_size(path)}")


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover


@click.command()
@click.pass_obj
def diagnostics(context: CliContext) -> None:
    """Report versions, config files, endpoints, nodes, servers, logs and warnings."""
    click.echo(f"Shoal {__version__}  Python {platform.python_version()} ({sys.executable})")
    click.echo(f"host {socket.gethostname()}  {platform.system()} {platform.release()}")
    warnings: list[str] = []
    site = context.site()
    _site_report(site, warnings)
    try:
        grid = Grid.load(context)
    except ShoalError as error:
        warnings.append(f"the grid cannot be examined: {error.message}")
    else:
        with grid.client() as client:
            _grid_report(grid, client, warnings)
    _logs_report(site)
    _section("Warnings")
    for warning in warnings or ["none"]:
        click.echo(warning)
