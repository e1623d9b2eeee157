"""Reading a descriptor the way every admin command does: DESCRIPTOR, TARGETS and NAME=VALUE words.

As in OMERO, a first word that names an existing file is the descriptor; otherwise the site's
etc/grid/default.xml is used and every word is a target. Words with `=` override variables.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shoal.config.site import Site
from shoal.descriptor.expand import expand
from shoal.descriptor.model import Application
from shoal.descriptor.parser import parse_file
from shoal.errors import ShoalError


@dataclass(frozen=True)
class DeployRequest:
    """What the user asked to check, diff or deploy: a file, its targets and variable overrides."""

    descriptor: Path
    targets: tuple[str, ...]
    variables: dict[str, str]


def split_words(words: Sequence[str], default: Callable[[], Path]) -> DeployRequest:
    """Split `[DESCRIPTOR] [TARGET | NAME=VALUE]...`; `default()` gives the file if none is."""
    rest = list(words)
    if rest and "=" not in rest[0] and (Path(rest[0]).is_file() or rest[0].endswith(".xml")):
        descriptor = Path(rest.pop(0))
    else:
        descriptor = default()
    targets: list[str] = []
    variables: dict[str, str] = {}
    for word in rest:
        name, equals, value = word.partition("=")
        if not equals:
            targets.append(word)
        elif not name:
            raise ShoalError(f"`{word}' has no variable name before `='", "write NAME=VALUE")
        else:
            variables[name] = value
    if not descriptor.is_file():
        raise ShoalError(
            f"descriptor {descriptor} does not exist",
            "give the path of an application descriptor (.xml)",
        )
    return DeployRequest(descriptor, tuple(targets), variables)


def reserved_variables(site: Site | None) -> dict[str, str]:
    """Shoal's own variables: the site prefix and the Python that runs Shoal."""
    home = str(site.prefix) if site is not None else str(Path.cwd())
    return {"SHOAL_HOME": home, "PYTHON": sys.executable}


def load_application(request: DeployRequest, site: Site | None) -> Application:
    """Parse, select targets and expand: the application a deploy of `request` would install."""
    written = parse_file(request.descriptor, targets=request.targets)
    return expand(
        written,
        targets=request.targets,
        variables=request.variables,
        reserved=reserved_variables(site),
    )
