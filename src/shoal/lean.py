"""asyncio without OpenSSL until a TLS endpoint needs it.

asyncio imports `ssl` as it loads, and OpenSSL's initialisation costs ~4 MiB of RSS and
~10-15 ms of start: a daemon or command that never opens TLS should not pay it. Processes that
may not need TLS (the node daemon, the CLI) import asyncio through `import_asyncio_without_ssl`;
Shoal's wire protocol calls `give_asyncio_ssl` before it opens its first TLS connection or
listener. gRPC brings its own TLS and needs neither.
"""

from __future__ import annotations

import sys

__all__ = ["give_asyncio_ssl", "import_asyncio_without_ssl"]

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
