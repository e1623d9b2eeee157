"""Dataclass methods compiled once, not at every start of a Shoal process.

The `dataclasses` module writes each class's methods (`__init__`, `__repr__`, `__eq__`,
`__hash__`, `__setattr__`...) as Python source and compiles it when the class is made: the
master's ~100 dataclasses are ~550 such compilations, 60-80 ms of its ~200 ms of imports on 2
cores, at every `shoal admin start` (and ~12 ms of a full `server list`). The source of a
class's methods is the same text at every start, so its code can be kept as `.pyc` files keep a
module's: `enable` makes `dataclasses` compile through a table from that text (by digest) to the
code compiled the first time, read from `__pycache__/dataclasses.<cache tag>.bin` beside Shoal's
own bytecode; `save` writes what was compiled since.

How: `dataclasses` calls the built-in `exec` on that text by name; a module-level `exec` in
its namespace shadows the built-in (nothing of the module is replaced or copied). A text not in
the table is compiled as `exec` would; so is anything that is not a string. The file is written
as bytecode is, and not when Python writes none (`-B`, PYTHONDONTWRITEBYTECODE) unless asked
(`python -m shoal.classcache`, which `make bench` runs as it byte-compiles `src/`); a file
that cannot be read or is not this Python's is ignored, and one that cannot be written is not.

A process adds what it compiled to the table and drops nothing (a command uses a few classes,
the master most). `python -m shoal.classcache` makes every class of this Shoal and writes those
alone: methods of classes an upgrade or an edit changed since are pruned, and so are those of
any other package's dataclasses a daemon made (the next daemon to make them adds them again,
where Python writes bytecode).
"""

from __future__ import annotations

import builtins
import marshal
import os
import sys

# Both as the standard library's public names have them (importlib.util, hashlib), without
# the modules those load first (~9 ms and ~5 ms, at every start).
from importlib._bootstrap_external import MAGIC_NUMBER

try:
    from _blake2 import blake2b
except ImportError:  # a Python built without it
    from hashlib import blake2b

__all__ = ["PATH", "compiled", "enable", "save"]

#: Where the table is kept: beside Shoal's own bytecode, one file per Python.
PATH = os.path.join(
    os.path.dirname(__file__), "__pycache__", f"dataclasses.{sys.implementation.cache_tag}.bin"
)
_path = PATH  # the file `enable` read, which `save` writes
#: digest of a method text -> its code, marshalled: unmarshalled when a class needs it (the
#: file holds every Shoal dataclass's; a command makes a few of them, the master ~100).
_known: dict[bytes, bytes] = {}
_new: dict[bytes, bytes] = {}  # compiled in this process, not in the file yet
_compiled: set[bytes] = set()  # every text this process compiled
_used: set[bytes] = set()  # every text this process needed, compiled or read


def enable(path: str = PATH) -> None:
    """Compile dataclass methods through the table (read from `path` once). Idempotent."""
    global _path
    import dataclasses

    if getattr(dataclasses, "exec", None) is _exec:
        return
    if "exec" in vars(dataclasses):  # someone else's: leave it alone
        return
    _path = path
    _known.update(_read(path))
    dataclasses.exec = _exec  # type: ignore[attr-defined]


def compiled() -> int:
    """How many method texts this process compiled (not found in the table), saved or not."""
    return len(_compiled)


def save(*, even_without_bytecode: bool = False, only_used: bool = False) -> None:
    """Add what this process compiled to the table's file, if anything; with `only_used`, make
    the file what this process needed instead (rewritten unless it holds exactly that already).
    Atomic: a reader sees the old file or the new. Nothing when Python writes no bytecode,
    unless `even_without_bytecode`; an OSError (read-only install) is ignored: the next start
    compiles."""
    if sys.dont_write_bytecode and not even_without_bytecode:
        return
    if only_used:
        table = {key: _new.get(key) or _known[key] for key in _used}
        if not _new and len(table) == len(_known):  # all read from the file, none left out
            return
    elif _new:
        table = {**_read(_path), **_new}
    else:
        return
    temporary = f"{_path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(_path), exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(MAGIC_NUMBER)
            marshal.dump(table, file)
        os.replace(temporary, _path)
    except OSError:
        try:  # noqa: SIM105 (contextlib: one more import at every start)
            os.unlink(temporary)
        except OSError:
            pass
        return
    _known.update(_new)
    _new.clear()


def _exec(source: object, globals: dict[str, object] | None = None, locals: object = None) -> None:
    """`exec`, with a string compiled once: the code comes from the table when it is there."""
    if isinstance(source, str):
        key = _digest(source)
        source = _code(key, source)
    builtins.exec(source, globals, locals)  # type: ignore[arg-type]


def _code(key: bytes, text: str) -> object:
    """The code of `text` (digest `key`): from the table, else compiled (and kept for `save`)."""
    known = _known.get(key) or _new.get(key)
    if known is not None:
        try:
            code = marshal.loads(known)
        except (EOFError, ValueError, TypeError):  # a damaged entry: compiled again
            pass
        else:
            _used.add(key)
            return code
    code = compile(text, "<string>", "exec")
    _new[key] = marshal.dumps(code)
    _compiled.add(key)
    _used.add(key)
    return code


def _digest(text: str) -> bytes:
    return blake2b(text.encode(), digest_size=16).digest()


def _read(path: str) -> dict[bytes, bytes]:
    """The table in `path`; empty when there is none, or it is not this Python's, or not whole."""
    try:
        with open(path, "rb") as file:
            if file.read(len(MAGIC_NUMBER)) != MAGIC_NUMBER:
                return {}
            table = marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return table


def _fill() -> None:
    """Import every Shoal module that defines a dataclass, so that their methods are compiled."""
    import importlib

    package = os.path.dirname(__file__)
    for directory, _, files in os.walk(package):
        for name in sorted(files):
            path = os.path.join(directory, name)
            if not name.endswith(".py") or name == "__main__.py":
                continue
            with open(path, encoding="utf-8") as source:
                if "@dataclass" not in source.read():
                    continue
            relative = os.path.relpath(path, os.path.dirname(package))[: -len(".py")]
            importlib.import_module(relative.replace(os.sep, ".").removesuffix(".__init__"))


if __name__ == "__main__":
    # Fill the file for every dataclass of Shoal's, whatever PYTHONDONTWRITEBYTECODE says (as
    # `python -m compileall` writes .pyc files): `make bench` runs it. Only theirs: entries of
    # classes since changed or removed go.
    enable()
    _fill()
    save(even_without_bytecode=True, only_used=True)
