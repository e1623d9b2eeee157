"""Each kind of error has one exit code, from the table in shoal.cli.exits."""

from __future__ import annotations

import pytest

from shoal.cli import exits
from shoal.cli.errors import (
    AlreadyRunningError,
    ConsoleUsageError,
    DaemonStartError,
    NotRunningError,
    ServersFailedError,
)
from shoal.errors import (
    DescriptorError,
    NodeUnreachableError,
    PermissionDeniedError,
    Problem,
    ServerNotFoundError,
    ShoalError,
    SiteError,
    TimedOutError,
    UnreachableError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ShoalError("x"), 1),
        (ConsoleUsageError("x"), 2),
        (DescriptorError([Problem("f", 1, "bad")]), 3),
        (PermissionDeniedError("x"), 4),
        (SiteError("x"), 6),
        (NotRunningError("x"), 7),
        (UnreachableError("x"), 7),
        (NodeUnreachableError("x"), 7),
        (AlreadyRunningError("x"), 8),
        (DaemonStartError("x"), 9),
        (TimedOutError("x"), 10),
        (ServersFailedError("x"), 11),
        (ServerNotFoundError("x"), 12),
    ],
)
def test_exit_code_of_each_error_kind(error: ShoalError, code: int) -> None:
    assert exits.exit_code_for(error) == code
