"""How a wait shows progress: a live table on a terminal, one plain line per change when piped."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from shoal.cli.readiness import Readiness, state_name
from shoal.rpc import common_pb2


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
    """Call `update(readiness)` on every event; use as a context manager."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._printed: dict[str, str] = {}

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(console=self.console, transient=True, auto_refresh=False)
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
        rows = [
            (s.server_id, s.node, _status_text(s, readiness, failed))
            for s in sorted(readiness.servers.values(), key=lambda s: s.server_id)
            if s.activation == "always"
        ]
        if self._live is not None:
            table = Table(box=None, title=self._title(readiness, failed), title_justify="left")
            for column in ("server", "node", "state"):
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            self._live.update(table, refresh=True)
            return
        for server_id, node, text in rows:  # plain: only what changed, one line each
            if self._printed.get(server_id) != text:
                self._printed[server_id] = text
                self.console.print(f"  {server_id} ({node}): {text}", markup=False)

    @staticmethod
    def _title(readiness: Readiness, failed: dict[str, str]) -> str:
        active = len(readiness.active)
        return f"servers active: {active}/{active + len(readiness.waiting) + len(failed)}"
