"""The registry's frozen configuration, read once from master.cfg + internal.cfg properties."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from shoal.config.endpoints import Endpoint
from shoal.config.properties import Properties
from shoal.config.site import Site
from shoal.errors import ConfigError
from shoal.rpc.tls import TlsConfig

__all__ = [
    "DEFAULT_CLIENT_ENDPOINTS",
    "DEFAULT_INTERNAL_ENDPOINTS",
    "DEFAULT_SESSION_TIMEOUT",
    "REPLICA_NAME",
    "RegistrySettings",
]

DEFAULT_CLIENT_ENDPOINTS = "tcp -h 127.0.0.1 -p 4061"
DEFAULT_INTERNAL_ENDPOINTS = "tcp -h 127.0.0.1"
#: IceGrid.Registry.NodeSessionTimeout when unset, seconds (IceGrid's default).
DEFAULT_SESSION_TIMEOUT = 30
#: Shoal has one registry, named as IceGrid's master.
REPLICA_NAME = "Master"


@dataclass(frozen=True)
class RegistrySettings:
    """Everything the registry reads from its properties, checked at start."""

    prefix: Path
    data_dir: Path
    client_endpoints: tuple[Endpoint, ...]
    internal_endpoints: tuple[Endpoint, ...]
    session_timeout: int
    dynamic_registration: bool
    max_message_bytes: int
    tls: TlsConfig | None
    instance_name: str = "IceGrid"
    # The node running in the registry's own process (IceGrid.Node.CollocateRegistry=1): it may
    # register before any descriptor names it, since `shoal admin start` deploys after it is up.
    collocated_node: str | None = None
    reserved_variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def keepalive_seconds(self) -> int:
        """How often nodes must call Keepalive: half the timeout, as IceGrid nodes do."""
        return max(1, self.session_timeout // 2)

    @classmethod
    def from_properties(cls, site: Site, properties: Properties) -> RegistrySettings:
        timeout = properties.get_int("IceGrid.Registry.NodeSessionTimeout", DEFAULT_SESSION_TIMEOUT)
        if timeout < 1:
            entry = properties.entry("IceGrid.Registry.NodeSessionTimeout")
            where = entry.origin if entry is not None else None
            raise ConfigError(
                f"the node session timeout must be at least 1 second, not {timeout}",
                file=where.file if where else None,
                line=where.line if where else None,
                key="IceGrid.Registry.NodeSessionTimeout",
            )
        collocated = None
        if properties.get_bool("IceGrid.Node.CollocateRegistry"):
            collocated = properties.get("IceGrid.Node.Name") or None
        return cls(
            prefix=site.prefix,
            data_dir=properties.get_path("IceGrid.Registry.Data", site.prefix, "var/registry"),
            client_endpoints=properties.get_endpoints(
                "IceGrid.Registry.Client.Endpoints", DEFAULT_CLIENT_ENDPOINTS, for_server=True
            ),
            internal_endpoints=properties.get_endpoints(
                "IceGrid.Registry.Internal.Endpoints", DEFAULT_INTERNAL_ENDPOINTS, for_server=True
            ),
            session_timeout=timeout,
            dynamic_registration=properties.get_bool("IceGrid.Registry.DynamicRegistration"),
            max_message_bytes=properties.get_size_kb("Ice.MessageSizeMax"),
            tls=TlsConfig.from_properties(properties.as_dict()),
            instance_name=properties.get("IceGrid.InstanceName", "IceGrid"),
            collocated_node=collocated,
            reserved_variables=MappingProxyType(
                {"SHOAL_HOME": str(site.prefix), "PYTHON": sys.executable}
            ),
        )
