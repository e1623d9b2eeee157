"""The master starts lean: its code (the node daemon and the collocated registry) loads no XML
engine before a first deploy or recovery needs one, no gRPC and no OpenSSL."""

from __future__ import annotations

import subprocess
import sys

#: What `python -m shoal.node` imports before it serves (shoal/node/__main__.py), and what the
#: master then imports to run its registry (shoal.node.daemon's `_start_registry`).
MASTER_CODE = (
    "from shoal.lean import import_asyncio_without_ssl",
    "import_asyncio_without_ssl()",
    "import shoal.node.daemon",
    "import shoal.registry.service",
)


def modules_after(*statements: str) -> set[str]:
    code = "; ".join([*statements, "import sys", "print('\\n'.join(sys.modules))"])
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(found.stdout.split())


def test_the_master_loads_the_descriptor_parser_only_when_it_deploys() -> None:
    # lxml and the parser (~15 ms) wait for the first deploy (registry.deploy imports them
    # there): a master restarted with nothing deployed never loads them.
    loaded = modules_after(*MASTER_CODE)
    parsing = ("lxml", "shoal.descriptor.parser", "shoal.descriptor.writer")
    assert sorted(m for m in loaded if m.startswith(parsing)) == []


def test_the_master_loads_neither_grpc_nor_openssl_nor_the_cli() -> None:
    loaded = modules_after(*MASTER_CODE)
    assert sorted(m for m in loaded if m.startswith(("grpc", "ssl", "_ssl", "shoal.cli"))) == []
