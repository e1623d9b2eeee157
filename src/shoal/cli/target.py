"""Where the registry is, read from etc/internal.cfg without loading the admin client.

`admin start` needs the registry's address before it spawns the master (is something already
listening there?), and spawns it before it loads the client, so that both start at once.
`shoal.cli.client.RegistryTarget` builds on these for the channel itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shoal.config.endpoints import Endpoint
from shoal.config.properties import Properties, load_files
from shoal.config.site import Site
from shoal.errors import ConfigError, SiteError


def internal_properties(site: Site, environ: Mapping[str, str] | None = None) -> Properties:
    """etc/internal.cfg, as icegridadmin's `--Ice.Config=etc/internal.cfg`."""
    path = site.internal_config
    if not path.is_file():
        raise SiteError(
            f"missing {path}: the admin tools read the registry's address from it",
            hint=f"re-create the site's etc/ with `shoal init`, or copy internal.cfg into "
            f"{site.etc}",
        )
    environment = dict(os.environ if environ is None else environ)
    environment.setdefault("SHOAL_HOME", str(site.prefix))
    return load_files([path], environ=environment)


def locator_endpoint(properties: Properties, source: str) -> Endpoint:
    """The first endpoint of Ice.Default.Locator: the registry's client endpoint."""
    proxy = properties.get_proxy("Ice.Default.Locator")
    if proxy is None or not proxy.endpoints:
        raise ConfigError(
            "Ice.Default.Locator is not set (or has no endpoint)",
            file=source,
            hint="set it to the registry: IceGrid/Locator:tcp -h 127.0.0.1 -p 4061",
        )
    return proxy.endpoints[0]
