"""What the CLI says when something is missing, down or interrupted: one clean line and a hint
that fits the case, never gRPC's own text (that is for --debug)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from shoal.cli.client import AdminClient, RegistryTarget
from shoal.cli.context import CliContext
from shoal.cli.daemon import NodeFiles
from shoal.cli.grid import Grid
from shoal.cli.init import create_site
from shoal.cli.main import run, shoal
from shoal.cli.start import _node_word
from shoal.config.endpoints import parse_endpoints
from shoal.config.site import Site
from shoal.errors import SiteError, UnreachableError
from shoal.rpc import common_pb2


@pytest.fixture
def site(tmp_path: Path) -> Site:
    create_site(tmp_path / "site")
    return Site(tmp_path / "site")


def test_ctrl_c_exits_130_without_clicks_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command("interrupted")
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(shoal.commands, "interrupted", interrupted)
    assert run(["shoal", "interrupted"]) == 130
    assert "Aborted" not in capsys.readouterr().err


def test_a_missing_master_config_says_what_a_master_needs_not_to_copy_node1(site: Site) -> None:
    (site.etc / "master.cfg").unlink()
    with pytest.raises(SiteError) as raised:
        NodeFiles.load(site, "master")
    hint = raised.value.hint
    assert "node1.cfg" not in hint
    assert "IceGrid.Node.CollocateRegistry=1" in hint
    template = hint.split("`cp ")[1].split()[0]
    assert Path(template).read_text().count("IceGrid.Registry.Client.Endpoints") == 1


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound (held) but not listening: a connection there is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_an_unreachable_registry_is_one_clean_line(refused_port: int) -> None:
    endpoint = parse_endpoints(f"tcp -h 127.0.0.1 -p {refused_port}")[0]
    target = RegistryTarget(endpoint=endpoint, max_message_bytes=1 << 20)
    with AdminClient(target) as client, pytest.raises(UnreachableError) as raised:
        client.run(client.api.server_list())
    assert raised.value.message == f"cannot reach the registry at {target.address}"
    assert "shoal admin start" in raised.value.hint
    assert raised.value.__cause__ is not None  # gRPC's words, for --debug


def test_a_down_node_whose_process_runs_here_is_reconnecting(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOAL_HOME", str(site.prefix))
    grid = Grid.load(CliContext())
    down = common_pb2.NodeStatus(info=common_pb2.NodeInfo(name="node1"), up=False)
    assert _node_word(grid, down) == "node1 (down)"
    # A stand-in for node1's daemon: a live process with "shoal" in its command line.
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "shoal-node1"],
        stdin=subprocess.PIPE,
    ) as stand_in:
        pidfile = NodeFiles.load(site, "node1").pidfile
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{stand_in.pid}\n")
        assert _node_word(grid, down) == "node1 (reconnecting)"
        assert stand_in.stdin is not None
        stand_in.stdin.close()
