"""`shoal admin ice [COMMAND...]`: icegridadmin's console, one-shot with words, else interactive.

Interactive mode keeps a readline history in ~/.shoal_admin_history; an error prints one line
and the console goes on. One-shot mode exits with the error's code (shoal.cli.exits).
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


def interactive(client: AdminClient, session: Session) -> None:
    """Read commands until exit/EOF; from a pipe, no prompt and no banner (a script)."""
    tty = os.isatty(sys.stdin.fileno())
    if tty:
        _load_history()
        click.echo(f"Shoal admin console, registry at {client.target.address}; `help' for help")
    try:
        while True:
            try:
                line = input(PROMPT if tty else "")
            except EOFError:
                click.echo()
                return
            except KeyboardInterrupt:
                click.echo()
                continue
            try:
                if not execute(client, session, shlex.split(line)):
                    return
            except ValueError as exc:  # shlex: unbalanced quotes
                click.echo(f"error: {exc}", err=True)
            except ShoalError as error:
                click.echo(f"error: {error.message}", err=True)
                if error.hint:
                    click.echo(f"  {error.hint}", err=True)
            except KeyboardInterrupt:
                click.echo()
    finally:
        if tty:
            _save_history()


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("words", nargs=-1)
@click.pass_obj
def ice(context: CliContext, words: tuple[str, ...]) -> None:
    """icegridadmin's console: `shoal admin ice server list`, or no words for a prompt."""
    site = context.site()  # like icegridadmin: etc/internal.cfg only
    with AdminClient(RegistryTarget.for_site(site)) as client:
        session = Session(client.api, site, terminal_output())
        if words:
            execute(client, session, list(words))
        else:
            interactive(client, session)
