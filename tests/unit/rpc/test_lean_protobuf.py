"""protobuf's pure-Python engine loads only when something uses it (shoal.lean): a process that
loads Shoal's generated modules with the C engine never runs it; with the Python engine, messages
work as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shoal.lean import PROTOBUF_PYTHON_MESSAGE, defer_protobuf_python_message

#: Loads the generated modules, round-trips a message, and tells what ran.
CODE = """
import json, sys
from google.protobuf.internal import api_implementation
from shoal.rpc import admin_pb2
request = admin_pb2.DeployRequest(descriptor_xml="<application name='A'/>")
again = admin_pb2.DeployRequest.FromString(request.SerializeToString())
print(json.dumps({
    "engine": api_implementation.Type(),
    "round_trip": again == request,
    "engine_ran": "google.protobuf.text_format" in sys.modules,
}))
"""


def run_code(**environment: str) -> dict[str, object]:
    found = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **environment},
    )
    result: dict[str, object] = json.loads(found.stdout)
    return result


def test_with_the_c_engine_the_python_engine_never_runs() -> None:
    result = run_code()
    if result["engine"] == "python":
        pytest.skip("protobuf's C engine is not installed here")
    assert result == {"engine": result["engine"], "round_trip": True, "engine_ran": False}


def test_with_the_python_engine_it_runs_on_first_use() -> None:
    result = run_code(PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    assert result == {"engine": "python", "round_trip": True, "engine_ran": True}


def test_deferring_twice_installs_one_finder() -> None:
    code = (
        "import sys; from shoal.lean import defer_protobuf_python_message as defer;"
        " defer(); defer(); print(sum(type(f).__name__ == '_LoadedOnFirstUse'"
        " for f in sys.meta_path))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.split() == ["1"]


def test_nothing_is_deferred_once_the_engine_is_loaded() -> None:
    # This process loaded shoal.rpc (so protobuf) before the test: deferring changes nothing.
    assert PROTOBUF_PYTHON_MESSAGE in sys.modules
    before = list(sys.meta_path)
    defer_protobuf_python_message()
    assert sys.meta_path == before
