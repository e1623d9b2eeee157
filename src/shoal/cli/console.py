"""`shoal admin ice [COMMAND...]`: icegridadmin's console, one-shot with words, else interactive.

Interactive mode keeps a readline history in ~/.shoal_admin_history; an error prints one line
(`shoal: ...`, as the CLI) and the console goes on; a script read from a pipe exits with the
code of its last failure. One-shot mode exits with the error's code (shoal.cli.exits).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path

import click

from shoal.cli.client import AdminClient, RegistryTarget
from shoal.cli.console_commands import Output, Session, help_lines, resolve
from shoal.cli.context import CliContext
from shoal.cli.exits import EXIT_OK, EXIT_USAGE, exit_code_for
from shoal.errors import ShoalError

PROMPT = ">>> "
HISTORY = Path("~/.shoal_admin_history")
_HISTORY_LENGTH = 1000


def _write_raw(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def terminal_output() -> Output:
    return Output(click.echo, _write_raw)


def execute(client: AdminClient, session: Session, words: list[str]) -> bool:
    """Run one command line; False when it was `exit` or `quit`."""
    if not words:
        return True
    if words[0] in ("exit", "quit"):
        return False
    if words[0] == "help":
        for line in help_lines(words[1:]):
            session.out.line(line)
        return True
    command, args = resolve(words)
    client.run(command.run(session, args))
    return True


def _unary_only(words: list[str]) -> bool:
    """Does this one-shot command make unary calls only (help and unknown words: no call)?"""
    if words[0] in ("exit", "quit", "help"):
        return True
    try:
        command, _ = resolve(words)
    except ShoalError:
        return True  # a usage error, told by `execute` the same way
    return not command.streams


def _load_history() -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - no readline on this Python
        return
    readline.set_history_length(_HISTORY_LENGTH)
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY.expanduser())


def _save_history() -> None:
    try:
        import readline

        readline.write_history_file(HISTORY.expanduser())
    except (ImportError, OSError):
        pass


def interactive(client: AdminClient, session: Session) -> int:
    """Read commands until exit/EOF; from a pipe, no prompt and no banner (a script).

    Returns the exit code: 0, or for a script (stdin not a terminal) the code of its last
    failed command, so that `shoal admin ice < script` fails when a command did.
    """
    tty = os.isatty(sys.stdin.fileno())
    failed = EXIT_OK
    if tty:
        _load_history()
        click.echo(f"Shoal admin console, registry at {client.target.address}; `help' for help")
    try:
        while True:
            try:
                line = input(PROMPT if tty else "")
            except EOFError:
                click.echo()
                break
            except KeyboardInterrupt:
                click.echo()
                continue
            try:
                if not execute(client, session, shlex.split(line)):
                    break
            except ValueError as exc:  # shlex: unbalanced quotes
                click.echo(f"shoal: {exc}", err=True)
                failed = EXIT_USAGE
            except ShoalError as error:
                click.echo(f"shoal: {error.message}", err=True)
                if error.hint:
                    click.echo(f"  {error.hint}", err=True)
                failed = exit_code_for(error)
            except KeyboardInterrupt:
                click.echo()
    finally:
        if tty:
            _save_history()
    return EXIT_OK if tty else failed


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("words", nargs=-1)
@click.pass_obj
def ice(context: CliContext, words: tuple[str, ...]) -> None:
    """icegridadmin's console: `shoal admin ice server list`, or no words for a prompt."""
    site = context.site()  # like icegridadmin: etc/internal.cfg only
    # One unary command (most of them) needs no event loop; a stream or the prompt does.
    blocking = bool(words) and _unary_only(list(words))
    with AdminClient(RegistryTarget.for_site(site), blocking=blocking) as client:
        session = Session(client.api, site, terminal_output())
        if words:
            execute(client, session, list(words))
            return
        code = interactive(client, session)
    if code:
        raise click.exceptions.Exit(code)
