"""`shoal` starts fast: a command imports only what it uses (shoal.cli.lazy), and the lazy
tables' summaries are the commands' own, so `--help` reads as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shoal.cli.admin import COMMANDS as ADMIN_COMMANDS
from shoal.cli.lazy import LazyCommand, shorten
from shoal.cli.main import COMMANDS as TOP_COMMANDS

HEAVY = ("lxml", "rich", "shoal.descriptor")


def modules_after(*statements: str) -> set[str]:
    code = "; ".join([*statements, "import sys", "print('\\n'.join(sys.modules))"])
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(found.stdout.split())


def heavy(modules: set[str], prefixes: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


def test_importing_the_cli_loads_no_descriptor_engine_nor_rich() -> None:
    assert heavy(modules_after("import shoal.cli.main")) == []


@pytest.mark.parametrize(
    "command", ["status:status", "status:waitup", "stop:stop", "stop:waitdown", "node:node"]
)
def test_grid_commands_load_no_descriptor_nor_rich(command: str) -> None:
    module, attribute = command.split(":")
    assert heavy(modules_after(f"from shoal.cli.{module} import {attribute}")) == []


def test_the_admin_console_loads_no_descriptor_code_nor_rich() -> None:
    # `server describe` converts descriptions (descriptor.model) when it runs, not before.
    assert heavy(modules_after("from shoal.cli.console import ice")) == []


def test_admin_start_loads_no_protobuf_before_it_spawns_the_master() -> None:
    # The master's start and the client's imports (protobuf, ~30 ms) then run at once.
    loaded = modules_after("from shoal.cli.start import start")
    assert heavy(loaded, ("grpc", "google.protobuf", "asyncio")) == []


@pytest.mark.parametrize("table", [TOP_COMMANDS, ADMIN_COMMANDS], ids=["shoal", "admin"])
def test_each_lazy_summary_is_the_commands_own_short_help(table: dict[str, LazyCommand]) -> None:
    width = max(len(name) for name in table)
    for name, lazy in table.items():
        command = lazy.load()
        for limit in (80 - 6 - width, 40, 1000):  # as `--help` lists it, narrow and wide
            assert shorten(lazy.summary, limit) == command.get_short_help_str(limit), name


def test_help_lists_every_command_without_importing_it() -> None:
    code = (
        "import sys; from shoal.cli.main import run; run(['shoal', 'admin', '--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('shoal.cli.')))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for name in ADMIN_COMMANDS:
        assert f"  {name} " in shown
    assert "shoal.cli.start" not in shown and "shoal.cli.console" not in shown
