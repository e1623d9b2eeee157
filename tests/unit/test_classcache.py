"""shoal.classcache: dataclass methods compiled once and read back, with the same behaviour.

Each case runs in a fresh interpreter (the cache patches that process's `dataclasses`), with a
table file of the test's own.
"""

from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

#: Dataclasses using what Shoal's do (frozen, slots, defaults, factories, post-init, keyword
#: only, fields left out of comparison), and what they print when used.
CLASSES = """
import dataclasses
from dataclasses import dataclass, field

@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

@dataclass(kw_only=True)
class Box:
    name: str
    items: list[int] = field(default_factory=list)
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        self.name = self.name.upper()

p = Point(1, tags=("a",))
print(repr(p), p == Point(1, 0, ("a",)), hash(p) == hash(Point(1, 0, ("a",))))
try:
    p.x = 2
except dataclasses.FrozenInstanceError as error:
    print("frozen:", error)
b = Box(name="b", note="x")
b.items.append(1)
print(repr(b), b == Box(name="b", items=[1]), Box(name="c").items is not Box(name="c").items)
print(dataclasses.replace(p, y=5), [f.name for f in dataclasses.fields(Box)])
"""


def _run(table: Path, *, cached: bool, flags: tuple[str, ...] = ()) -> list[str]:
    """CLASSES in a new interpreter (through the cache if `cached`): its output lines, then the
    number of method texts it compiled."""
    code = CLASSES
    if cached:
        code = (
            f"from shoal import classcache\nclasscache.enable({str(table)!r})\n"
            + CLASSES
            + "classcache.save(even_without_bytecode=True)\nprint(classcache.compiled())\n"
        )
    done = subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_methods_are_compiled_once_and_read_back(tmp_path: Path) -> None:
    table = tmp_path / "dataclasses.bin"
    *first, compiled = _run(table, cached=True)
    assert int(compiled) > 0 and table.exists()

    *again, compiled_again = _run(table, cached=True)

    assert int(compiled_again) == 0  # every method came from the file
    assert first == again == _run(table, cached=False)  # and behaves as dataclasses' own


def test_a_file_that_is_not_a_table_is_ignored_and_replaced(tmp_path: Path) -> None:
    table = tmp_path / "dataclasses.bin"
    table.write_bytes(b"not a table")

    *used, compiled = _run(table, cached=True)

    assert int(compiled) > 0
    assert used == _run(table, cached=False)
    *_, compiled_again = _run(table, cached=True)
    assert int(compiled_again) == 0


def test_nothing_is_written_where_python_writes_no_bytecode(tmp_path: Path) -> None:
    table = tmp_path / "dataclasses.bin"
    code = (
        f"from shoal import classcache\nclasscache.enable({str(table)!r})\n"
        "from dataclasses import dataclass\n"
        "@dataclass\nclass A:\n    x: int\n"
        "classcache.save()\n"
    )
    done = subprocess.run([sys.executable, "-B", "-c", code], capture_output=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert not table.exists()


def test_a_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    table = tmp_path / "dataclasses.bin"
    _run(table, cached=True)
    data = table.read_bytes()
    magic = data[:4]
    entries = marshal.loads(data[4:])
    table.write_bytes(magic + marshal.dumps(dict.fromkeys(entries, b"\x00damaged")))

    *used, compiled = _run(table, cached=True)

    assert int(compiled) == len(entries)
    assert used == _run(table, cached=False)


def test_saving_only_what_was_used_drops_entries_of_classes_gone(tmp_path: Path) -> None:
    """A table with entries of classes gone (an upgrade, an edit) and some of today's: saved
    with `only_used` (as `python -m shoal.classcache` does), it holds today's alone, each read
    back as compiled."""
    table = tmp_path / "dataclasses.bin"
    _run(table, cached=True)
    data = table.read_bytes()
    magic, today = data[:4], marshal.loads(data[4:])
    stale = {bytes([n]) * 16: marshal.dumps(compile("x = 1", "<string>", "exec")) for n in range(3)}
    table.write_bytes(magic + marshal.dumps({**today, **stale}))
    code = (
        f"from shoal import classcache\nclasscache.enable({str(table)!r})\n"
        + CLASSES
        + "classcache.save(even_without_bytecode=True, only_used=True)\n"
        + "print(classcache.compiled())\n"
    )

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0"  # nothing compiled: today's entries were read
    assert marshal.loads(table.read_bytes()[4:]) == today
    *_, compiled = _run(table, cached=True)
    assert int(compiled) == 0


def test_saving_only_what_was_used_leaves_a_file_that_holds_just_that(tmp_path: Path) -> None:
    """Nothing compiled and nothing stale: the file is not written again (its inode and bytes
    are those of the first save)."""
    table = tmp_path / "dataclasses.bin"
    code = (
        f"from shoal import classcache\nclasscache.enable({str(table)!r})\n"
        + CLASSES
        + "classcache.save(even_without_bytecode=True, only_used=True)\n"
    )

    def fill() -> None:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr

    fill()
    first = table.stat()
    data = table.read_bytes()
    fill()

    again = table.stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert table.read_bytes() == data
