"""The site (SHOAL_HOME, "the prefix"): where its files live, how it is found, its config lists.

A site is a directory holding `etc/` (property files, `etc/grid/` descriptors) and `var/` (the
registry database, node data, logs). `find_site` looks, in order, at SHOAL_HOME, at the real
path of the launcher that was run (so `/etc/init.d/shoal-admin -> SITE/bin/shoal` works, as
OMERO's bin/omero does), then at the current directory and its parents.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shoal.config.properties import Properties, load_files
from shoal.errors import SiteError

__all__ = ["MASTER_NODE", "Site", "find_site", "load_master_config", "load_node_config"]

#: The node that hosts the registry, as OMERO names it.
MASTER_NODE = "master"

#: A node setting both the node and `admin start` read: an exit this soon after a server's
#: spawn is a failure during activation (node/restart.py), so `admin start` and `waitup`
#: watch each server that long before they call it up.
STARTUP_GRACE_PROPERTY = "shoal.node.startup_grace_ms"
DEFAULT_STARTUP_GRACE_MS = 250
_INIT_HINT = "create a site with `shoal init DIR`, or set SHOAL_HOME to one"
_MAX_LINK_HOPS = 40


@dataclass(frozen=True)
class Site:
    """A site's prefix (absolute) and the paths derived from it."""

    prefix: Path

    def __post_init__(self) -> None:
        if not self.prefix.is_absolute():
            raise ValueError(f"a site prefix must be absolute, not {self.prefix}")

    @property
    def launcher(self) -> Path:
        return self.prefix / "bin" / "shoal"

    @property
    def etc(self) -> Path:
        return self.prefix / "etc"

    @property
    def grid_dir(self) -> Path:
        return self.etc / "grid"

    @property
    def default_descriptor(self) -> Path:
        return self.grid_dir / "default.xml"

    @property
    def templates_descriptor(self) -> Path:
        return self.grid_dir / "templates.xml"

    @property
    def master_config(self) -> Path:
        return self.etc / "master.cfg"

    @property
    def internal_config(self) -> Path:
        return self.etc / "internal.cfg"

    @property
    def client_config(self) -> Path:
        """The client config (OMERO's ice.config): Ice.Default.Router and the like."""
        return self.etc / "shoal.config"

    @property
    def passwords(self) -> Path:
        return self.etc / "passwd"

    @property
    def var(self) -> Path:
        return self.prefix / "var"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def registry_dir(self) -> Path:
        return self.var / "registry"

    def node_config(self, node_name: str) -> Path:
        """etc/NAME.cfg (for the master node: etc/master.cfg)."""
        return self.etc / f"{_checked_node_name(node_name)}.cfg"

    def node_data_dir(self, node_name: str) -> Path:
        """var/NAME: the node's data (IceGrid.Node.Data's default)."""
        return self.var / _checked_node_name(node_name)

    def node_config_files(self, node_name: str) -> tuple[Path, ...]:
        """The config list IceGrid/OMERO gives a node: internal.cfg, then NAME.cfg."""
        return (self.internal_config, self.node_config(node_name))


def _checked_node_name(node_name: str) -> str:
    # The name becomes a file name under etc/ and var/: refuse anything that could escape them.
    if not node_name or node_name in (".", "..") or any(c in node_name for c in "/\\\0"):
        raise SiteError(
            f"invalid node name {node_name!r}",
            hint="a node name is a plain word such as node1 (no '/', not '.' or '..')",
        )
    return node_name


# --------------------------------------------------------------------------------- finding


def find_site(
    argv0: str,
    environ: Mapping[str, str],
    cwd: Path,
    *,
    launcher_prefix: Path | None = None,
) -> Site:
    """The site to use: SHOAL_HOME, else the launcher's site, else cwd's (or a parent's).

    `launcher_prefix` is the site a generated launcher script names (for a launcher copied,
    not linked, out of bin/); it is tried after the launcher's own location, before the cwd.
    """
    home = environ.get("SHOAL_HOME")
    if home:
        prefix = cwd / home
        if not (prefix / "etc").is_dir():
            raise SiteError(
                f"SHOAL_HOME={home} is not a Shoal site: {prefix / 'etc'} is not a directory",
                hint="point SHOAL_HOME at a site (made by `shoal init DIR`), or unset it",
            )
        return Site(Path(os.path.realpath(prefix)))

    launcher = _locate_launcher(argv0, environ, cwd)
    if launcher is not None:
        for candidate in _link_chain(launcher):
            if candidate.parent.name == "bin" and _is_site(candidate.parent.parent):
                return Site(Path(os.path.realpath(candidate.parent.parent)))

    if launcher_prefix is not None and _is_site(cwd / launcher_prefix):
        return Site(Path(os.path.realpath(cwd / launcher_prefix)))

    for directory in (cwd, *cwd.parents):
        if _is_site(directory):
            return Site(Path(os.path.realpath(directory)))

    launcher_tried = (
        f"launcher {launcher} (real path {os.path.realpath(launcher)}) is not in a site's bin/"
        if launcher is not None
        else f"launcher {argv0!r} was not found"
    )
    if launcher_prefix is not None:
        launcher_tried += f"; the launcher's site {launcher_prefix} has no etc/grid/"
    raise SiteError(
        f"no Shoal site found: SHOAL_HOME is not set; {launcher_tried}; "
        f"neither {cwd} nor any parent has etc/grid/",
        hint=_INIT_HINT,
    )


def _is_site(directory: Path) -> bool:
    # etc/grid/, not just etc/: a launcher in /usr/local/bin must not make /usr/local a site.
    return (directory / "etc" / "grid").is_dir()


def _locate_launcher(argv0: str, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """argv0 as a path: relative to cwd if it has a slash, else searched on PATH like a shell."""
    if not argv0:
        return None
    if "/" in argv0:
        path = cwd / argv0
        return path if path.exists() else None
    for directory in environ.get("PATH", "").split(os.pathsep):
        # An empty PATH entry means the current directory.
        candidate = cwd / (directory or ".") / argv0
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _link_chain(path: Path) -> list[Path]:
    """The real path first, then each symlink hop back to `path` itself.

    The real path comes first (DESIGN: symlinks followed); the hops cover a site whose
    bin/shoal is itself a symlink into a virtualenv.
    """
    hops = [path]
    current = path
    for _ in range(_MAX_LINK_HOPS):
        if not current.is_symlink():
            break
        current = current.parent / os.readlink(current)
        hops.append(current)
    return [Path(os.path.realpath(path)), *reversed(hops)]


# --------------------------------------------------------------------------------- config lists


def _load(
    site: Site,
    files: Sequence[Path],
    overrides: Sequence[str],
    environ: Mapping[str, str] | None,
    what: str,
) -> Properties:
    for path in files:
        if not path.is_file():
            raise SiteError(
                f"missing {path} ({what})",
                hint=f"create it, or re-create the site's etc/ with `shoal init {site.prefix}`",
            )
    environment = dict(os.environ if environ is None else environ)
    # Files may say ${SHOAL_HOME} even when the site was found through the launcher.
    environment.setdefault("SHOAL_HOME", str(site.prefix))
    return load_files(files, overrides, environ=environment)


def load_node_config(
    site: Site,
    node_name: str,
    overrides: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> Properties:
    """A node's properties: etc/internal.cfg, etc/NAME.cfg, then `--Key=Value` overrides."""
    return _load(
        site, site.node_config_files(node_name), overrides, environ, f"config of node {node_name}"
    )


def load_master_config(
    site: Site,
    overrides: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> Properties:
    """The master node's (and registry's) properties: etc/internal.cfg, etc/master.cfg."""
    return load_node_config(site, MASTER_NODE, overrides, environ=environ)
