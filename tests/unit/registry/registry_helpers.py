"""Helpers for the registry database tests: a short deploy and a Python child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from shoal.registry.database import RegistryDatabase

SRC = Path(__file__).resolve().parents[3] / "src"
T0 = 1_700_000_000.0


def descriptor(name: str, *servers: str) -> str:
    """A small canonical-looking descriptor; the database stores it as opaque text."""
    body = "".join(f'      <server id="{s}" exe="python"/>\n' for s in servers)
    return (
        f'<icegrid>\n  <application name="{name}">\n    <node name="master">\n'
        f"{body}    </node>\n  </application>\n</icegrid>\n"
    )


def deploy(
    db: RegistryDatabase,
    name: str,
    server_nodes: Mapping[str, str],
    *,
    now: float = T0,
    targets: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    deployed_by: str = "root",
    expected_revision: int | None = None,
) -> int:
    return db.deploy(
        name,
        descriptor_xml=descriptor(name, *server_nodes),
        source=f"etc/grid/{name}.xml",
        targets=targets,
        variables=variables or {},
        server_nodes=server_nodes,
        deployed_by=deployed_by,
        now=now,
        expected_revision=expected_revision,
    )


def python_child(script: str) -> subprocess.Popen[str]:
    """Start `python -c script` with shoal importable; text pipes for stdin and stdout."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
