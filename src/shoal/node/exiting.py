"""How the node daemon's process ends once its cleanup is done: at once.

When `_Daemon.run` returns, its cleanup has stopped every server (or left them to the
watchdog), closed the registry session, stopped a collocated registry (its listeners and
connections closed, its database closed: committed and checkpointed), told the watchdog to exit
and reaped it, and removed the pidfile. What would still run is of no use to anyone: closing
the event loop (cancelling tasks that can do nothing more, joining the idle threads of its
executor, closing its selector), the atexit hooks (logging's flush, done here by hand, and that
same join), finalizers of what is still alive (reaped Popen objects, closed sockets) and freeing
memory the kernel frees anyway: ~15 ms of `shoal admin stop`'s wait for the process to be gone.
So `leave` writes out the log and the standard streams and calls os._exit. A daemon run in the
CLI's own process (`shoal node NAME start --foreground`) returns and exits the usual way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

__all__ = ["leave"]


def leave(code: int) -> NoReturn:
    """Exit with `code` now: the log and stdout/stderr written out, nothing else run."""
    logging.shutdown()  # flushes every handler (daemon_log's queue included)
    for stream in (sys.stdout, sys.stderr):
        # Closed or broken: nothing more can be said there.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
