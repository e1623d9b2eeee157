"""The quick path (shoal.cli.quick) reads what the full CLI reads, the same way, or declines:
its readers are checked against the full ones, its protobuf bytes against protobuf's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.cli import quick
from shoal.config.endpoints import parse_proxy
from shoal.config.properties import load_file
from shoal.config.site import find_site
from shoal.errors import SiteError
from shoal.rpc import admin_pb2
from shoal.rpc.framing import lookup_host

# ------------------------------------------------------------------------------ properties

PLAIN = [
    "Ice.Default.Locator=IceGrid/Locator:tcp -h 127.0.0.1 -p 4061\n",
    "# a comment\n\n  Key.A = some value  \nKey.B=x # trailing comment\n",
    "Key.A=1\nKey.A=\n",  # an empty value unsets
    "Key.A=1\r\nKey.B = two words \r\n",
    "\ufeffKey.A=1\n",
    "Key.A=a=b\n",
    "# site config\rKey.A=1\n",  # a lone CR is whitespace, not a line break: all a comment
]

NOT_PLAIN = [
    "Key.A=${HOME}/x\n",
    "Key.A=a\\#b\n",
    "Ice.Config=other.cfg\n",
    "JustAKey\n",
    "=value\n",
    "\f\n",
    "Key.A=\xa0value\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_files_read_as_the_full_parser_reads_them(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.cfg"
    path.write_text(text)
    assert quick.plain_properties(str(path)) == load_file(path, environ={}).as_dict()


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_other_files_are_left_to_the_full_parser(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.cfg"
    path.write_text(text)
    assert quick.plain_properties(str(path)) is None


def test_a_missing_or_undecodable_file_is_left_to_the_full_command(tmp_path: Path) -> None:
    assert quick.plain_properties(str(tmp_path / "missing.cfg")) is None
    (tmp_path / "bad.cfg").write_bytes(b"Key.A=\xff\n")
    assert quick.plain_properties(str(tmp_path / "bad.cfg")) is None


# ------------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize(
    "proxy",
    [
        "IceGrid/Locator:tcp -h 127.0.0.1 -p 4061",
        "IceGrid/Locator:tcp -p 4061 -h localhost",
        "Locator:tcp  -h 10.0.0.1   -p 1",
    ],
)
def test_a_plain_tcp_locator_gives_the_full_parsers_endpoint(proxy: str) -> None:
    endpoint = parse_proxy(proxy).endpoints[0]
    assert quick.plain_tcp_endpoint(proxy) == (endpoint.host, endpoint.port)


@pytest.mark.parametrize(
    "proxy",
    [
        "IceGrid/Locator:ssl -h 127.0.0.1 -p 4061",
        "IceGrid/Locator:tcp -h 127.0.0.1 -p 4061:tcp -h 127.0.0.2 -p 4061",
        "IceGrid/Locator:tcp -h 127.0.0.1 -p 4061 -t 500",
        "IceGrid/Locator:tcp -p 4061",
        "IceGrid/Locator:tcp -h 0.0.0.0 -p 4061",
        'IceGrid/Locator:tcp -h "127.0.0.1" -p 4061',
        "IceGrid/Locator -t:tcp -h 127.0.0.1 -p 4061",
        "IceGrid/Locator@Registry",
        "a/b/c:tcp -h 127.0.0.1 -p 4061",
        "IceGrid/Locator:tcp -h 127.0.0.1 -p 99999",
        "IceGrid/Locator:tcp -h 127.0.0.1 -p \u00b2",
    ],
)
def test_anything_else_is_left_to_the_full_command(proxy: str) -> None:
    assert quick.plain_tcp_endpoint(proxy) is None


# ------------------------------------------------------------------------------------ site


def _site(root: Path) -> Path:
    (root / "etc" / "grid").mkdir(parents=True)
    (root / "bin").mkdir()
    launcher = root / "bin" / "shoal"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    return root


def _both(
    monkeypatch: pytest.MonkeyPatch, program: str, cwd: Path, prefix: str | None = None
) -> tuple[str | None, str | None]:
    """(the quick path's site, find_site's) for the same invocation."""
    monkeypatch.chdir(cwd)
    quick_answer = quick.plain_site(program, prefix)
    try:
        full = str(
            find_site(
                program, os.environ, cwd, launcher_prefix=Path(prefix) if prefix else None
            ).prefix
        )
    except SiteError:
        full = None
    return quick_answer, full


def test_the_site_is_found_as_find_site_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_HOME", raising=False)
    one, two = _site(tmp_path / "one"), _site(tmp_path / "two")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shoal").symlink_to(one / "bin" / "shoal")
    cases = [
        (str(one / "bin" / "shoal"), tmp_path, None),  # the launcher in its site's bin/
        ("bin/shoal", one, None),  # relative to the cwd
        (str(elsewhere / "shoal"), tmp_path, None),  # a link to it: the real path wins
        ("/usr/bin/python3", two / "etc", None),  # not a launcher: the cwd's parents
        ("/usr/bin/python3", tmp_path, str(two)),  # a copied launcher names its site
    ]
    for program, cwd, prefix in cases:
        found, expected = _both(monkeypatch, program, cwd, prefix)
        assert found == expected, (program, cwd, prefix)
        assert found is not None
    monkeypatch.setenv("SHOAL_HOME", "two")
    assert _both(monkeypatch, "shoal", tmp_path) == (str(two), str(two))


def test_what_needs_a_path_search_goes_to_the_full_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_HOME", raising=False)
    monkeypatch.chdir(_site(tmp_path / "one"))
    assert quick.plain_site("shoal", None) is None


# -------------------------------------------------------------------------------- protobuf


@pytest.mark.parametrize("name", ["Bench", "", "é" * 200])
def test_the_remove_request_is_protobufs_own_bytes(name: str) -> None:
    expected = admin_pb2.ApplicationRemoveRequest(application=name).SerializeToString()
    # proto3 leaves an empty string out; the field written anyway reads the same
    parsed = admin_pb2.ApplicationRemoveRequest.FromString(quick._string_field(1, name))
    assert parsed.application == name
    assert quick._string_field(1, name) == expected or name == ""


@pytest.mark.parametrize(
    "reply",
    [
        admin_pb2.ShutdownGridReply(),
        admin_pb2.ShutdownGridReply(
            nodes_stopped=["master", "node-é"],
            nodes_unreachable=["node2"],
            servers_stopped=1000,
            registry_pid=4_194_304,
        ),
        admin_pb2.ShutdownGridReply(registry_pid=-1, servers_stopped=2**32 - 1),
    ],
)
def test_the_stop_reply_reads_as_protobuf_reads_it(reply: admin_pb2.ShutdownGridReply) -> None:
    fields = quick._fields(reply.SerializeToString())
    assert quick._strings(fields, 1) == list(reply.nodes_stopped)
    assert quick._strings(fields, 2) == list(reply.nodes_unreachable)
    assert quick._integer(fields, 3) == reply.servers_stopped
    assert quick._integer(fields, 4) == reply.registry_pid


def test_fixed_size_fields_of_a_newer_reply_are_skipped() -> None:
    data = admin_pb2.ShutdownGridReply(servers_stopped=3).SerializeToString()
    newer = b"\x29" + b"\x00" * 8 + data + b"\x35" + b"\x01" * 4  # fields 5 (fixed64), 6 (fixed32)
    assert quick._integer(quick._fields(newer), 3) == 3


def test_the_mirrored_constants_are_the_originals() -> None:
    from shoal.cli.stop import DEFAULT_WAIT_SECONDS
    from shoal.config import site
    from shoal.config.properties import DEFAULT_MESSAGE_SIZE_MAX_KB

    assert quick._STOP_WAIT_SECONDS == DEFAULT_WAIT_SECONDS
    assert quick._MAX_LINK_HOPS == site._MAX_LINK_HOPS
    assert quick.MASTER == site.MASTER_NODE
    assert quick._REPLY_LIMIT_BYTES == DEFAULT_MESSAGE_SIZE_MAX_KB * 1024


def test_a_truncated_reply_is_an_error_not_a_guess() -> None:
    data = admin_pb2.ShutdownGridReply(nodes_stopped=["master"]).SerializeToString()
    with pytest.raises((ValueError, IndexError)):
        quick._fields(data[:-3] + b"\x1a")


# ---------------------------------------------------------------------------- the decision


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "stop", "--wait", "5"],
        ["admin", "stop", "--help"],
        ["--debug", "admin", "stop"],
        ["admin", "ice", "application", "remove"],
        ["admin", "ice", "application", "remove", "--help"],
        ["admin", "ice", "app", "remove", "X"],
        ["admin", "status"],
    ],
)
def test_other_words_go_to_the_full_command(args: list[str]) -> None:
    assert quick.answer("/nowhere/bin/shoal", args, None) is None


def test_the_entry_point_loads_neither_click_nor_protobuf() -> None:
    code = "import shoal.cli.entry, shoal.cli.quick, sys; print('\\n'.join(sys.modules))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(found.stdout.split())
    heavy = {"click", "google.protobuf", "asyncio", "typing", "dataclasses", "pathlib", "socket"}
    assert loaded & heavy == set()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "Host.Example"])
def test_an_ascii_host_is_looked_up_without_the_idna_codec(host: str) -> None:
    # Given as str, getaddrinfo would encode it with `idna` (importing `re` and unicodedata).
    assert lookup_host(host) == host.encode("ascii")


def test_a_non_ascii_host_is_left_to_the_idna_codec() -> None:
    assert lookup_host("bücher.example") == "bücher.example"


# ------------------------------------------------------------------------- master's files


@pytest.mark.parametrize(
    "settings",
    [
        "",
        "IceGrid.Node.Data=var/elsewhere\nIce.StdOut=log/m.out\nIce.StdErr=/tmp/abs/m.err\n",
        "IceGrid.Node.Data=/srv/grid/data/\nIceGrid.Node.Name=main.node\n",
        "IceGrid.Node.Name=\nIce.StdOut=./var//log/x.out\n",
    ],
)
def test_the_masters_files_are_where_the_full_command_puts_them(
    tmp_path: Path, settings: str
) -> None:
    from shoal.cli.daemon import NodeFiles
    from shoal.config.site import Site

    prefix = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "shoal", "init", str(prefix)], check=True, capture_output=True
    )
    master_cfg = prefix / "etc" / "master.cfg"
    master_cfg.write_text(master_cfg.read_text() + settings)
    files = quick.master_files(str(prefix), quick.plain_internal(str(prefix)))
    full = NodeFiles.load(Site(prefix), "master")
    assert files is not None
    assert Path(files.pidfile) == full.pidfile
    assert Path(files.start_lock) == full.pidfile.with_suffix(".starting")  # Grid.start_lock
    assert (Path(files.stdout), Path(files.stderr)) == (full.stdout, full.stderr)


def test_connected_reaches_a_listener_and_declines_a_closed_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        connection = quick.connected(("127.0.0.1", port), 5)
        assert connection is not None
        connection.close()
    assert quick.connected(("127.0.0.1", port), 5) is None  # nothing listens there now
