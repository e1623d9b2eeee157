"""The `shoal` program's entry point (the console script, site launchers, `python -m shoal`).

It loads nothing of the command tree itself: a launcher's name becomes words, the quick path
(shoal.cli.quick) answers `admin stop` and `admin ice application remove` when it can, and
every other command loads click and runs through shoal.cli.main; for `admin start`, the master
is spawned first (shoal.cli.quick_start) and the full command adopts it.

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
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import NoReturn

    from shoal.cli.quick_start import HeadStart


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


def main(launcher_prefix: str | None = None, *, site_deferred: bool = False) -> NoReturn:
    """The console-script entry point, and the site launchers' (bin/shoal).

    `site_deferred`: the launcher started Python with -S (see shoal.cli.init): Python's `site`
    set-up runs only when something beyond the standard library and Shoal is needed.
    """
    if site_deferred and sys.flags.no_site and "site" not in sys.modules:
        sys.meta_path.append(SiteOnFirstMiss)
    program = sys.argv[0]
    args = shortcut_arguments(program, sys.argv[1:])
    from shoal.cli.quick import answer

    head: HeadStart | None = None
    try:
        code = answer(program, args, launcher_prefix)
        if code is None:
            from shoal.cli.quick_start import head_start

            head = head_start(program, args, launcher_prefix)
    except KeyboardInterrupt:  # Ctrl-C: the user knows; quiet, as the full command
        code = 130
    except Exception as error:  # told as the full command tells it (shoal.cli.main)
        SiteOnFirstMiss.set_up()
        from shoal.cli.main import report

        code = report(error, debug=False)
    if code is None:
        SiteOnFirstMiss.set_up()
        from shoal import classcache

        classcache.enable()  # dataclass methods compiled once, not at each command (~12 ms)
        from shoal.cli.main import run

        try:
            code = run(launcher_prefix=launcher_prefix, head_start=head)
        finally:
            if head is not None and not head.claimed:  # it failed before start_grid ran
                from shoal.cli.start import call_off_head_start

                call_off_head_start(head)
            classcache.save()
    exit_now(code)


class SiteOnFirstMiss:
    """Python's `site` set-up (site-packages, their .pth files, a virtual environment's
    sys.prefix), put off for a launcher that starts Python with -S: ~6 ms of a quick command,
    which needs only the standard library and Shoal (its launcher imports the `shoal` package
    from where `shoal init` found it, and leaves that directory out of sys.path).

    On sys.meta_path, last: the first import no other finder finds runs the set-up, then is
    looked up again. The full command runs it first thing (`set_up`), whatever it imports.
    """

    @classmethod
    def set_up(cls) -> None:
        """Run the set-up now, unless it has run (or Python ran it at start)."""
        if cls not in sys.meta_path:
            return
        sys.meta_path.remove(cls)
        import site

        site.main()

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        cls.set_up()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)  # (a legacy finder may have none)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                return spec  # type: ignore[no-any-return]
        return None
