"""`shoal admin`: the operator's command group; each command lives in its own module, imported
only when it runs (shoal.cli.lazy), so `admin status` does not load the descriptor engine."""

from __future__ import annotations

from shoal.cli.lazy import LazyCommand, LazyGroup

#: name -> where the command is, and the summary `shoal admin --help` shows (its docstring's).
COMMANDS = {
    "check": LazyCommand(
        "shoal.cli.check:check",
        "Validate a descriptor and print, per node, the servers it expands to.",
    ),
    "deploy": LazyCommand(
        "shoal.cli.deploy:deploy",
        "Deploy a descriptor to the running grid: only servers whose description changed restart.",
    ),
    "diagnostics": LazyCommand(
        "shoal.cli.diagnostics:diagnostics",
        "Report versions, config files, endpoints, nodes, servers, logs and warnings.",
    ),
    "diff": LazyCommand(
        "shoal.cli.check:diff",
        "Show what deploying NEW over OLD would add, remove, restart and leave running.",
    ),
    "ice": LazyCommand(
        "shoal.cli.console:ice",
        "icegridadmin's console: `shoal admin ice server list`, or no words for a prompt.",
    ),
    "restart": LazyCommand(
        "shoal.cli.start:restart", "Stop the grid (waiting until it is down), then start it."
    ),
    "start": LazyCommand(
        "shoal.cli.start:start",
        "Start the grid: the master node (with the registry), deploy, wait for `always` servers.",
    ),
    "status": LazyCommand(
        "shoal.cli.status:status",
        "Show the registry, nodes and servers; exit 0 if the registry answers and master is up.",
    ),
    "stop": LazyCommand(
        "shoal.cli.stop:stop",
        "Stop every server and node of the grid, then the master; wait until it has exited.",
    ),
    "waitdown": LazyCommand(
        "shoal.cli.stop:waitdown", "Wait until the master node (and so the registry) has exited."
    ),
    "waitup": LazyCommand(
        "shoal.cli.status:waitup",
        "Wait until the registry answers and every `always` server on an up node is active.",
    ),
}

admin = LazyGroup(
    "admin",
    lazy=COMMANDS,
    help="Administer the grid: start, deploy, stop, status, diagnostics, the ice console.",
)
