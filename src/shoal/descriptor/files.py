"""Read a descriptor file safely: regular files only, at most `MAX_DESCRIPTOR_BYTES`.

`/dev/zero` would otherwise be read until memory runs out and a FIFO would block forever: the
file is opened without blocking, then checked with `fstat` on the open descriptor (no race with
a rename between the check and the read).
"""

from __future__ import annotations

import os
import stat

__all__ = ["MAX_DESCRIPTOR_BYTES", "MAX_DESCRIPTOR_SIZE_TEXT", "Unreadable", "read_descriptor"]

MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024
MAX_DESCRIPTOR_SIZE_TEXT = "16 MB"


class Unreadable(Exception):
    """The file cannot be used as a descriptor; `reason` completes "`FILE' ..." (e.g. "is a
    directory"), `missing` is True when nothing exists at that path."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def read_descriptor(path: str) -> bytes:
    """The bytes of the regular file at `path`; raises `Unreadable` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unreadable("does not exist", missing=True) from None
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise Unreadable("is a directory")
        if not stat.S_ISREG(status.st_mode):
            raise Unreadable("is not a regular file")
        if status.st_size > MAX_DESCRIPTOR_BYTES:
            raise Unreadable(f"is larger than {MAX_DESCRIPTOR_SIZE_TEXT}")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1024 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_DESCRIPTOR_BYTES:  # it grew while being read
                raise Unreadable(f"is larger than {MAX_DESCRIPTOR_SIZE_TEXT}")
        return b"".join(chunks)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return f"cannot be read: {exc.strerror or exc}"
