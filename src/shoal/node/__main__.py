"""`python -m shoal.node --site PREFIX --name NAME [--ready-fd N] [--Key=Value ...]`: the node
daemon as a process of its own (`shoal.node.daemon.main`), started as lean as it can be:
asyncio without OpenSSL until a TLS endpoint needs it (shoal.lean).
"""

import sys

if __name__ == "__main__":
    from shoal.lean import import_asyncio_without_ssl

    import_asyncio_without_ssl()

    from shoal.node.daemon import main

    sys.exit(main())
