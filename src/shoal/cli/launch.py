"""Start one node daemon and turn its ready-pipe answer into a pid or a one-line error."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from shoal.cli.daemon import (
    NodeFiles,
    ReadyKind,
    Spawned,
    child_exit_status,
    exit_status_text,
    read_ready,
    spawn_node,
    tail_lines,
    wait_for_exit,
)
from shoal.cli.errors import DaemonStartError
from shoal.cli.grid import relative
from shoal.config.site import Site

#: After the pipe closes with no line, how long the daemon may take to finish exiting.
_EXIT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Launched:
    pid: int
    ready: bool  # False: still running, but no `ready` line within the time given


def launch(
    site: Site,
    files: NodeFiles,
    seconds: float | None,
    overrides: Sequence[str] = (),
    *,
    detached: bool = True,
) -> Launched:
    """Spawn the node and wait for its one line; raise DaemonStartError if it cannot start."""
    spawned = spawn_node(site, files, overrides, detached=detached)
    return wait_ready(site, files, spawned, seconds, detached=detached)


def wait_ready(
    site: Site, files: NodeFiles, spawned: Spawned, seconds: float | None, *, detached: bool
) -> Launched:
    """Wait for a spawned node's one line (closing its pipe); DaemonStartError if it failed.

    Apart from `launch` so that a caller can do its own work while the daemon starts."""
    try:
        outcome = read_ready(spawned.ready_fd, seconds)
    finally:
        os.close(spawned.ready_fd)
    what = "the master node" if files.name == "master" else f"node {files.name}"
    log = relative(site, files.stderr)
    if outcome.kind is ReadyKind.READY:
        return Launched(outcome.pid or spawned.pid, ready=True)
    if outcome.kind is ReadyKind.TIMED_OUT:
        return Launched(spawned.pid, ready=False)
    if outcome.kind is ReadyKind.ERROR:
        wait_for_exit(spawned.pid, _EXIT_GRACE_SECONDS)
        child_exit_status(spawned.pid)
        raise DaemonStartError(
            f"{what} could not start: {outcome.message}",
            outcome.hint or f"see {log}",
        )
    # The pipe closed with no line (or a garbled one): the daemon died early.
    exited = wait_for_exit(spawned.pid, _EXIT_GRACE_SECONDS)
    status = child_exit_status(spawned.pid) if exited else None
    how = exit_status_text(status) if status is not None else "stopped answering"
    last = tail_lines(files.stderr) if detached else []
    detail = f": {' | '.join(last)}" if last else ""
    garbled = f" (it wrote {outcome.message!r})" if outcome.kind is ReadyKind.GARBLED else ""
    raise DaemonStartError(
        f"{what} {how} before it was ready{garbled}{detail}",
        f"see {log} for the whole story",
    )
