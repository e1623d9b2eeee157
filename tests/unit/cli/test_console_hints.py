"""Every `shoal ...` command a registry error hint names exists: in the click tree, or (after
`shoal admin ice`) in the console's command table. A hint naming a command that does not exist
sends the user nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from shoal.cli.console_commands import resolve
from shoal.cli.errors import ConsoleUsageError
from shoal.cli.main import shoal
from shoal.cli.node import parse_node_words

SRC = Path(__file__).resolve().parents[3] / "src" / "shoal"
#: A backquoted command in a hint; f-string placeholders stand for one word each.
_COMMAND = re.compile(r"`(shoal [^`']+)`")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def hinted_commands() -> list[tuple[str, str]]:
    sources = [*sorted((SRC / "registry").glob("*.py")), SRC / "errors.py"]
    found = []
    for path in sources:
        for match in _COMMAND.finditer(path.read_text()):
            if "..." in match.group(1):  # a docstring's `shoal admin ...`, not a command
                continue
            words = _PLACEHOLDER.sub("X", match.group(1))
            found.append((f"{path.relative_to(SRC)}", words))
    return found


def command_exists(line: str) -> bool:
    words = line.split()[1:]
    command: click.Command = shoal
    while isinstance(command, click.Group) and words:
        sub = command.get_command(click.Context(command), words[0])  # lazy groups too
        if sub is None:
            return False
        command, words = sub, words[1:]
    if command.name == "ice":
        if words:
            resolve(words)  # ConsoleUsageError when no such console command
        return True
    if command.name == "node":
        parse_node_words(words, {}, "host")  # click.UsageError when the words are wrong
        return True
    if isinstance(command, click.Group):
        return not words
    return True


def test_the_hints_name_commands_at_all() -> None:
    assert ("registry/admin.py", "shoal admin ice server list") in hinted_commands()


@pytest.mark.parametrize(("source", "line"), hinted_commands())
def test_every_command_a_registry_hint_names_exists(source: str, line: str) -> None:
    assert command_exists(line), f"{source} names `{line}', which is not a command"


@pytest.mark.parametrize(
    "line",
    ["shoal admin server list", "shoal admin ice server frob", "shoal admin list"],
)
def test_the_check_catches_commands_that_do_not_exist(line: str) -> None:
    try:
        exists = command_exists(line)
    except (click.UsageError, ConsoleUsageError):
        exists = False
    assert not exists
