"""The node daemon's log lines: logging's own format, written once per turn of the event loop,
in order across stdout and stderr, and never left behind."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import pytest

from shoal.node.daemon_log import LINE_FORMAT, DaemonLog, LineFormatter


class Stream(io.StringIO):
    """A text stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def record(
    message: str, level: int = logging.INFO, created: float | None = None
) -> logging.LogRecord:
    made = logging.LogRecord("shoal.test", level, __file__, 1, message, None, None)
    if created is not None:
        made.created = created
        made.msecs = (created - int(created)) * 1000
    return made


def test_lines_read_exactly_as_logging_formats_them() -> None:
    """The cached date and time change with the second, and the milliseconds with the record."""
    ours, theirs = LineFormatter(), logging.Formatter(LINE_FORMAT)
    now = time.time()
    for created in (now, now + 0.0004, int(now) + 0.9996, int(now) + 1.0, now + 3600.25, 1.5):
        made = record(f"hello {created}", created=created)
        assert ours.format(made) == theirs.format(made)


def handler(out: Stream, err: Stream | None = None) -> DaemonLog:
    made = DaemonLog(out, err or out)
    made.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return made


@pytest.mark.asyncio
async def test_info_lines_of_one_turn_go_out_in_one_write_at_its_end() -> None:
    out = Stream()
    log = handler(out)
    for word in ("one", "two", "three"):
        log.handle(record(word))
    assert out.writes == 0
    await asyncio.sleep(0)  # the loop's next turn
    assert (out.writes, out.getvalue()) == (1, "INFO one\nINFO two\nINFO three\n")


@pytest.mark.asyncio
async def test_a_warning_goes_out_at_once_after_the_lines_before_it() -> None:
    """Same file for both streams (Ice.StdOut = Ice.StdErr): the order holds."""
    shared = Stream()
    log = handler(shared)
    log.handle(record("stopping"))
    log.handle(record("cannot stop", logging.WARNING))
    assert shared.getvalue() == "INFO stopping\nWARNING cannot stop\n"
    out, err = Stream(), Stream()
    log = handler(out, err)
    log.handle(record("fine"))
    log.handle(record("broken", logging.ERROR))
    assert (out.getvalue(), err.getvalue()) == ("INFO fine\n", "ERROR broken\n")


def test_without_a_running_loop_each_line_goes_out_at_once() -> None:
    out = Stream()
    log = handler(out)
    log.handle(record("starting"))
    assert out.getvalue() == "INFO starting\n"


@pytest.mark.asyncio
async def test_a_line_from_another_thread_goes_out_after_those_queued() -> None:
    out = Stream()
    log = handler(out)
    log.handle(record("on the loop"))
    await asyncio.to_thread(log.handle, record("in a thread"))
    assert out.getvalue() == "INFO on the loop\nINFO in a thread\n"


@pytest.mark.asyncio
async def test_flush_writes_what_is_queued_and_a_later_loop_is_served_too() -> None:
    out = Stream()
    log = handler(out)
    log.handle(record("last words"))
    log.flush()  # the daemon's exit (logging.shutdown)
    assert out.getvalue() == "INFO last words\n"

    def another_loop() -> None:
        async def say() -> None:
            log.handle(record("again"))

        asyncio.run(say())

    await asyncio.to_thread(another_loop)  # its own loop, scheduled its own flush
    assert out.getvalue() == "INFO last words\nINFO again\n"
