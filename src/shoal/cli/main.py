"""The `shoal` command tree, and how errors reach the user.

shoal.cli.entry runs it for every command the quick path (shoal.cli.quick) does not answer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from shoal import __version__
from shoal.cli.context import CliContext
from shoal.cli.entry import exit_now, shortcut_arguments
from shoal.cli.exits import EXIT_FAILURE, EXIT_USAGE, exit_code_for
from shoal.cli.lazy import LazyCommand, LazyGroup
from shoal.errors import ShoalError

if TYPE_CHECKING:
    from shoal.cli.quick_start import HeadStart

#: The top-level commands, imported when they run: `shoal --help` loads none of them.
COMMANDS = {
    "admin": LazyCommand(
        "shoal.cli.admin:admin",
        "Administer the grid: start, deploy, stop, status, diagnostics, the ice console.",
    ),
    "init": LazyCommand(
        "shoal.cli.init:init",
        "Create a site in DIRECTORY: bin/shoal, etc/ (descriptors, configs) and var/.",
    ),
    "node": LazyCommand(
        "shoal.cli.node:node",
        "Start, stop or ping a node daemon: shoal node [NAME] start|stop|status|restart.",
    ),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="shoal")
@click.pass_context
def shoal(ctx: click.Context, debug: bool) -> None:
    """Shoal: run many server processes over many hosts from one XML descriptor."""
    ctx.ensure_object(CliContext).debug = debug


def run(
    argv: Sequence[str] | None = None,
    *,
    launcher_prefix: str | None = None,
    head_start: HeadStart | None = None,
) -> int:
    """Entry point of `shoal` and of site launchers; returns the process exit code.

    `launcher_prefix` is the site a launcher was made for: the fallback when the launcher was
    copied elsewhere (e.g. into /etc/init.d) and SHOAL_HOME is not set. `head_start`: the
    master the entry point spawned for `admin start` (shoal.cli.quick_start).
    """
    program = sys.argv[0] if argv is None else argv[0]
    args = shortcut_arguments(program, sys.argv[1:] if argv is None else argv[1:])
    debug = "--debug" in args
    context = CliContext(
        program=program,
        launcher_prefix=Path(launcher_prefix) if launcher_prefix else None,
        debug=debug,
        head_start=head_start,
    )
    try:
        result = shoal.main(args=args, prog_name="shoal", obj=context, standalone_mode=False)
    except click.exceptions.Abort as abort:
        # Ctrl-C (click turns it into Abort): the user knows; exit quietly, as a shell does.
        if not isinstance(abort.__context__, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
        return 130
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as usage:
        usage.show()
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if debug:
            raise
        return report(error)
    # Without standalone mode, click returns the code of a `raise click.exceptions.Exit(code)`.
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def report(error: Exception, *, debug: bool = False) -> int:
    """Tell an error in one line (plus a hint), as every command does; its exit code.
    A ShoalError is the user's to act on; anything else is a bug, traced with --debug."""
    if debug:
        raise error
    if isinstance(error, ShoalError):
        click.echo(f"shoal: {error.message}", err=True)
        if error.hint:
            click.echo(f"  {error.hint}", err=True)
        return exit_code_for(error)
    click.echo(
        f"shoal: internal error: {_describe(error)} (run with --debug for the traceback)",
        err=True,
    )
    return EXIT_FAILURE


def _describe(error: Exception) -> str:
    """`TypeName: message` on one line, shortened: never a traceback, never a page of text."""
    text = " ".join(str(error).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def main(launcher_prefix: str | None = None) -> NoReturn:
    """The entry point of launchers made before shoal.cli.entry (the full path only)."""
    exit_now(run(launcher_prefix=launcher_prefix))
