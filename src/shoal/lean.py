"""asyncio without OpenSSL until a TLS endpoint needs it; protobuf without its pure-Python engine
unless something uses it.

asyncio imports `ssl` as it loads, and OpenSSL's initialisation costs ~4 MiB of RSS and
~10-15 ms of start: a daemon or command that never opens TLS should not pay it. Processes that
may not need TLS (the node daemon, the CLI) import asyncio through `import_asyncio_without_ssl`;
Shoal's wire protocol calls `give_asyncio_ssl` before it opens its first TLS connection or
listener. gRPC brings its own TLS and needs neither.

protobuf's `descriptor_pool` and `internal.builder` (which every generated `_pb2` module runs)
import `internal.python_message`, the pure-Python message engine, whichever engine is in use;
it loads text_format, the Python decoder and encoder, containers... (~30 million instructions,
~10 ms of every start that loads a `_pb2` module here). With the C engine (upb, protobuf's
default) nothing of it is used. `defer_protobuf_python_message`, called as `shoal` itself
loads (so before any of its modules imports protobuf), puts a stand-in in its place: the module
runs when an attribute of it is first read, in one thread, the others waiting. With
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python nothing is put off (that engine uses it at once).
"""

from __future__ import annotations

import _thread
import os
import sys

TYPE_CHECKING = False  # typing itself is not loaded for this (~4 ms of a quick command)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from types import ModuleType as _Module
    from typing import Any
else:
    _Module = type(sys)  # types.ModuleType, without loading `types` on the quick path

__all__ = ["defer_protobuf_python_message", "give_asyncio_ssl", "import_asyncio_without_ssl"]

#: The asyncio modules that bind `ssl` (None when it was hidden) as they load.
_ASYNCIO_SSL_USERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


def import_asyncio_without_ssl() -> None:
    """Import asyncio with `ssl` hidden; `ssl` itself stays importable afterwards. Does
    nothing if either is already loaded."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` raises ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]


def give_asyncio_ssl() -> None:
    """Let an asyncio imported without `ssl` open TLS streams (idempotent)."""
    import ssl

    for name in _ASYNCIO_SSL_USERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", ssl) is None:
            module.ssl = ssl  # type: ignore[attr-defined]
    # sslproto also defines this only when ssl imported with it (Python 3.11 to 3.13).
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        sslproto.SSLAgainErrors = (  # type: ignore[attr-defined]
            ssl.SSLWantReadError,
            ssl.SSLSyscallError,
        )


#: protobuf's pure-Python message engine, which nothing uses while the C engine (upb) runs.
PROTOBUF_PYTHON_MESSAGE = "google.protobuf.internal.python_message"
#: Chooses protobuf's engine; `python` uses this one at once: nothing to put off then.
_ENGINE_VARIABLE = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"

_loading = _thread.allocate_lock()  # one thread imports the real module, the others wait
_real: ModuleType | None = None  # once imported


class _StandIn(_Module):
    """What importing PROTOBUF_PYTHON_MESSAGE gives until the module itself is needed: it has
    the module's name and file (so scans of sys.modules, such as inspect.getmodule's, leave it
    be); any other attribute read imports the real module, once, and is answered by it. Not
    while the import system sets it up (it looks for attributes it has not set yet)."""

    def __getattr__(self, name: str) -> Any:
        if not self.__dict__.get("_shoal_set_up"):
            raise AttributeError(name)
        return getattr(_python_message(), name)


def _python_message() -> ModuleType:
    """The real module, imported by the first caller (a lock: importlib.util.LazyLoader, which
    does the same, lets a second thread see a half-run module on Python 3.11)."""
    global _real
    with _loading:
        if _real is None:
            import importlib

            stand_in = sys.modules.pop(PROTOBUF_PYTHON_MESSAGE, None)
            try:
                _real = importlib.import_module(PROTOBUF_PYTHON_MESSAGE)
            except BaseException:
                if stand_in is not None:
                    sys.modules[PROTOBUF_PYTHON_MESSAGE] = stand_in
                raise
        return _real


class _LoadedOnFirstUse:
    """Meta path finder and loader of PROTOBUF_PYTHON_MESSAGE alone: a _StandIn, until the
    real module is wanted (then the usual finders find it)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        # While _python_message imports the real module (under the lock), or once it has.
        if name != PROTOBUF_PYTHON_MESSAGE or _loading.locked() or _real is not None:
            return None
        from importlib.machinery import ModuleSpec, PathFinder

        found = PathFinder.find_spec(name, path)
        if found is None:
            return None
        # This object is the loader (create_module, exec_module), not an importlib.abc.Loader.
        spec = ModuleSpec(name, self, origin=found.origin)  # type: ignore[arg-type]
        spec.has_location = found.has_location  # __file__: the real module's
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return _StandIn(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["_shoal_set_up"] = True  # nothing runs until an attribute is read


def defer_protobuf_python_message() -> None:
    """Make protobuf's pure-Python engine load on first use (idempotent). Nothing is done if
    it is loaded already, or if it is the engine chosen (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION
    =python: it is used at once)."""
    if PROTOBUF_PYTHON_MESSAGE in sys.modules or os.environ.get(_ENGINE_VARIABLE) == "python":
        return
    if not any(isinstance(finder, _LoadedOnFirstUse) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LoadedOnFirstUse())
