"""What a fresh interpreter has imported after some statements: how the node daemon's lean start
is checked (test_daemon_imports, test_held_preload)."""

from __future__ import annotations

import subprocess
import sys

#: What `python -m shoal.node` imports before it waits or serves (shoal/node/__main__.py).
DAEMON_CODE = (
    "from shoal.lean import import_asyncio_without_ssl",
    "import_asyncio_without_ssl()",
    "import shoal.node.daemon",
)


def modules_after(*statements: str) -> set[str]:
    """The names in sys.modules once `statements` have run in a new interpreter."""
    code = "; ".join([*statements, "import sys", "print('\\n'.join(sys.modules))"])
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(found.stdout.split())
