"""What `shoal init` ships tells the truth: every command its comments name exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from shoal.cli.main import shoal

DATA = Path(__file__).resolve().parents[3] / "src/shoal/data/etc"
# `shoal WORD...` between backquotes in a comment.
COMMAND = re.compile(r"`shoal ((?:[a-z][\w-]*|NAME|node\d)(?: (?:[a-z][\w-]*|NAME|node\d))*)")


def shipped_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.name != "demo.xml":
            found += [(path.name, m.group(1)) for m in COMMAND.finditer(path.read_text())]
    return found


def resolves(words: list[str]) -> bool:
    """Whether `shoal WORDS` names a command (node NAME ... takes the name as an argument)."""
    command: click.Command = shoal
    words = list(words)
    while words and isinstance(command, click.Group):
        word = words.pop(0)
        sub = command.commands.get(word)
        if sub is None:
            return False
        command = sub
    return True


def test_the_default_descriptor_names_commands_that_exist() -> None:
    text = (DATA / "grid/default.xml").read_text()
    assert "`shoal admin start`" in text
    assert "`shoal node NAME start`" in text
    assert "as their programs land" not in text


@pytest.mark.parametrize(("file", "command"), shipped_commands())
def test_every_command_a_shipped_file_names_exists(file: str, command: str) -> None:
    assert resolves(command.split()), f"{file} names `shoal {command}'"
