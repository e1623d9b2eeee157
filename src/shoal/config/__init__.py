"""Ice-style properties, the site (prefix), endpoint and proxy strings.

properties      property files, `--Key=Value` overrides, typed getters (errors name file:line:key)
property_names  the table of known property names; unknown_properties / ignored_properties
endpoints       the one parser of Ice endpoint and proxy strings
site            the site layout, find_site, the config lists of the master and other nodes
"""

from shoal.config.endpoints import (
    Endpoint,
    EndpointParseError,
    Identity,
    Proxy,
    ProxyParseError,
    parse_endpoints,
    parse_proxy,
    resolve_endpoint,
    resolve_proxy,
)
from shoal.config.properties import (
    COMMAND_LINE,
    Origin,
    Properties,
    Property,
    load_file,
    load_files,
    parse_command_line,
)
from shoal.config.property_names import ignored_properties, unknown_properties
from shoal.config.site import Site, find_site, load_master_config, load_node_config

__all__ = [
    "COMMAND_LINE",
    "Endpoint",
    "EndpointParseError",
    "Identity",
    "Origin",
    "Properties",
    "Property",
    "Proxy",
    "ProxyParseError",
    "Site",
    "find_site",
    "ignored_properties",
    "load_file",
    "load_files",
    "load_master_config",
    "load_node_config",
    "parse_command_line",
    "parse_endpoints",
    "parse_proxy",
    "resolve_endpoint",
    "resolve_proxy",
    "unknown_properties",
]
