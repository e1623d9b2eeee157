"""How the admin commands print applications and deploy diffs (rich, but readable when piped)."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from shoal.descriptor.diff import ApplicationDiff
from shoal.descriptor.model import Adapter, Application, ServerDescription


def console() -> Console:
    # soft_wrap: long property lines stay whole when piped to grep or a file.
    return Console(soft_wrap=True, highlight=False)


def _adapter_line(adapter: Adapter) -> str:
    parts = [f'{adapter.name} id={adapter.id} endpoints="{adapter.endpoints}"']
    if adapter.replica_group:
        parts.append(f"replica-group={adapter.replica_group}")
    parts += [f"object {o.identity}" + (f" ({o.type})" if o.type else "") for o in adapter.objects]
    return ", ".join(parts)


def server_lines(server: ServerDescription) -> list[str]:
    lines = [f"exe         {server.exe}"]
    if server.options:
        lines.append(f"options     {shlex.join(server.options)}")
    if server.pwd:
        lines.append(f"pwd         {server.pwd}")
    if server.user:
        lines.append(f"user        {server.user}")
    lines += [f"env         {env}" for env in server.envs]
    lines += [f"adapter     {_adapter_line(a)}" for a in server.adapters]
    # The config file keeps every line and the last one wins: show what the server will read.
    effective = dict(server.properties)
    lines += [f"property    {name}={value}" for name, value in effective.items()]
    for service in server.services or ():
        lines.append(f"service     {service.name} entry={service.entry}")
    return lines


def print_application(application: Application, source: Path) -> None:
    """Per node, each expanded server: id, activation, exe, options, adapters, properties."""
    out = console()
    servers = sum(len(node.servers) for node in application.nodes.values())
    targets = " ".join(application.targets) or "none"
    out.print(
        f"[bold]{escape(application.name)}[/bold] from {escape(str(source))}: "
        f"{len(application.nodes)} node(s), {servers} server(s), targets: {escape(targets)}"
    )
    for node in application.nodes.values():
        out.print(f"\n[bold]node {escape(node.name)}[/bold] ({len(node.servers)} server(s))")
        if not node.servers:
            out.print("  (no servers)")
        for server in node.servers:
            out.print(f"  [cyan]{escape(server.id)}[/cyan]  activation={server.activation.value}")
            for line in server_lines(server):
                out.print(f"    {escape(line)}")
    for group in application.replica_groups:
        out.print(
            f"\nreplica-group {escape(group.id)}: {group.load_balancing.value}, "
            f"n-replicas={group.n_replicas}"
        )
    out.print("\n[green]descriptor OK[/green]")


def print_diff(changes: ApplicationDiff) -> None:
    """One line per server: what a deploy would do to it."""
    out = console()
    out.print(
        f"{len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.changed)} restarted, {len(changes.unchanged)} unchanged"
    )
    for server_id in changes.added:
        out.print(f"  [green]added[/green]      {escape(server_id)}")
    for server_id in changes.removed:
        out.print(f"  [red]removed[/red]    {escape(server_id)}")
    for server_id, fields in changes.changed.items():
        out.print(f"  [yellow]restarted[/yellow]  {escape(server_id)} ({', '.join(fields)})")
    for server_id in changes.unchanged:
        out.print(f"  unchanged  {escape(server_id)}")
