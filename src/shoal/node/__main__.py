"""`python -m shoal.node --site PREFIX --name NAME [--ready-fd N] [--Key=Value ...]`: the node
daemon as a process of its own (`shoal.node.daemon.main`), started as lean as it can be:
asyncio without OpenSSL until a TLS endpoint needs it (shoal.lean), and no garbage collection
while the code loads.
"""

import gc
import sys

if __name__ == "__main__":
    # Loading the daemon's code makes ~40k objects and next to no garbage: the ~50 collections
    # it would trigger (~8 ms of the start) find almost nothing. Frozen once loaded, the modules
    # stay out of every later collection's walk too.
    gc.disable()

    from shoal.lean import import_asyncio_without_ssl

    import_asyncio_without_ssl()

    from shoal.node.daemon import main

    gc.freeze()
    gc.enable()
    sys.exit(main())
