"""The program name selects a sub-command, as bin/omero's shortcuts do."""

import pytest

from shoal.cli.main import shortcut_arguments


@pytest.mark.parametrize(
    ("program", "args", "expected"),
    [
        ("/usr/bin/shoal", ["admin", "check"], ["admin", "check"]),
        ("/etc/init.d/shoal-admin", ["start"], ["admin", "start"]),
        ("shoal-admin-ice", ["server", "list"], ["admin", "ice", "server", "list"]),
        ("/x/bin/shoal.py", ["init", "d"], ["init", "d"]),
        ("python-something", ["a"], ["a"]),
    ],
)
def test_program_name_words_after_the_first_are_prepended(
    program: str, args: list[str], expected: list[str]
) -> None:
    assert shortcut_arguments(program, args) == expected
