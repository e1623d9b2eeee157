"""`admin start` with a head start (shoal.cli.quick_start) against real processes: the master
is spawned before click loads, the full command adopts it, and a start that fails before the
adoption leaves nothing behind — the same words and exit codes as the full command alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gridsupport import marked_processes

from .conftest import Site, sleeper

#: Prints, in order, the master's spawn and the first import of click, then runs the entry point.
_TRACED_ENTRY = """
import sys
seen = set()
def hook(event, args):
    if event == "os.posix_spawn" and "shoal.node" in args[1]:
        print("SPAWN master", file=sys.stderr, flush=True)
    elif event == "import" and args[0] == "click" and "click" not in seen:
        seen.add("click")
        print("IMPORT click", file=sys.stderr, flush=True)
sys.addaudithook(hook)
from shoal.cli.entry import main
main()
"""


def _traced(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return site.python("-c", _TRACED_ENTRY, *args)


def _full(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through the command tree only (a launcher made before the quick path)."""
    return site.python("-c", "from shoal.cli.main import main; main()", *args)


_EVENTS = ("SPAWN master", "IMPORT click")


def _events(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line in _EVENTS]


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return "".join(line + "\n" for line in result.stderr.splitlines() if line not in _EVENTS)


def _masters(site: Site) -> list[int]:
    """Node daemons of this site (a called-off master has no pidfile to find it by)."""
    needle = f"shoal.node\0--site\0{site.prefix}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _nothing_left(site: Site) -> None:
    assert _masters(site) == []
    assert not list(site.prefix.glob("var/master/master.*"))


def test_the_master_is_spawned_before_click_loads_and_adopted(site: Site) -> None:
    descriptor = site.descriptor("two.xml", sleeper("A") + sleeper("B"))
    started = _traced(site, "admin", "start", str(descriptor), "--wait", "60")
    assert started.returncode == 0, started.stderr
    assert _events(started) == ["SPAWN master", "IMPORT click"]  # one master, spawned first
    assert "grid started" in started.stdout
    assert "2 in all: 2 active" in started.stdout
    assert len(marked_processes(site.marker)) == 2
    assert not (site.prefix / "var" / "master" / "master.starting").exists()
    again = _traced(site, "admin", "start", str(descriptor))
    assert again.returncode == 8 and "already running" in again.stderr
    assert _events(again) == ["IMPORT click"]  # a pidfile there: the full command alone
    assert site.shoal("admin", "stop").returncode == 0
    assert _masters(site) == [] and marked_processes(site.marker) == []


def test_a_refused_descriptor_calls_the_held_master_off(site: Site) -> None:
    bad = site.descriptor("bad.xml", '<server id="X" exe="x" activation="sometimes"/>')
    quick, full = _traced(site, "admin", "start", str(bad)), _full(site, "admin", "start", str(bad))
    assert _events(quick) == ["SPAWN master", "IMPORT click"]
    assert quick.returncode == full.returncode == 3
    assert _said(quick) == full.stderr and "bad.xml:" in full.stderr
    _nothing_left(site)


@pytest.mark.parametrize("wait", [("--wait", "soon"), ("--wait=-1",), ("--wait",)])
def test_a_wait_click_refuses_spawns_nothing(site: Site, wait: tuple[str, ...]) -> None:
    # A usage error, told by the full command alone: no master is spawned to be called off.
    descriptor = site.descriptor("one.xml", sleeper("A"))
    words = ("admin", "start", str(descriptor), *wait)
    quick, full = _traced(site, *words), _full(site, *words)
    assert _events(quick) == ["IMPORT click"]
    assert quick.returncode == full.returncode == 2
    assert _said(quick) == full.stderr and "--wait" in full.stderr
    _nothing_left(site)
    assert marked_processes(site.marker) == []
