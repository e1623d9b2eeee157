"""A click group whose subcommands are imported on first use, so `shoal admin status` loads
neither the descriptor engine nor rich: each command module pays only for what it imports.

The group's help lists every command from a one-line summary kept beside its import path
(tests/unit/cli/test_lazy_commands.py keeps each summary equal to the command's own docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LazyCommand", "LazyGroup", "shorten"]


@dataclass(frozen=True)
class LazyCommand:
    """`module:attribute` of a click command, and the summary `--help` shows for it."""

    path: str
    summary: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.path.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{self.path} is not a click command")
        return command


class LazyGroup(click.Group):
    """`click.Group` with `lazy={name: LazyCommand}` beside its eager commands."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not loaded yet shows its summary without importing it."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, shorten(self.lazy[name].summary, limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def shorten(summary: str, limit: int) -> str:
    """`summary` cut to `limit` characters at a word, ending in `...`: click's short help."""
    words = summary.split()
    if len(" ".join(words)) <= limit:
        return " ".join(words)
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) + len("...") > limit:
            break
        kept.append(word)
    return " ".join(kept) + "..."
