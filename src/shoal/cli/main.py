"""The `shoal` command: argv[0] shortcuts, the command tree, and how errors reach the user.

A launcher named `shoal-admin` runs `shoal admin ...`, `shoal-admin-ice` runs `shoal admin ice ...`:
the program name is split on hyphens and the later parts are prepended to the arguments.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from shoal import __version__
from shoal.cli.context import CliContext
from shoal.cli.exits import EXIT_FAILURE, EXIT_USAGE, exit_code_for
from shoal.cli.lazy import LazyCommand, LazyGroup
from shoal.errors import ShoalError

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


def shortcut_arguments(program: str, args: Sequence[str]) -> list[str]:
    """`shoal-admin-ice x` → `["admin", "ice", "x"]`; a plain `shoal` adds nothing."""
    name = os.path.basename(program)
    if name.endswith(".py"):
        name = name[:-3]
    words = name.split("-")
    if words[0] != "shoal":
        return list(args)
    return [*words[1:], *args]


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="shoal")
@click.pass_context
def shoal(ctx: click.Context, debug: bool) -> None:
    """Shoal: run many server processes over many hosts from one XML descriptor."""
    ctx.ensure_object(CliContext).debug = debug


def run(argv: Sequence[str] | None = None, *, launcher_prefix: str | None = None) -> int:
    """Entry point of `shoal` and of site launchers; returns the process exit code.

    `launcher_prefix` is the site a launcher was made for: the fallback when the launcher was
    copied elsewhere (e.g. into /etc/init.d) and SHOAL_HOME is not set.
    """
    program = sys.argv[0] if argv is None else argv[0]
    args = shortcut_arguments(program, sys.argv[1:] if argv is None else argv[1:])
    debug = "--debug" in args
    context = CliContext(
        program=program,
        launcher_prefix=Path(launcher_prefix) if launcher_prefix else None,
        debug=debug,
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
    except ShoalError as error:
        if debug:
            raise
        click.echo(f"shoal: {error.message}", err=True)
        if error.hint:
            click.echo(f"  {error.hint}", err=True)
        return exit_code_for(error)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback with --debug
        if debug:
            raise
        click.echo(
            f"shoal: internal error: {_describe(error)} (run with --debug for the traceback)",
            err=True,
        )
        return EXIT_FAILURE
    # Without standalone mode, click returns the code of a `raise click.exceptions.Exit(code)`.
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _describe(error: Exception) -> str:
    """`TypeName: message` on one line, shortened: never a traceback, never a page of text."""
    text = " ".join(str(error).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def exit_now(code: int) -> NoReturn:
    """Exit with `code` once our output is flushed, without the interpreter's teardown.

    Taking apart a process that loaded asyncio and protobuf (thousands of objects) costs a
    one-shot command tens of ms, a large part of its life. Nothing is lost: a command closes what it
    opens in its own `with` blocks before `run` returns, and Shoal registers no atexit work;
    log handlers (the daemons') are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`| head`), or a closed stream: nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    os._exit(code)


def main(launcher_prefix: str | None = None) -> NoReturn:
    """The console-script entry point, and the site launchers' (bin/shoal)."""
    exit_now(run(launcher_prefix=launcher_prefix))
