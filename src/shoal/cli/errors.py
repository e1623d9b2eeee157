"""Errors only the CLI raises (grid lifecycle); each has its exit code in shoal.cli.exits.

ShoalError (shoal.errors)
├── AlreadyRunningError    `admin start` / `node start`: the grid or node is already running
├── NotRunningError        the registry or node does not answer / has no live process
├── DaemonStartError       a daemon wrote `error MESSAGE\tHINT` or exited before `ready`
├── ServersFailedError     the grid started but some `always` servers failed or ended disabled
└── ConsoleUsageError      `shoal admin ice`: unknown command or wrong arguments
"""

from __future__ import annotations

from shoal.errors import ShoalError


class AlreadyRunningError(ShoalError):
    """`start` found a live registry or node process; nothing was started."""


class NotRunningError(ShoalError):
    """The grid (or a node) is not running: no answer and no live process."""


class DaemonStartError(ShoalError):
    """A daemon could not start: its own error line, or how it exited before `ready`."""


class ServersFailedError(ShoalError):
    """Some servers did not become active; the grid was left running (`failed` names them)."""

    def __init__(self, message: str, hint: str = "", *, failed: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.failed = failed


class ConsoleUsageError(ShoalError):
    """An admin console command that does not exist or has the wrong arguments."""
