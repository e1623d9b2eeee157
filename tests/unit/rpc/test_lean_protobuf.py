"""protobuf's pure-Python engine loads only when something uses it (shoal.lean): a process that
loads Shoal's modules with the C engine never runs it; when something reads it, it is imported
once, whichever threads ask; with the Python engine, messages work as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shoal.lean import PROTOBUF_PYTHON_MESSAGE, defer_protobuf_python_message

#: What a fresh interpreter reports once `setup` has run: the engine, a message's round trip,
#: and what stands at PROTOBUF_PYTHON_MESSAGE in sys.modules.
REPORT = f"""
import json, sys
from google.protobuf.internal import api_implementation
from shoal.rpc import admin_pb2
request = admin_pb2.DeployRequest(descriptor_xml="<application name='A'/>")
again = admin_pb2.DeployRequest.FromString(request.SerializeToString())
print(json.dumps({{
    "engine": api_implementation.Type(),
    "round_trip": again == request,
    "module": type(sys.modules["{PROTOBUF_PYTHON_MESSAGE}"]).__name__,
    "text_format": "google.protobuf.text_format" in sys.modules,
}}))
"""


def printed_by(code: str, **environment: str) -> str:
    """What `code` prints in a new interpreter, with `environment` added to this one's."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **environment},
    )
    return completed.stdout


def report_after(setup: str = "", **environment: str) -> dict[str, object]:
    """REPORT's findings in a new interpreter, `setup` run first, with `environment` added."""
    findings: dict[str, object] = json.loads(printed_by(setup + REPORT, **environment))
    return findings


def c_engine_here() -> None:
    if report_after()["engine"] == "python":
        pytest.skip("protobuf's C engine is not installed here")


@pytest.mark.parametrize(
    "setup",
    [
        "",
        # A module that loads protobuf before shoal.rpc does (shoal.cli.client, the node's
        # supervisor...): `shoal` itself put the stand-in in place.
        "import shoal.node.supervisor\n",
    ],
)
def test_with_the_c_engine_the_python_engine_never_runs(setup: str) -> None:
    c_engine_here()
    findings = report_after(setup)
    assert (findings["round_trip"], findings["module"], findings["text_format"]) == (
        True,
        "_StandIn",
        False,
    )


def test_with_the_python_engine_nothing_is_put_off() -> None:
    findings = report_after(PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    assert findings == {
        "engine": "python",
        "round_trip": True,
        "module": "module",
        "text_format": True,
    }


def test_threads_reading_it_at_once_all_get_the_real_module() -> None:
    c_engine_here()
    code = f"""
import sys, threading
import shoal.rpc.admin_pb2
stand_in = sys.modules["{PROTOBUF_PYTHON_MESSAGE}"]
start = threading.Barrier(8)
found, failed = [], []
def read():
    start.wait()
    try:
        found.append(stand_in.GeneratedProtocolMessageType)
    except Exception as error:
        failed.append(repr(error))
threads = [threading.Thread(target=read) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
real = sys.modules["{PROTOBUF_PYTHON_MESSAGE}"]
print(len(found), len({{id(f) for f in found}}), failed, type(real).__name__,
      found[0] is real.GeneratedProtocolMessageType)
"""
    assert printed_by(code).split() == ["8", "1", "[]", "module", "True"]


def test_deferring_twice_installs_one_finder() -> None:
    code = (
        "import sys; from shoal.lean import defer_protobuf_python_message as defer;"
        " defer(); defer(); print(sum(type(f).__name__ == '_LoadedOnFirstUse'"
        " for f in sys.meta_path))"
    )
    assert printed_by(code).split() == ["1"]


def test_nothing_is_deferred_once_the_engine_is_loaded() -> None:
    # Imported before `shoal` (whose import defers it): no finder, the real module in place.
    code = (
        f"import sys, {PROTOBUF_PYTHON_MESSAGE}, shoal;"
        " print(sum(type(f).__name__ == '_LoadedOnFirstUse' for f in sys.meta_path),"
        f" type(sys.modules['{PROTOBUF_PYTHON_MESSAGE}']).__name__)"
    )
    assert printed_by(code).split() == ["0", "module"]
    before = list(sys.meta_path)
    defer_protobuf_python_message()  # this process: shoal loaded long ago, the finder is in
    assert sys.meta_path == before
