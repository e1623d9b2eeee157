"""A test server that misbehaves on request. Standard library only, so it starts fast.

    python -S misbehave.py [--show WHAT]... [--ignore-term] [--grandchild]
                           [--exit N [--after MS]] [--segv] [--fail-while FILE] [--mark WORD]

Options may also come from the MISBEHAVE environment variable (split on spaces), after argv.
It prints `WHAT=value` for each --show (cwd, pid, pgid, uid, umask, env:NAME), `grandchild=PID`
for --grandchild (a child in its process group that sleeps forever), then `ready`, then exits
with code N after MS milliseconds, or kills itself with SIGSEGV, or sleeps until a signal.
--fail-while FILE exits 1 at once while FILE exists (a server that fails until it is fixed).
"""

import os
import signal
import sys
import time


def show(what: str) -> str:
    if what.startswith("env:"):
        return os.environ.get(what[4:], "<unset>")
    if what == "umask":
        mask = os.umask(0)
        os.umask(mask)
        return f"{mask:03o}"
    values = {"cwd": os.getcwd, "pid": os.getpid, "pgid": lambda: os.getpgid(0), "uid": os.getuid}
    return str(values[what]())


def sleep_forever() -> None:
    while True:
        signal.pause()


def main(args: list[str]) -> None:
    exit_code = None
    after_ms = 0
    segv = False
    while args:
        option = args.pop(0)
        if option == "--show":
            what = args.pop(0)
            print(f"{what}={show(what)}", flush=True)
        elif option == "--ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif option == "--grandchild":
            child = os.fork()
            if child == 0:
                sleep_forever()
            print(f"grandchild={child}", flush=True)
        elif option == "--exit":
            exit_code = int(args.pop(0))
        elif option == "--after":
            after_ms = int(args.pop(0))
        elif option == "--segv":
            segv = True
        elif option == "--mark":
            args.pop(0)  # a word tests find leftovers by; nothing to do
        elif option == "--fail-while":
            if os.path.exists(args.pop(0)):
                sys.exit(1)
        else:
            sys.exit(f"misbehave: unknown option {option}")
    print("ready", flush=True)
    if segv:
        os.kill(os.getpid(), signal.SIGSEGV)
    if exit_code is not None:
        time.sleep(after_ms / 1000)
        sys.exit(exit_code)
    sleep_forever()


if __name__ == "__main__":
    main(sys.argv[1:] + os.environ.get("MISBEHAVE", "").split())
