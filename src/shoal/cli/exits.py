"""Exit codes of the `shoal` command, in one table (LSB init-script style where one applies)."""

from __future__ import annotations

from shoal.errors import ConfigError, DescriptorError, ShoalError, SiteError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 6  # LSB: program is not configured

# Most specific class first.
_EXIT_CODES: tuple[tuple[type[ShoalError], int], ...] = (
    (DescriptorError, 3),
    (ConfigError, EXIT_CONFIG),
    (SiteError, EXIT_CONFIG),
    (ShoalError, EXIT_FAILURE),
)


def exit_code_for(error: ShoalError) -> int:
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE  # pragma: no cover - ShoalError is last in the table
