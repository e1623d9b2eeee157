"""`shoal init DIR`: create a site (bin/shoal launcher, etc/, var/) from the shipped templates."""

from __future__ import annotations

import os
import stat
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

import shoal
from shoal.errors import ShoalError

LAUNCHER = """\
#!{python} -S
# Shoal launcher for the site at {prefix}.
# Link or copy it under another name to get a shortcut: shoal-admin runs `shoal admin`,
# shoal-admin-ice runs `shoal admin ice` (an init.d script can be such a copy).
# -S: Python's site set-up (site-packages, .pth files) is left to the commands that need more
# than Shoal itself. Shoal is imported from where `shoal init` found it, else as usual.
import sys

sys.path.append({shoal_path!r})
try:
    import shoal.cli.entry
except ImportError:  # installed elsewhere since: Python's usual set-up finds it
    sys.path.remove({shoal_path!r})
    import site

    site.main()
    import shoal.cli.entry
else:
    sys.path.remove({shoal_path!r})  # Shoal only: anything else comes with the set-up

shoal.cli.entry.main(launcher_prefix={prefix!r}, site_deferred=True)
"""

VAR_DIRECTORIES = ("var/log", "var/registry", "var/master")


def _copy_tree(source: Traversable, target: Path) -> list[Path]:
    made = []
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            made += _copy_tree(entry, target / entry.name)
        else:
            destination = target / entry.name
            destination.write_bytes(entry.read_bytes())
            made.append(destination)
    return made


def write_launcher(prefix: Path) -> Path:
    """Write bin/shoal: runs this Python's shoal on the site, wherever it is linked or copied."""
    launcher = prefix / "bin" / "shoal"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    # The directory Shoal is imported from (site-packages, or a source tree): the launcher
    # imports Shoal from there before Python's site set-up has run (see LAUNCHER).
    shoal_path = os.path.dirname(os.path.dirname(os.path.abspath(shoal.__file__)))
    launcher.write_text(
        LAUNCHER.format(python=sys.executable, prefix=str(prefix), shoal_path=shoal_path)
    )
    mode = launcher.stat().st_mode
    launcher.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def create_site(directory: Path) -> list[Path]:
    """Create a site in `directory` (absent or empty); return the files written."""
    prefix = directory.absolute()
    if prefix.exists() and not prefix.is_dir():
        raise ShoalError(f"cannot create a site at {prefix}: it is a file", "choose another path")
    if prefix.is_dir() and any(prefix.iterdir()):
        raise ShoalError(
            f"cannot create a site at {prefix}: the directory is not empty",
            "choose a new or empty directory; an existing site is left as it is",
        )
    try:
        made = _copy_tree(resources.files("shoal") / "data" / "etc", prefix / "etc")
        made.append(write_launcher(prefix))
        for name in VAR_DIRECTORIES:
            (prefix / name).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ShoalError(
            f"cannot create a site at {prefix}: {error.strerror or error}",
            "check the path and its permissions",
        ) from error
    return made


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Create a site in DIRECTORY: bin/shoal, etc/ (descriptors, configs) and var/."""
    made = create_site(directory)
    prefix = directory.absolute()
    click.echo(f"Created a Shoal site at {prefix} ({len(made)} files).")
    here = os.path.relpath(prefix)
    click.echo(f"  check its descriptor:  {here}/bin/shoal admin check")
    click.echo(f"  edit the grid:         {here}/etc/grid/default.xml")
