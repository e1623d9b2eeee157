"""`python -m shoal.node --site PREFIX --name NAME [--ready-fd N] [--Key=Value ...]`: the node
daemon as a process of its own (`shoal.node.daemon.main`), started as lean as it can be:
asyncio without OpenSSL until a TLS endpoint needs it (shoal.lean), no garbage collection
while the code loads, and its dataclasses' methods compiled once (shoal.classcache).
"""

import gc
import importlib
import sys

#: What a held node loads before it waits: `admin start` holds the master while it checks the
#: descriptor (shoal.cli.daemon.spawn_node), then deploys at once. Loaded here, in parallel
#: with the CLI, rather than once let go: the registry the master runs, and the XML engine of
#: that first deploy (shoal.registry.deploy.build_application, lazy otherwise).
HELD_PRELOAD = ("shoal.registry.service", "shoal.descriptor.parser", "shoal.descriptor.writer")


def _preload(names: tuple[str, ...]) -> None:
    """Import `names` ahead of need. One that cannot be imported is left for the daemon to meet
    where it needs it, and report its own way (shoal.node.daemon._start_registry: an error on
    the ready pipe, not a traceback and a closed pipe)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def _held(argv: list[str]) -> bool:
    return any(word.partition("=")[0] == "--hold-fd" for word in argv)


if __name__ == "__main__":
    # Loading the daemon's code makes ~40k objects and next to no garbage: the ~50 collections
    # it would trigger (~8 ms of the start) find almost nothing. Frozen once loaded, the modules
    # stay out of every later collection's walk too.
    gc.disable()
    # Dataclass methods compiled once, not at each start (~60-80 ms of it: shoal.classcache).
    from shoal import classcache

    classcache.enable()

    from shoal.lean import import_asyncio_without_ssl

    import_asyncio_without_ssl()

    from shoal.node.daemon import main

    if _held(sys.argv[1:]):
        _preload(HELD_PRELOAD)
    classcache.save()

    gc.freeze()
    gc.enable()
    main()
