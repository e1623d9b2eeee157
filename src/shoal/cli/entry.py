"""The `shoal` program's entry point (the console script, site launchers, `python -m shoal`).

It loads nothing of the command tree itself: a launcher's name becomes words, the quick path
(shoal.cli.quick) answers `admin stop` and `admin ice application remove` when it can, and
every other command loads click and runs through shoal.cli.main.

A launcher named `shoal-admin` runs `shoal admin ...`, `shoal-admin-ice` runs `shoal admin ice ...`:
the program name is split on hyphens and the later parts are prepended to the arguments.
"""

from __future__ import annotations

import os
import sys

#: typing and collections.abc (like contextlib) cost this path ~5-10 ms each on 2 cores: the
#: type checker's names only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn


def shortcut_arguments(program: str, args: Sequence[str]) -> list[str]:
    """`shoal-admin-ice x` → `["admin", "ice", "x"]`; a plain `shoal` adds nothing."""
    name = os.path.basename(program)
    if name.endswith(".py"):
        name = name[:-3]
    words = name.split("-")
    if words[0] != "shoal":
        return list(args)
    return [*words[1:], *args]


def exit_now(code: int) -> NoReturn:
    """Exit with `code` once our output is flushed, without the interpreter's teardown.

    Taking apart a process that loaded asyncio and protobuf (thousands of objects) costs a
    one-shot command tens of ms, a large part of its life. Nothing is lost: a command closes what it
    opens in its own `with` blocks before `run` returns, and Shoal registers no atexit work;
    log handlers (the daemons') are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        # A reader that went away (`| head`), or a closed stream: nothing more to say.
        try:  # noqa: SIM105 (contextlib: ~5 ms more on the quick path)
            stream.flush()
        except (OSError, ValueError, AttributeError):  # AttributeError: no stream (`>&-`)
            pass
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    os._exit(code)


def main(launcher_prefix: str | None = None) -> NoReturn:
    """The console-script entry point, and the site launchers' (bin/shoal)."""
    program = sys.argv[0]
    args = shortcut_arguments(program, sys.argv[1:])
    from shoal.cli.quick import answer

    try:
        code = answer(program, args, launcher_prefix)
    except KeyboardInterrupt:  # Ctrl-C: the user knows; quiet, as the full command
        code = 130
    except Exception as error:  # told as the full command tells it (shoal.cli.main)
        from shoal.cli.main import report

        code = report(error, debug=False)
    if code is None:
        from shoal.cli.main import run

        code = run(launcher_prefix=launcher_prefix)
    exit_now(code)
