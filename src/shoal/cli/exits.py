"""Exit codes of the `shoal` command, in one table (LSB init-script style where one applies).

code  meaning
0     done; also `admin stop` / `node stop` when already stopped (LSB: stopping a stopped
      service succeeds, so `restart` and init scripts need no special case)
1     any other failure
2     usage: unknown command, bad option or argument (also in `admin ice`)
3     the descriptor is invalid (file:line problems printed); nothing was started or deployed
4     permission denied by the registry's verifier (LSB: insufficient privilege)
6     the site or a config file is missing or wrong (LSB: program is not configured)
7     not running: the registry / node does not answer (`status`, `waitup`, `ice`, `node status`)
8     already running: `admin start` / `node start` refused, nothing started
9     a daemon failed to start (its `error` line, or its exit before `ready`)
10    timed out waiting (`--wait`: ready, waitup, waitdown, stop)
11    the grid runs but some servers failed or ended disabled (named on stderr)
12    no such server, node or application
"""

from __future__ import annotations

from shoal.cli.errors import (
    AlreadyRunningError,
    ConsoleUsageError,
    DaemonStartError,
    NotRunningError,
    ServersFailedError,
)
from shoal.errors import (
    ConfigError,
    DescriptorError,
    NotFoundError,
    PermissionDeniedError,
    ShoalError,
    SiteError,
    TimedOutError,
    UnreachableError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DESCRIPTOR = 3
EXIT_PERMISSION = 4
EXIT_CONFIG = 6  # LSB: program is not configured
EXIT_NOT_RUNNING = 7  # LSB: program is not running
EXIT_ALREADY_RUNNING = 8
EXIT_DAEMON_FAILED = 9
EXIT_TIMED_OUT = 10
EXIT_SERVERS_FAILED = 11
EXIT_NOT_FOUND = 12

# Most specific class first.
_EXIT_CODES: tuple[tuple[type[ShoalError], int], ...] = (
    (ConsoleUsageError, EXIT_USAGE),
    (DescriptorError, EXIT_DESCRIPTOR),
    (ConfigError, EXIT_CONFIG),
    (SiteError, EXIT_CONFIG),
    (PermissionDeniedError, EXIT_PERMISSION),
    (NotRunningError, EXIT_NOT_RUNNING),
    (UnreachableError, EXIT_NOT_RUNNING),
    (AlreadyRunningError, EXIT_ALREADY_RUNNING),
    (DaemonStartError, EXIT_DAEMON_FAILED),
    (TimedOutError, EXIT_TIMED_OUT),
    (ServersFailedError, EXIT_SERVERS_FAILED),
    (NotFoundError, EXIT_NOT_FOUND),
    (ShoalError, EXIT_FAILURE),
)


def exit_code_for(error: ShoalError) -> int:
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE  # pragma: no cover - ShoalError is last in the table
