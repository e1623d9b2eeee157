"""Fixtures for the node's integration tests: a node's parts (activator, hooks, supervisors)
on the test's event loop, with real processes, cleaned up by pid."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio

from shoal.descriptor.model import Activation, ServerDescription
from shoal.node import lifecycle as lc
from shoal.node.activator import Activator
from shoal.node.daemon import node_values
from shoal.node.hooks import ConfigWriter, OutputCapture, OutputSettings, ReadyAtSpawn
from shoal.node.pidrecord import PidRecord
from shoal.node.restart import RestartPolicy
from shoal.node.service import NodeService
from shoal.node.supervisor import NodeSettings, Supervisor
from shoal.rpc import common_pb2

MISBEHAVE = str(Path(__file__).parents[2] / "servers" / "misbehave.py")
WAIT = 10.0  # the bound on any wait; a passing test waits far less


def server(
    server_id: str,
    *options: str,
    activation: Activation = Activation.MANUAL,
    node: str = "node1",
    **fields: object,
) -> ServerDescription:
    """A description running misbehave.py with `options`."""
    values: dict[str, object] = {
        "id": server_id,
        "node": node,
        "application": "Test",
        "exe": sys.executable,
        "options": ("-S", MISBEHAVE, *options),
        "activation": activation,
    }
    values.update(fields)
    return ServerDescription(**values)  # type: ignore[arg-type]


async def until(condition: Callable[[], object], what: str, wait: float = WAIT) -> None:
    """Poll `condition` (bounded) on the loop; fail naming `what` if it never holds."""
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {wait} s still not: {what}")
        await asyncio.sleep(0.005)


async def output_has(path: Path, text: str) -> str:
    """Poll (bounded) until the server's output file holds `text`; its content."""
    seen = ""

    def holds() -> bool:
        nonlocal seen
        seen = path.read_text() if path.exists() else ""
        return text in seen

    await until(holds, f"{text!r} in {path}")
    return seen


@dataclass
class NodeParts:
    """What a node runs its servers with, minus gRPC and the session."""

    root: Path
    activator: Activator
    output: OutputCapture
    settings: NodeSettings
    published: list[common_pb2.ServerStatus] = field(default_factory=list)
    supervisors: list[Supervisor] = field(default_factory=list)

    def supervisor(self, server_id: str) -> Supervisor:
        made = Supervisor(
            server_id,
            self.settings,
            self.activator,
            hooks=self.hooks(),
            readiness=ReadyAtSpawn(),
            on_publish=self.published.append,
        )
        self.supervisors.append(made)
        return made

    def hooks(self) -> tuple[ConfigWriter, OutputCapture]:
        writer = ConfigWriter("node1", {"Ice.Default.Locator": "IceGrid/Locator:tcp -p 4061"})
        return writer, self.output

    def service(self) -> NodeService:
        return NodeService(
            self.settings,
            self.activator,
            output=self.output,
            hooks=self.hooks()[:1],
            readiness=ReadyAtSpawn(),
            on_publish=self.published.append,
        )


def make_parts(
    root: Path, *, policy: RestartPolicy | None = None, max_bytes: int = 1 << 20
) -> NodeParts:
    data = root / "data"
    return NodeParts(
        root=root,
        activator=Activator(record=PidRecord(data / "pids")),
        output=OutputCapture(OutputSettings(root / "log", max_bytes=max_bytes, backups=2)),
        settings=NodeSettings(
            node_name="node1",
            node_data=data,
            node_values=node_values(data),
            supervision=lc.SupervisionConfig(wait_time=5.0, restart=policy or RestartPolicy()),
        ),
    )


async def clean_up(parts: NodeParts, *services: NodeService) -> None:
    """Stop everything the test started, by pid (the activator's), then close."""
    for service in services:
        await service.stop_all()
    for supervisor in parts.supervisors:
        await supervisor.stop(keep_down=True)
    await parts.activator.stop_all(timeout=2.0)
    parts.activator.close()
    parts.output.close()


@pytest_asyncio.fixture
async def parts(tmp_path: Path) -> AsyncIterator[NodeParts]:
    made = make_parts(tmp_path)
    try:
        yield made
    finally:
        await clean_up(made)
