"""Server output logs: appends, rotation by size, tail, and follow without polling."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from shoal.node.logs import OutputChunk, OutputLog, last_lines


def test_rotation_keeps_the_newest_backups(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "S.out", max_bytes=10, backups=2)
    for index in range(5):
        log.write(f"line {index}\n".encode())  # 7 bytes: one line per file
    log.close()
    assert (tmp_path / "S.out").read_bytes() == b"line 4\n"
    assert (tmp_path / "S.out.1").read_bytes() == b"line 3\n"
    assert (tmp_path / "S.out.2").read_bytes() == b"line 2\n"
    assert not (tmp_path / "S.out.3").exists()


def test_rotation_with_no_backups_starts_over(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "S.err", max_bytes=10, backups=0)
    log.write(b"aaaaaaaa\n")
    log.write(b"bbbbbbbb\n")
    log.close()
    assert (tmp_path / "S.err").read_bytes() == b"bbbbbbbb\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S.err"]


def test_a_reopened_log_counts_what_the_file_already_holds(tmp_path: Path) -> None:
    (tmp_path / "S.out").write_bytes(b"123456789\n")
    log = OutputLog(tmp_path / "S.out", max_bytes=12, backups=1)
    log.write(b"abc\n")
    log.close()
    assert (tmp_path / "S.out.1").read_bytes() == b"123456789\n"


@pytest.mark.parametrize(
    ("text", "lines", "expected"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc", 2, b"b\nc"),
        (b"a\nb\nc\n", 10, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 0, b"a\nb\nc\n"),
        (b"", 3, b""),
        (b"x" * 200_000 + b"\nlast\n", 1, b"last\n"),
    ],
)
def test_last_lines(text: bytes, lines: int, expected: bytes) -> None:
    assert last_lines(io.BytesIO(text), len(text), lines) == expected


@pytest.mark.asyncio
async def test_tail_then_follow_sees_every_byte_once(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "S.out", max_bytes=30, backups=1)
    for index in range(3):
        log.write(f"old {index}\n".encode())
    reader = log.read(tail_lines=2, follow=True)
    first = await anext(reader)
    assert first == OutputChunk(b"old 1\nold 2\n")
    log.write(b"new 0\n")
    assert await anext(reader) == OutputChunk(b"new 0\n")
    log.write(b"a long line that rotates\n")
    assert await anext(reader) == OutputChunk(b"a long line that rotates\n", rotated=True)
    log.end_followers()
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
    log.close()


@pytest.mark.asyncio
async def test_follow_waits_for_output_without_polling(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "S.out", max_bytes=1000, backups=1)
    reader = log.read(tail_lines=10, follow=True)
    waiting = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)  # let it subscribe: nothing to read yet
    assert not waiting.done()
    log.write(b"hello\n")
    assert await asyncio.wait_for(waiting, 5) == OutputChunk(b"hello\n")
    await reader.aclose()
    assert not log._followers
    log.close()


@pytest.mark.asyncio
async def test_reading_a_missing_log_gives_nothing(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "none.out", max_bytes=1000, backups=1)
    assert [chunk async for chunk in log.read(5)] == []
