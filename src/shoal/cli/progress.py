"""How a wait shows progress: a live table on a terminal; piped, only each failure as it happens
(the command prints a summary with counts at the end), so 200 servers do not make 500 lines."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

import click

from shoal.cli.readiness import Readiness, natural_key, state_name
from shoal.rpc import common_pb2

if TYPE_CHECKING:
    from rich.live import Live


def _status_text(
    status: common_pb2.ServerStatus, readiness: Readiness, failed: dict[str, str]
) -> str:
    if status.node not in readiness.nodes_up:
        return f"waiting for node {status.node}"
    reason = failed.get(status.server_id)
    if reason is not None:
        return f"FAILED: {reason}"
    text = state_name(status.state)
    if status.pid:
        text += f" (pid {status.pid})"
    if status.restart_count:
        text += f", {status.restart_count} restart(s)"
    return text


class ProgressDisplay:
    """Call `update(readiness)` on every event; use as a context manager.

    `terminal`: show the live table (default: when stdout is a terminal). rich is imported
    only then.
    """

    def __init__(self, terminal: bool | None = None) -> None:
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self._live: Live | None = None
        self._reported: set[str] = set()

    def __enter__(self) -> ProgressDisplay:
        if self.terminal:
            from rich.live import Live

            from shoal.cli.render import console

            self._live = Live(console=console(), transient=True, auto_refresh=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, value, traceback)

    def update(self, readiness: Readiness) -> None:
        failed = readiness.failed  # a property that walks every server: once per update
        if self._live is None:
            self._report_failures(readiness, failed)
            return
        from rich.table import Table

        table = Table(box=None, title=self._title(readiness, failed), title_justify="left")
        for column in ("server", "node", "state"):
            table.add_column(column)
        for status in sorted(readiness.servers.values(), key=lambda s: natural_key(s.server_id)):
            if status.activation == "always":
                table.add_row(
                    status.server_id, status.node, _status_text(status, readiness, failed)
                )
        self._live.update(table, refresh=True)

    def _report_failures(self, readiness: Readiness, failed: dict[str, str]) -> None:
        """Piped: one line per server the first time it is seen failed, nothing else."""
        for server_id in sorted(failed, key=natural_key):
            if server_id not in self._reported:
                self._reported.add(server_id)
                node = readiness.servers[server_id].node
                click.echo(f"  {server_id} ({node}): FAILED: {failed[server_id]}")

    @staticmethod
    def _title(readiness: Readiness, failed: dict[str, str]) -> str:
        active = len(readiness.active)
        return f"servers active: {active}/{active + len(readiness.waiting) + len(failed)}"
