"""How `shoal admin ice` prints answers, in icegridadmin's words (Parser.cpp, Ice 3.7)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from shoal.cli.readiness import state_name
from shoal.cli.render import server_lines
from shoal.rpc import admin_pb2, common_pb2


def server_state_line(status: common_pb2.ServerStatus) -> str:
    """`active (pid = 123, enabled)`, `inactive (disabled)`, as `server state` prints."""
    enabled = "enabled" if status.enabled else "disabled"
    name = state_name(status.state)
    if status.state in (common_pb2.ACTIVE, common_pb2.ACTIVATION_TIMED_OUT):
        return f"{name} (pid = {status.pid}, {enabled})"
    return f"{name} ({enabled})"


def node_describe_lines(status: common_pb2.NodeStatus) -> list[str]:
    info = status.info
    return [
        f"node `{info.name}'",
        "{",
        f"    operating system = `{info.os}'",
        f"    host name = `{info.hostname}'",
        f"    release = `{info.release}'",
        f"    version = `{info.version}'",
        f"    machine type = `{info.machine}'",
        f"    number of threads = `{info.cpus}'",
        f"    state = `{'up' if status.up else 'down'}'",
        f"    endpoints = `{info.endpoints}'",
        "}",
    ]


def load_line(load: common_pb2.LoadInfo) -> str:
    return f"load average (1/5/15): {load.avg1:g} / {load.avg5:g} / {load.avg15:g}"


def registry_describe_lines(info: admin_pb2.RegistryInfo) -> list[str]:
    return [
        f"registry `{info.name}'",
        "{",
        f"    host name = `{info.hostname}'",
        f"    client endpoints = `{info.client_endpoints}'",
        f"    internal endpoints = `{info.internal_endpoints}'",
        f"    version = `{info.version}'",
        f"    pid = `{info.pid}'",
        "}",
    ]


def server_describe_lines(reply: admin_pb2.ServerDescribeReply) -> list[str]:
    # Here, not at the top: the descriptor model costs a one-shot `server list` ~30 ms to load.
    from shoal.rpc.convert import server_from_pb

    server = server_from_pb(reply.description)
    lines = [
        f"server `{server.id}'",
        "{",
        f"    application = `{server.application}'",
        f"    node = `{server.node}'",
        f"    activation = `{server.activation.value}'",
        f"    state = `{server_state_line(reply.status)}'",
    ]
    lines += _status_lines(reply.status)
    for adapter in reply.status.adapters:
        lines.append(f"    registered adapter `{adapter.adapter_id}' = `{adapter.endpoints}'")
    lines += [f"    {line}" for line in server_lines(server)]
    lines.append("}")
    return lines


def _when(stamp: Timestamp) -> str:
    return str(stamp.ToDatetime().isoformat(timespec="seconds")) + "Z"


def _status_lines(status: common_pb2.ServerStatus) -> list[str]:
    """Why the server is in its state: restarts, last exit, who disabled it, recent history."""
    lines = [f"    restarts = `{status.restart_count}'"]
    if status.HasField("last_exit") and status.last_exit.description:
        lines.append(
            f"    last exit = `{status.last_exit.description}' at `{_when(status.last_exit.at)}'"
        )
    if status.disabled_by == common_pb2.ServerStatus.FAILURE:
        lines.append("    disabled by = `failure' (`server enable` brings it back)")
    elif status.disabled_by == common_pb2.ServerStatus.USER:
        lines.append("    disabled by = `user'")
    for change in list(status.history)[-5:]:
        state = common_pb2.ServerState.Name(change.state).lower().replace("_", " ")
        lines.append(f"    history     {_when(change.at)} {state}: {change.reason}")
    return lines


def application_summary_lines(summary: admin_pb2.ApplicationSummary) -> list[str]:
    deployed = summary.deployed_at.ToDatetime().isoformat(timespec="seconds") + "Z"
    return [
        f"application `{summary.name}'",
        "{",
        f"    revision = `{summary.revision}'",
        f"    deployed = `{deployed}' from `{summary.source_name}'",
        f"    targets = `{' '.join(summary.targets)}'",
        f"    servers = `{summary.server_count}' on nodes `{' '.join(summary.nodes)}'",
        "}",
    ]


def diff_lines(reply: admin_pb2.ApplicationDiffReply) -> list[str]:
    head = f"application `{reply.application}'" + ("" if reply.exists else " (not deployed)")
    lines = [
        f"{head}: {len(reply.added)} added, {len(reply.removed)} removed, "
        f"{len(reply.changed)} changed, {len(reply.unchanged)} unchanged"
    ]
    lines += [f"  added      {s}" for s in reply.added]
    lines += [f"  removed    {s}" for s in reply.removed]
    for changed in reply.changed:
        verb = "restart" if changed.running else "changed"
        lines.append(f"  {verb}    {changed.server_id} ({', '.join(changed.changed_fields)})")
    lines += [f"  unchanged  {s}" for s in reply.unchanged]
    return lines


def deploy_lines(reply: admin_pb2.DeployReply) -> list[str]:
    """The summary counts with the same words as the rows: a changed server that was running
    is `restarted', one that was not is `reloaded' (its next start uses the new description)."""
    restarted = [c for c in reply.restarted if c.running]
    reloaded = [c for c in reply.restarted if not c.running]
    counts = [f"{len(reply.added)} added", f"{len(reply.removed)} removed"]
    counts.append(f"{len(restarted)} restarted")
    if reloaded:
        counts.append(f"{len(reloaded)} reloaded")
    counts.append(f"{len(reply.unchanged)} unchanged")
    lines = [f"application `{reply.application}' revision {reply.revision}: {', '.join(counts)}"]
    lines += [f"  added      {s}" for s in reply.added]
    lines += [f"  removed    {s}" for s in reply.removed]
    for changed in reply.restarted:
        verb = "restarted" if changed.running else "reloaded "
        lines.append(f"  {verb}  {changed.server_id} ({', '.join(changed.changed_fields)})")
    return lines


#: What `adapter endpoints` shows for a deployed adapter its server has not registered.
INACTIVE_ADAPTER = "<inactive>"


def adapter_list_lines(adapters: list[admin_pb2.AdapterInfo]) -> list[str]:
    """`adapter list`: one adapter a line, its server and its endpoints (or <inactive>)."""
    if not adapters:
        return []
    id_width = max(len(a.adapter_id) for a in adapters)
    server_width = max(len(a.server_id or "-") for a in adapters)
    return [
        f"{a.adapter_id:<{id_width}}  {a.server_id or '-':<{server_width}}  "
        f"{a.endpoints or INACTIVE_ADAPTER}"
        for a in adapters
    ]


def object_describe_lines(objects: list[admin_pb2.ObjectInfo]) -> list[str]:
    """`object describe EXPR`: icegridadmin's `proxy = `...'` and `type = `...'` per object."""
    lines = []
    for info in objects:
        lines += [f"proxy = `{info.proxy}'", f"type = `{info.type}'"]
    return lines
