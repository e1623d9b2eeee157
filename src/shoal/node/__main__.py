"""`python -m shoal.node --site PREFIX --name NAME [--ready-fd N] [--Key=Value ...]`: the node
daemon as a process of its own (`shoal.node.daemon.main`), started as lean as it can be.

asyncio imports `ssl` for TLS streams the daemon never opens (gRPC brings its own TLS), and
OpenSSL's initialisation costs the daemon ~4 MiB of RSS and ~10 ms of start. So asyncio is
imported first with `ssl` hidden (asyncio then has no TLS streams: `ssl=` in
`loop.create_connection` would fail), and `ssl` can be imported normally afterwards.
"""

import sys

if __name__ == "__main__":
    if "asyncio" not in sys.modules and "ssl" not in sys.modules:
        sys.modules["ssl"] = None  # type: ignore[assignment]  # import ssl raises ImportError
        try:
            import asyncio  # noqa: F401
        finally:
            del sys.modules["ssl"]

    from shoal.node.daemon import main

    sys.exit(main())
