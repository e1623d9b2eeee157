"""Reading a descriptor the way every admin command does: DESCRIPTOR, TARGETS and NAME=VALUE words.

As in OMERO, a first word that names an existing file is the descriptor; otherwise the site's
etc/grid/default.xml is used and every word is a target. Words with `=` override variables.
A word that looks like a file (a `/` in it, or ending in `.xml`) is never taken for a target: a
mistyped file name must not check the default descriptor instead and say OK.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shoal.cli.errors import ConsoleUsageError
from shoal.config.site import Site
from shoal.errors import ShoalError

if TYPE_CHECKING:
    from shoal.descriptor.model import Application

__all__ = [
    "DeployRequest",
    "Loaded",
    "WordUsageError",
    "load_application",
    "load_checked",
    "print_warnings",
    "reserved_variables",
    "split_words",
]

_DESCRIPTOR_HINT = "give the path of an application descriptor (.xml)"


class WordUsageError(ConsoleUsageError):
    """A DESCRIPTOR / TARGET / NAME=VALUE word that is an option (exit code: usage)."""


@dataclass(frozen=True)
class DeployRequest:
    """What the user asked to check, diff or deploy: a file, its targets and variable overrides."""

    descriptor: Path
    targets: tuple[str, ...]
    variables: dict[str, str]


def _looks_like_a_file(word: str) -> bool:
    return "/" in word or word.endswith(".xml")


def descriptor_file(word: str | Path) -> Path:
    """`word` as a descriptor path; a ShoalError saying what it is when not a regular file."""
    path = Path(word)
    if path.is_file():
        return path
    if path.is_dir():
        raise ShoalError(f"descriptor {word} is a directory", _DESCRIPTOR_HINT)
    if path.exists():
        raise ShoalError(f"descriptor {word} is not a regular file", _DESCRIPTOR_HINT)
    raise ShoalError(f"descriptor {word} does not exist", _DESCRIPTOR_HINT)


def split_words(words: Sequence[str], default: Callable[[], Path]) -> DeployRequest:
    """Split `[DESCRIPTOR] [TARGET | NAME=VALUE]...`; `default()` gives the file if none is."""
    for word in words:
        if word.startswith("-") and word != "-":
            raise WordUsageError(
                f"unknown option `{word}'",
                "words are [DESCRIPTOR] [TARGET...] [NAME=VALUE...]; "
                "put shoal's own options first: shoal --debug admin ...",
            )
    rest = list(words)
    if rest and "=" not in rest[0] and (_looks_like_a_file(rest[0]) or Path(rest[0]).is_file()):
        descriptor = descriptor_file(rest.pop(0))
    else:
        descriptor = descriptor_file(default())
    targets: list[str] = []
    variables: dict[str, str] = {}
    for word in rest:
        name, equals, value = word.partition("=")
        if not equals:
            if _looks_like_a_file(word):
                descriptor_file(word)  # says when it does not exist
                raise ShoalError(
                    f"`{word}' is a file, not a target: one descriptor only, as the first word",
                    f"checking {descriptor}; give the other file in its own command",
                )
            targets.append(word)
        elif not name:
            raise ShoalError(f"`{word}' has no variable name before `='", "write NAME=VALUE")
        else:
            variables[name] = value
    return DeployRequest(descriptor, tuple(targets), variables)


def reserved_variables(site: Site | None) -> dict[str, str]:
    """Shoal's own variables: the site prefix and the Python that runs Shoal."""
    home = str(site.prefix) if site is not None else str(Path.cwd())
    return {"SHOAL_HOME": home, "PYTHON": sys.executable}


@dataclass(frozen=True)
class Loaded:
    """An expanded application and the warnings about the words that asked for it."""

    application: Application
    warnings: tuple[str, ...]


def load_checked(request: DeployRequest, site: Site | None) -> Loaded:
    """Parse, select targets and expand; warn of targets and variables nothing matched."""
    # The descriptor engine (lxml) is loaded only by the commands that read a descriptor.
    from shoal.descriptor.expand import expand_report
    from shoal.descriptor.parser import parse_file_result

    parsed = parse_file_result(request.descriptor, targets=request.targets)
    reserved = reserved_variables(site)
    expansion = expand_report(
        parsed.application,
        targets=request.targets,
        variables=request.variables,
        reserved=reserved,
    )
    warnings = [
        f"target `{target}' matches no <target> in the descriptor"
        for target in parsed.unmatched_targets
    ]
    warnings += [
        f"variable `{name}' is never used (no ${{{name}}} in what was deployed)"
        for name in expansion.unused_variables
    ]
    guessed_home = (
        site is None
        and "SHOAL_HOME" in expansion.used_variables
        and "SHOAL_HOME" not in parsed.application.variables
        and "SHOAL_HOME" not in request.variables
    )
    if guessed_home:
        warnings.append(
            f"no site found: ${{SHOAL_HOME}} is the current directory ({reserved['SHOAL_HOME']})"
        )
    return Loaded(expansion.application, tuple(warnings))


def load_application(request: DeployRequest, site: Site | None) -> Application:
    """Parse, select targets and expand: the application a deploy of `request` would install."""
    return load_checked(request, site).application


def print_warnings(warnings: Sequence[str]) -> None:
    """One stderr line each; they do not change the exit code."""
    for warning in warnings:
        click.echo(f"shoal: warning: {warning}", err=True)
