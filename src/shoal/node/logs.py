"""Server output files (`IceGrid.Node.Output/ID.out|.err`): size-rotated appends, tail and follow.

The node reads each server's stdout/stderr from pipes on its event loop and hands the bytes to
an `OutputLog`, which appends them to the file and rotates it by size (`ID.out.1` .. `.N`,
`shoal.node.log.max_kb` and `shoal.node.log.backups`). Writes are small blocking appends on the
loop (a pipe read is at most 256 KB; the page cache takes it in microseconds), which keeps the
order of bytes trivially right; reading a tail, which may scan a large file, runs in a thread.
Followers get new output pushed to them as it is written: nothing polls the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["DEFAULT_BACKUPS", "DEFAULT_MAX_KB", "OutputChunk", "OutputLog", "last_lines"]

_log = logging.getLogger(__name__)

DEFAULT_MAX_KB = 10240  # shoal.node.log.max_kb
DEFAULT_BACKUPS = 5  # shoal.node.log.backups
# A follower that lets this many chunks pile up is too slow (a stuck client): it is dropped
# rather than letting the node's memory grow without bound.
_FOLLOWER_QUEUE_CHUNKS = 4096
_TAIL_BLOCK = 64 * 1024


@dataclass(frozen=True)
class OutputChunk:
    """Bytes of a server's output; `rotated`: the file was rotated just before them."""

    data: bytes
    rotated: bool = False


class OutputLog:
    """One output file of one server: appended to by the node, read by `server stdout`."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = max(0, backups)
        self._file: BinaryIO | None = None
        self._size = 0
        self._rotated_since_push = False
        self._followers: set[asyncio.Queue[OutputChunk | None]] = set()

    # ----------------------------------------------------------------- writing (event loop)

    def write(self, data: bytes) -> None:
        """Append `data`, rotating first when it would take the file past its size limit."""
        if not data:
            return
        try:
            handle = self._open()
            if self._size > 0 and self._size + len(data) > self.max_bytes:
                handle = self._rotate()
            handle.write(data)
            self._size += len(data)
        except OSError as exc:  # a full disk must not take the node down: the log says why
            _log.warning("cannot write %s: %s", self.path, exc)
        self._push(OutputChunk(data, self._rotated_since_push))
        self._rotated_since_push = False

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: a follower that reads the file sees every byte already pushed.
            self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
            self._size = os.fstat(self._file.fileno()).st_size
        return self._file

    def _rotate(self) -> BinaryIO:
        """ID.out -> ID.out.1 -> ... -> ID.out.N (the oldest dropped); a new, empty ID.out."""
        self.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._rotated_since_push = True
        return self._open()

    def close(self) -> None:
        """Close the file (it reopens on the next write)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def end_followers(self) -> None:
        """End every follow (the server is destroyed, or the node exits)."""
        for queue in list(self._followers):
            self._drop(queue)

    # ----------------------------------------------------------------- reading

    def _push(self, chunk: OutputChunk) -> None:
        for queue in list(self._followers):
            if queue.qsize() >= _FOLLOWER_QUEUE_CHUNKS:
                _log.warning("dropping a follower of %s: it does not keep up", self.path)
                self._drop(queue)
            else:
                queue.put_nowait(chunk)

    def _drop(self, queue: asyncio.Queue[OutputChunk | None]) -> None:
        self._followers.discard(queue)
        queue.put_nowait(None)  # unbounded queue: never full

    async def read(self, tail_lines: int = 0, follow: bool = False) -> AsyncIterator[OutputChunk]:
        """The last `tail_lines` lines (0: the whole current file), then with `follow` every new
        chunk as it is written, until the log ends its followers or the caller stops."""
        queue: asyncio.Queue[OutputChunk | None] | None = None
        try:
            # Open the file and subscribe in one loop step: no write can fall between the two,
            # so the tail ends exactly where the followed output starts.
            try:
                handle: BinaryIO | None = open(self.path, "rb")  # noqa: SIM115, ASYNC230
            except FileNotFoundError:
                handle = None
            if follow:
                queue = asyncio.Queue()
                self._followers.add(queue)
            if handle is not None:
                with handle:
                    end = os.fstat(handle.fileno()).st_size
                    data = await asyncio.to_thread(last_lines, handle, end, tail_lines)
                if data:
                    yield OutputChunk(data)
            while queue is not None:
                chunk = await queue.get()
                if chunk is None:
                    return
                yield chunk
        finally:
            if queue is not None:
                self._followers.discard(queue)


def last_lines(handle: BinaryIO, end: int, lines: int) -> bytes:
    """The last `lines` lines of the first `end` bytes of `handle` (all of them for 0)."""
    if lines <= 0:
        handle.seek(0)
        return handle.read(end)
    position = end
    data = b""
    # A last line without its newline still counts as a line: look for one more newline.
    wanted = lines + 1 if end > 0 else lines
    while position > 0 and data.count(b"\n") < wanted:
        step = min(_TAIL_BLOCK, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
    if data.endswith(b"\n"):
        kept = data[:-1].split(b"\n")[-lines:]
        return b"\n".join(kept) + b"\n"
    return b"\n".join(data.split(b"\n")[-lines:])
