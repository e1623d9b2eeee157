"""How the node waits for a batch of servers (stop_all, destroy): every request made first, then
the waits, and the reports of the last changes published by the time it returns."""

from __future__ import annotations

import asyncio

import pytest

from shoal.errors import ShoalError
from shoal.node.service import _all_asked_then_awaited


@pytest.mark.asyncio
async def test_the_reports_of_the_last_turn_are_out_when_a_batch_returns() -> None:
    loop = asyncio.get_running_loop()
    published: list[str] = []
    ended = {name: asyncio.Event() for name in ("A", "B")}

    def change(name: str) -> None:  # as Supervisor._feed: the report at the turn's end, then
        loop.call_soon(published.append, name)  # the waiters are woken
        ended[name].set()

    async def wait(name: str) -> None:
        await ended[name].wait()

    loop.call_soon(lambda: (change("A"), change("B")))  # both servers end in one turn
    await _all_asked_then_awaited(["A", "B"], wait)  # type: ignore[arg-type]

    assert published == ["A", "B"]


@pytest.mark.asyncio
async def test_every_wait_runs_and_the_first_failure_is_raised_at_the_end() -> None:
    waited: list[str] = []

    async def wait(name: str) -> None:
        waited.append(name)
        if name != "C":
            raise ShoalError(f"{name} failed")

    with pytest.raises(ShoalError, match="A failed"):
        await _all_asked_then_awaited(["A", "B", "C"], wait)  # type: ignore[arg-type]
    assert waited == ["A", "B", "C"]
