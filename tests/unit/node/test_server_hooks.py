"""Hooks around servers: the config file's Ice syntax reads back exactly what was written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal.config.properties import expand_variables, load_file, parse_line
from shoal.descriptor.model import ServerDescription
from shoal.errors import ShoalError
from shoal.node.hooks import ConfigWriter, Launch, config_text, escape_value

_KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_.#=\\-]{0,20}", fullmatch=True)
_VALUES = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\t\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    max_size=30,
)


def _server(properties: tuple[tuple[str, str], ...]) -> ServerDescription:
    return ServerDescription(
        id="S-1", node="node1", application="A", exe="/bin/true", properties=properties
    )


def _read_back(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8")
    return load_file(path, environ={}).as_dict()


def _parse(text: str) -> dict[str, str]:
    """What the file loader makes of `text`, line by line (no file: fast)."""
    read: dict[str, str] = {}
    for line in text.splitlines():
        parsed = parse_line(line)
        if parsed is not None:
            read.pop(parsed[0], None)
            if parsed[1]:
                read[parsed[0]] = expand_variables(parsed[1], {})
    return read


@given(pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=5))
def test_config_text_reads_back_the_same_pairs(pairs: list[tuple[str, str]]) -> None:
    properties = tuple(pairs)
    expected = {"Ice.ProgramName": "S-1", "Ice.Default.Locator": "L:tcp -p 1"}
    for key, value in properties:
        expected.pop(key, None)
        if value:  # an empty value unsets the key, as in Ice
            expected[key] = value
    expected["Ice.Admin.ServerId"] = "S-1"
    text = config_text(_server(properties), {"Ice.Default.Locator": "L:tcp -p 1"}, "node1")
    assert _parse(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "  two leading",
        "trailing  ",
        "a # b = c",
        "C:\\dir\\",
        "\\ ",
        " ",
        "x\\#y",
        "${HOME}",
        "$$",
        "$6$s$h",
    ],
)
def test_awkward_values_survive(tmp_path: Path, value: str) -> None:
    text = f"K={escape_value(value)}\n"
    assert _read_back(tmp_path, text) == {"K": value}


def test_line_breaks_are_refused() -> None:
    with pytest.raises(ShoalError, match="line break"):
        config_text(_server((("K", "a\nb"),)), {}, "node1")


def test_the_writer_creates_config_and_data_directories(tmp_path: Path) -> None:
    launch = Launch(
        _server((("K", "v"),)),
        config_path=tmp_path / "servers" / "S-1" / "config" / "config",
        data_dir=tmp_path / "servers" / "S-1" / "data",
    )
    asyncio.run(ConfigWriter("node1", {}).prestart(launch))
    assert launch.data_dir.is_dir()
    assert load_file(launch.config_path).as_dict()["K"] == "v"
    assert launch.env["SHOAL_CONFIG"] == str(launch.config_path)


def test_a_restart_keeps_the_untouched_file_and_rewrites_a_changed_or_lost_one(
    tmp_path: Path,
) -> None:
    writer = ConfigWriter("node1", {})
    server_dir = tmp_path / "servers" / "S-1"

    def start(server: ServerDescription) -> Path:
        launch = Launch(server, config_path=server_dir / "config" / "config", data_dir=server_dir)
        asyncio.run(writer.prestart(launch))
        return launch.config_path

    path = start(_server((("K", "v"),)))
    inode = path.stat().st_ino
    assert start(_server((("K", "v"),))).stat().st_ino == inode  # the crash-restart path
    assert load_file(start(_server((("K", "w"),)))).as_dict()["K"] == "w"  # a new description
    path.write_text("K=edited by hand\n")
    assert load_file(start(_server((("K", "w"),)))).as_dict()["K"] == "w"  # touched: rewritten
    path.unlink()
    assert load_file(start(_server((("K", "w"),)))).as_dict()["K"] == "w"  # lost: rewritten
