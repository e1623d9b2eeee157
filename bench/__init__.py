"""`make bench`: Shoal and its peers (IceGrid, supervisord) measured in one run, side by side.

Entry point: `python -m bench.run` (see docs/performance.md). Layout:

    timing.py     the one clock, bounded polling and sample statistics
    procs.py      /proc readings (gone?, RSS, CPU) and the ledger that kills what we started
    peers/        one module per process manager, all behind peers.Peer
    scenarios.py  what is measured, peer by peer
    report.py     the table, latest.md and latest.json
    run.py        arguments, the order of the runs, cleanup on failure and Ctrl-C
"""
