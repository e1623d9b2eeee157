"""The master starts lean: its code (the node daemon and the collocated registry) loads no XML
engine before a first deploy or recovery needs one, no gRPC and no OpenSSL."""

from __future__ import annotations

from daemon_imports import DAEMON_CODE, modules_after

#: The daemon's start, then what the master imports to run its registry (shoal.node.daemon's
#: `_start_registry`).
MASTER_CODE = (*DAEMON_CODE, "import shoal.registry.service")


def test_the_master_loads_the_descriptor_parser_only_when_it_deploys() -> None:
    # lxml and the parser (~15 ms) wait for the first deploy (registry.deploy imports them
    # there): a master restarted with nothing deployed never loads them.
    loaded = modules_after(*MASTER_CODE)
    parsing = ("lxml", "shoal.descriptor.parser", "shoal.descriptor.writer")
    assert sorted(m for m in loaded if m.startswith(parsing)) == []


def test_the_master_loads_neither_grpc_nor_openssl_nor_the_cli() -> None:
    loaded = modules_after(*MASTER_CODE)
    assert sorted(m for m in loaded if m.startswith(("grpc", "ssl", "_ssl", "shoal.cli"))) == []
