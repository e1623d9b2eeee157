"""How the admin commands print applications and deploy diffs: plain text built whole and
written once (colour only on a terminal), so that piping a large site to grep stays fast."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the admin console imports this module: it must not load the engine
    from rich.console import Console

    from shoal.descriptor.diff import ApplicationDiff
    from shoal.descriptor.model import (
        Adapter,
        Application,
        DbEnvDescriptor,
        DistributionDescriptor,
        LogDescriptor,
        ObjectDescriptor,
        ReplicaGroup,
        ServerDescription,
        Service,
    )

__all__ = [
    "StyledLines",
    "console",
    "diff_lines",
    "print_application",
    "print_diff",
    "server_lines",
    "wants_colour",
]

BOLD, CYAN, GREEN, RED, YELLOW = "1", "36", "32", "31", "33"
_INDENT = "    "


def console() -> Console:
    """A rich console, for live displays and tables only (plain lines go through click.echo)."""
    from rich.console import Console

    # soft_wrap: long property lines stay whole when piped to grep or a file.
    return Console(soft_wrap=True, highlight=False)


class StyledLines:
    """Lines of output, styled with ANSI colours only when `colour` is on."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.lines: list[str] = []

    def styled(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def write(self, stream: TextIO) -> None:
        stream.write("".join(f"{line}\n" for line in self.lines))
        stream.flush()


def wants_colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _one_line(text: str) -> str:
    """A value shown on one line: newlines as `\\n`."""
    return text.replace("\n", "\\n")


# --------------------------------------------------------------------------- admin check


def _objects(objects: Iterable[ObjectDescriptor], word: str = "object") -> list[str]:
    return [f"{word} {o.identity}" + (f" ({o.type})" if o.type else "") for o in objects]


def _adapter_line(adapter: Adapter) -> str:
    parts = [f'{adapter.name} id={adapter.id} endpoints="{adapter.endpoints}"']
    if adapter.replica_group:
        parts.append(f"replica-group={adapter.replica_group}")
    if adapter.priority:
        parts.append(f"priority={adapter.priority}")
    if adapter.register_process:
        parts.append("register-process")
    if not adapter.server_lifetime:
        parts.append("server-lifetime=false")
    parts += _objects(adapter.objects)
    parts += _objects(adapter.allocatables, "allocatable")
    return ", ".join(parts)


def _generated_keys(
    adapters: Sequence[Adapter], dbenvs: Sequence[DbEnvDescriptor], logs: Sequence[LogDescriptor]
) -> dict[str, str]:
    """Property names the descriptor's adapters, objects, dbenvs and logs set, and which one."""
    keys: dict[str, str] = {}
    for adapter in adapters:
        for suffix in ("AdapterId", "ReplicaGroupId", "Endpoints", "ProxyOptions"):
            keys[f"{adapter.name}.{suffix}"] = f"adapter {adapter.name}"
        for obj in (*adapter.objects, *adapter.allocatables):
            if obj.property:
                keys[obj.property] = f"object {obj.identity}"
    for dbenv in dbenvs:
        keys[f"Freeze.DbEnv.{dbenv.name}.DbHome"] = f"dbenv {dbenv.name}"
    for log in logs:
        if log.property:
            keys[log.property] = f"log {log.path}"
    return keys


def property_lines(
    properties: Sequence[tuple[str, str]], generated: Mapping[str, str] | None = None
) -> list[str]:
    """The values the server reads (the last one wins): the descriptor's own properties in the
    order first written, an earlier value shown as overridden; then those generated from
    adapters, objects, dbenvs and logs, tagged with where they come from."""
    generated = generated or {}
    values: dict[str, list[str]] = {}
    for name, value in properties:
        values.setdefault(name, []).append(value)
    own, derived = [], []
    for name, written in values.items():
        final = written[-1]
        if name in generated and len(written) == 1:
            derived.append(f"property    {name}={_one_line(final)} (from {generated[name]})")
            continue
        line = f"property    {name}={_one_line(final)}"
        earlier = [value for value in written[:-1] if value != final]
        if earlier:
            line += f" (overrides {_one_line(earlier[-1])})"
        own.append(line)
    return own + derived


def _distrib_line(distrib: DistributionDescriptor) -> str:
    directories = " ".join(distrib.directories) or "(all)"
    return f"distrib     icepatch={distrib.icepatch} directories: {directories}"


def _communicator_lines(
    description: str,
    adapters: Sequence[Adapter],
    dbenvs: Sequence[DbEnvDescriptor],
    logs: Sequence[LogDescriptor],
    properties: Sequence[tuple[str, str]],
) -> list[str]:
    lines = [f"adapter     {_adapter_line(a)}" for a in adapters]
    lines += [f"dbenv       {d.name}" + (f" home={d.home}" if d.home else "") for d in dbenvs]
    lines += [f"log         {log.path}" for log in logs]
    lines += property_lines(properties, _generated_keys(adapters, dbenvs, logs))
    if description.strip():
        lines.insert(0, f"description {' '.join(description.split())}")
    return lines


def _service_lines(service: Service) -> list[str]:
    lines = [f"service     {service.name} entry={service.entry}"]
    body = _communicator_lines(
        service.description, service.adapters, service.dbenvs, service.logs, service.properties
    )
    return lines + [f"  {line}" for line in body]


def server_lines(server: ServerDescription) -> list[str]:
    """What `admin check` shows of one server, one `word  value` line each."""
    lines = [f"exe         {server.exe}"]
    if server.options:
        lines.append(f"options     {shlex.join(server.options)}")
    if server.pwd:
        lines.append(f"pwd         {server.pwd}")
    if server.user:
        lines.append(f"user        {server.user}")
    timeouts = [
        f"{what}={seconds}s"
        for what, seconds in (
            ("activation", server.activation_timeout),
            ("deactivation", server.deactivation_timeout),
        )
        if seconds
    ]
    if timeouts:
        lines.append(f"timeouts    {' '.join(timeouts)}")
    lines += [f"env         {env}" for env in server.envs]
    if server.distrib is not None:
        lines.append(_distrib_line(server.distrib))
    lines += _communicator_lines(
        server.description, server.adapters, server.dbenvs, server.logs, server.properties
    )
    for service in server.services or ():
        lines += _service_lines(service)
    return lines


def _replica_group_lines(group: ReplicaGroup) -> list[str]:
    head = f"replica-group {group.id}: {group.load_balancing.value}, n-replicas={group.n_replicas}"
    if group.load_balancing.value == "adaptive":
        head += f", load-sample={group.load_sample}"
    lines = [head]
    if group.proxy_options:
        lines.append(f"  proxy-options {group.proxy_options}")
    if group.filter:
        lines.append(f"  filter {group.filter}")
    if group.description.strip():
        lines.append(f"  description {' '.join(group.description.split())}")
    lines += [f"  {line}" for line in _objects(group.objects)]
    return lines


def print_application(application: Application, source: Path, stream: TextIO | None = None) -> None:
    """Per node, each expanded server: id, activation, exe, options, adapters, properties..."""
    stream = stream or sys.stdout
    out = StyledLines(wants_colour(stream))
    servers = sum(len(node.servers) for node in application.nodes.values())
    targets = " ".join(application.targets) or "none"
    out.add(
        f"{out.styled(application.name, BOLD)} from {source}: {len(application.nodes)} node(s), "
        f"{servers} server(s), targets: {targets}"
    )
    for node in application.nodes.values():
        out.add()
        out.add(out.styled(f"node {node.name}", BOLD) + f" ({len(node.servers)} server(s))")
        if not node.servers:
            out.add("  (no servers)")
        for server in node.servers:
            out.add(f"  {out.styled(server.id, CYAN)}  activation={server.activation.value}")
            out.lines += [f"{_INDENT}{line}" for line in server_lines(server)]
    for group in application.replica_groups:
        out.add()
        out.lines += _replica_group_lines(group)
    out.add()
    out.add(out.styled("descriptor OK", GREEN))
    out.write(stream)


# --------------------------------------------------------------------------- admin diff


def _shown(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return shlex.join(value) or "(none)"
    return _one_line(str(value)) if value != "" else "(empty)"


def _property_changes(old: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> list[str]:
    before, after = dict(old), dict(new)
    lines = []
    for name in [*before, *(k for k in after if k not in before)]:
        if name not in after:
            lines.append(f"- {name}={_one_line(before[name])}")
        elif name not in before:
            lines.append(f"+ {name}={_one_line(after[name])}")
        elif before[name] != after[name]:
            lines.append(f"{name}: {_one_line(before[name])} -> {_one_line(after[name])}")
    return lines or ["properties: same values, in another order"]


def field_changes(
    old: ServerDescription, new: ServerDescription, fields: Iterable[str]
) -> list[str]:
    """One compact line per changed value: properties per key, plain fields `from -> to`."""
    lines = []
    for name in fields:
        before, after = getattr(old, name), getattr(new, name)
        if name == "properties":
            lines += _property_changes(before, after)
        elif isinstance(before, str | int | bool | Enum) or name in ("options", "envs"):
            lines.append(f"{name}: {_shown(before)} -> {_shown(after)}")
    return lines


def _keyed_lines(
    kind: str, before: Mapping[str, object], after: Mapping[str, object], ids: Iterable[str]
) -> list[str]:
    lines = []
    for key in ids:
        if key not in before:
            lines.append(f"  added      {kind} {key}")
        elif key not in after:
            lines.append(f"  removed    {kind} {key}")
        else:
            old, new = before[key], after[key]
            changed = [
                f"{f.name.replace('_', '-')}: "
                f"{_shown(getattr(old, f.name))} -> {_shown(getattr(new, f.name))}"
                if not isinstance(getattr(old, f.name), tuple)
                else f.name
                for f in dataclasses.fields(old)  # type: ignore[arg-type]
                if f.name != "servers" and getattr(old, f.name) != getattr(new, f.name)
            ]
            lines.append(f"  changed    {kind} {key}: {', '.join(changed)}")
    return lines


def diff_lines(
    changes: ApplicationDiff,
    before: Application,
    after: Application,
    old_source: Path,
    new_source: Path,
    colour: bool = False,
) -> list[str]:
    """What `admin diff` prints: a header naming both sides, then one line per difference."""
    out = StyledLines(colour)

    def side(source: Path, app: Application) -> str:
        return f"{source} (application {app.name}, targets: {' '.join(app.targets) or 'none'})"

    out.add(f"diff {side(old_source, before)} -> {side(new_source, after)}")
    out.add(
        f"{len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.changed)} restarted, {len(changes.unchanged)} unchanged"
    )
    old_servers, new_servers = before.servers(), after.servers()
    for server_id in changes.added:
        out.add(f"  {out.styled('added', GREEN)}      {server_id}")
    for server_id in changes.removed:
        out.add(f"  {out.styled('removed', RED)}    {server_id}")
    for server_id, fields in changes.changed.items():
        out.add(f"  {out.styled('restarted', YELLOW)}  {server_id} ({', '.join(fields)})")
        details = field_changes(old_servers[server_id], new_servers[server_id], fields)
        out.lines += [f"      {line}" for line in details]
    for server_id in changes.unchanged:
        out.add(f"  unchanged  {server_id}")
    groups_before = {g.id: g for g in before.replica_groups}
    groups_after = {g.id: g for g in after.replica_groups}
    out.lines += _keyed_lines("replica-group", groups_before, groups_after, changes.replica_groups)
    out.lines += _keyed_lines("node", before.nodes, after.nodes, changes.nodes)
    if changes.description_changed:
        out.add("  changed    application description")
    return out.lines


def print_diff(
    changes: ApplicationDiff,
    before: Application,
    after: Application,
    old_source: Path,
    new_source: Path,
    stream: TextIO | None = None,
) -> None:
    """Print `diff_lines` in one write."""
    stream = stream or sys.stdout
    out = StyledLines(wants_colour(stream))
    out.lines = diff_lines(changes, before, after, old_source, new_source, out.colour)
    out.write(stream)
