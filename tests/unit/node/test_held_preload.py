"""A held node (`admin start`'s master, `--hold-fd`) loads, while it waits, all that its first
deploy needs (shoal/node/__main__.py); a node that is not held loads no more than before."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_imports import DAEMON_CODE, modules_after

from shoal.cli.daemon import ReadyKind, Spawned, read_ready, release

#: A first deploy's work in the registry, the XML engine included (loaded lazily there).
_FIRST_DEPLOY = (
    "from pathlib import Path",
    "from shoal.registry.deploy import build_application",
    'xml = \'<icegrid><application name="A"><node name="master">'
    '<server id="S" exe="sleep" activation="always"/></node></application></icegrid>\'',
    "build_application(xml, source='a.xml', targets=(), variables={}, reserved={},"
    " base_dir=Path('.'))",
)


def _node_main() -> dict[str, object]:
    return runpy.run_module("shoal.node.__main__", run_name="not_main")


def test_a_held_node_is_told_by_its_hold_fd() -> None:
    held = _node_main()["_held"]
    assert callable(held)
    assert held(["--site", "/s", "--name", "master", "--hold-fd", "4"])
    assert held(["--hold-fd=4"])
    assert not held(["--site", "/s", "--name", "node1", "--ready-fd", "4"])


def test_after_the_held_preload_a_first_deploy_loads_nothing_more() -> None:
    preload = _node_main()["HELD_PRELOAD"]
    assert isinstance(preload, tuple)
    held = (*DAEMON_CODE, *(f"import {name}" for name in preload))
    assert modules_after(*held, *_FIRST_DEPLOY) - modules_after(*held) == set()


@pytest.mark.parametrize("held", [False, True])
def test_only_a_held_node_preloads(held: bool) -> None:
    # `--help` makes the daemon exit once its code is loaded: what had it loaded by then?
    argv = ["python -m shoal.node", "--help", *(["--hold-fd", "9"] if held else [])]
    code = (
        "import atexit, runpy, sys; "
        "atexit.register(lambda: print('\\n'.join(sys.modules), file=sys.stderr)); "
        f"sys.argv = {argv!r}; "
        "runpy.run_module('shoal.node', run_name='__main__', alter_sys=True)"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(found.stderr.split())
    assert "shoal.node.daemon" in loaded
    assert ("shoal.registry.service" in loaded) is held
    assert ("shoal.descriptor.parser" in loaded) is held


#: `python -m shoal.node ARGS...` in an installation without the registry service.
_WITHOUT_REGISTRY = """
import runpy, sys

class NoRegistry:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "shoal.registry.service":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoRegistry)
runpy.run_module("shoal.node", run_name="__main__", alter_sys=True)
"""


def test_a_preload_that_cannot_be_imported_is_left_for_the_daemon_to_report(
    tmp_path: Path,
) -> None:
    """A held master whose installation has no registry service: released, it reports so on
    its ready pipe (shoal.node.daemon._start_registry), as a master not held would, instead of
    dying of the preload's ImportError with a traceback and a closed pipe."""
    prefix = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "shoal", "init", str(prefix)], check=True, capture_output=True
    )
    ready_read, ready_write = os.pipe()
    hold_read, hold_write = os.pipe()
    argv = ["--site", str(prefix), "--name", "master"]
    argv += ["--ready-fd", str(ready_write), "--hold-fd", str(hold_read)]
    with subprocess.Popen(
        [sys.executable, "-c", _WITHOUT_REGISTRY, *argv],
        pass_fds=(ready_write, hold_read),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as node:
        os.close(ready_write)
        os.close(hold_read)
        try:
            release(Spawned(pid=node.pid, ready_fd=ready_read, hold_fd=hold_write), go=True)
            outcome = read_ready(ready_read, 60)
        finally:
            os.close(ready_read)
        try:
            _, stderr = node.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            node.kill()
            raise
    assert outcome.kind is ReadyKind.ERROR, (outcome, stderr)
    assert "cannot run the registry in node master" in outcome.message
    assert outcome.hint == "this Shoal installation has no registry service"
    assert node.returncode != 0 and "Traceback" not in stderr
    assert not (prefix / "var" / "master" / "master.pid").exists()
