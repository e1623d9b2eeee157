"""The one root of every error Shoal shows a user, with a message and a hint on what to do.

ShoalError                 message + hint; the CLI prints it as one line (plus the hint)
├── ConfigError            a property file or value is wrong (file, line, key)
├── SiteError              no site (prefix) found, or a site file is missing
└── DescriptorError        an application descriptor is invalid: every problem, file:line each
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ShoalError(Exception):
    """An error with a readable message and, when we know one, what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(ShoalError):
    """A property file or a property value is malformed; names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str = "",
    ) -> None:
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        what = f"{key}: " if key is not None else ""
        super().__init__(f"{where}{what}{message}", hint)
        self.file = file
        self.line = line
        self.key = key


class SiteError(ShoalError):
    """The site (prefix) cannot be found, or one of its files is missing."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a descriptor, located at file:line (line 0 when unknown)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DescriptorError(ShoalError):
    """An application descriptor is invalid. Carries every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem], hint: str = "") -> None:
        self.problems = tuple(problems)
        super().__init__(
            "\n".join(str(p) for p in self.problems),
            hint or "fix the descriptor; nothing was deployed",
        )
