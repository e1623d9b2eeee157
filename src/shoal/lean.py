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
default) nothing of it is used. `defer_protobuf_python_message`, called by `shoal.rpc` before
any generated module loads, makes that import lazy (importlib.util.LazyLoader): the module runs
on first use, so the pure-Python engine (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python) works as
before.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself is not loaded for this (~4 ms of a quick command)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

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


class _LoadedOnFirstUse:
    """A meta path finder for PROTOBUF_PYTHON_MESSAGE alone: the spec the path finder gives,
    its loader wrapped in LazyLoader (the module runs when an attribute is first read)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != PROTOBUF_PYTHON_MESSAGE:
            return None
        from importlib.machinery import PathFinder
        from importlib.util import LazyLoader

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = LazyLoader(spec.loader)
        return spec


def defer_protobuf_python_message() -> None:
    """Make protobuf's pure-Python engine load on first use (idempotent). Nothing is done if
    it is loaded already."""
    if PROTOBUF_PYTHON_MESSAGE in sys.modules:
        return
    if not any(isinstance(finder, _LoadedOnFirstUse) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LoadedOnFirstUse())
