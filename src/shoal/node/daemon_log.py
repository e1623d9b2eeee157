"""The node daemon's own log: info to stdout (master.out), warnings and errors to stderr
(master.err), one line per record, made cheap for bursts (a stop of 50 servers logs ~150 lines).

* Records carry no caller, thread or process names: the line shows none, and finding the
  caller walks the stack for every record (`logging._srcfile` and the `log*` flags).
* The time prefix (`2026-01-31 12:00:00,123`, as logging writes it) is formatted once per
  second: time.strftime was the costliest step left.
* Info lines logged on the event loop's thread are written at the end of the loop's turn, all
  in one write, rather than one write (and flush) each. Anywhere else (another thread, no loop
  running) and for warnings and errors, what is queued is written first, then the line: the
  order of lines holds across both streams, even when they are the same file.

Nothing waits in the queue past the turn that logged it, so a node killed by SIGKILL loses at
most the lines of its last turn; `flush` (the daemon's exit, logging.shutdown) writes them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

__all__ = ["DaemonLog", "LineFormatter", "configure"]

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DATE_TIME = logging.Formatter.default_time_format  # then ",%03d" milliseconds


class LineFormatter(logging.Formatter):
    """logging.Formatter(LINE_FORMAT), with the date and time formatted once per second."""

    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)
        self._second: tuple[int, str] = (-1, "")  # one tuple: threads never see half of it

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        cached, prefix = self._second
        if second != cached:
            prefix = time.strftime(_DATE_TIME, self.converter(record.created))
            self._second = (second, prefix)
        return f"{prefix},{int(record.msecs):03d}"  # logging.Formatter's "%s,%03d"


class DaemonLog(logging.Handler):
    """Records below WARNING to `out`, batched per turn of the loop; the others to `err`."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__()
        self.out = out
        self.err = err
        self._queued: list[str] = []
        self._flushing_on: asyncio.AbstractEventLoop | None = None  # a flush is scheduled there

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self._write_queued()
            _write(self.err, line)
            return
        self._queued.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not the loop's thread, or no loop (start-up, exit)
            self._write_queued()
            return
        if self._flushing_on is not loop:
            # (A flush scheduled on a loop since closed never runs: this one writes its lines.)
            self._flushing_on = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # createLock made it
            self._flushing_on = None
            self._write_queued()

    def _write_queued(self) -> None:
        if self._queued:
            text = "".join(self._queued)
            self._queued.clear()
            _write(self.out, text)


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # closed or broken: a log that cannot be written is lost
        pass


def configure(out: TextIO, err: TextIO) -> None:
    """The daemon's logging, at INFO, unless someone (the CLI, a test) set it up already."""
    root = logging.getLogger()
    if root.handlers:
        return
    # Process-wide, but this is the daemon's own process: no line shows these fields.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if sys.version_info >= (3, 12):
        logging.logAsyncioTasks = False
    handler = DaemonLog(out, err)
    handler.setFormatter(LineFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
