"""A held node (`admin start`'s master, `--hold-fd`) loads, while it waits, all that its first
deploy needs (shoal/node/__main__.py); a node that is not held loads no more than before."""

from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

#: What `python -m shoal.node` imports before it waits (shoal/node/__main__.py), held or not.
MASTER_CODE = (
    "from shoal.lean import import_asyncio_without_ssl",
    "import_asyncio_without_ssl()",
    "import shoal.node.daemon",
)


def modules_after(*statements: str) -> set[str]:
    code = "; ".join([*statements, "import sys", "print('\\n'.join(sys.modules))"])
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(found.stdout.split())


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
    held = (*MASTER_CODE, *(f"import {name}" for name in preload))
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
