"""Finding the site (SHOAL_HOME, the launcher's real path, the cwd) and its config lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shoal.config.properties import COMMAND_LINE, Origin
from shoal.config.site import MASTER_NODE, Site, find_site, load_master_config, load_node_config
from shoal.errors import SiteError


def make_site(root: Path) -> Path:
    """A minimal site on disk: bin/shoal (executable), etc/grid/, the two config files."""
    (root / "bin").mkdir(parents=True)
    (root / "etc" / "grid").mkdir(parents=True)
    launcher = root / "bin" / "shoal"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    (root / "etc" / "internal.cfg").write_text(
        "Ice.Default.Locator=IceGrid/Locator:tcp -h 127.0.0.1 -p 4061\nShared.k=internal\n"
    )
    (root / "etc" / "master.cfg").write_text(
        "IceGrid.Node.Name=master\nIceGrid.Node.Data=${SHOAL_HOME}/var/master\nShared.k=master\n"
    )
    return root


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


# ------------------------------------------------------------------------------ layout


def test_site_paths_follow_the_layout() -> None:
    site = Site(Path("/opt/shoal"))
    assert site.launcher == Path("/opt/shoal/bin/shoal")
    assert site.etc == Path("/opt/shoal/etc")
    assert site.grid_dir == Path("/opt/shoal/etc/grid")
    assert site.default_descriptor == Path("/opt/shoal/etc/grid/default.xml")
    assert site.templates_descriptor == Path("/opt/shoal/etc/grid/templates.xml")
    assert site.master_config == Path("/opt/shoal/etc/master.cfg")
    assert site.internal_config == Path("/opt/shoal/etc/internal.cfg")
    assert site.client_config == Path("/opt/shoal/etc/shoal.config")
    assert site.passwords == Path("/opt/shoal/etc/passwd")
    assert site.var == Path("/opt/shoal/var")
    assert site.log_dir == Path("/opt/shoal/var/log")
    assert site.registry_dir == Path("/opt/shoal/var/registry")
    assert site.node_config("node1") == Path("/opt/shoal/etc/node1.cfg")
    assert site.node_config(MASTER_NODE) == site.master_config
    assert site.node_data_dir("node1") == Path("/opt/shoal/var/node1")
    assert site.node_config_files("node1") == (site.internal_config, site.node_config("node1"))


def test_site_prefix_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Site(Path("relative"))


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "..\\x", "a\0b"])
def test_node_name_that_could_escape_etc_is_refused(name: str) -> None:
    with pytest.raises(SiteError, match="invalid node name"):
        Site(Path("/opt/shoal")).node_config(name)


# ------------------------------------------------------------------------------ find_site


def test_shoal_home_wins(site_root: Path, tmp_path: Path) -> None:
    elsewhere = make_site(tmp_path / "elsewhere")
    site = find_site(str(elsewhere / "bin" / "shoal"), {"SHOAL_HOME": str(site_root)}, tmp_path)
    assert site == Site(site_root)


def test_relative_shoal_home_is_taken_from_cwd(site_root: Path, tmp_path: Path) -> None:
    assert find_site("shoal", {"SHOAL_HOME": "site"}, tmp_path) == Site(site_root)


def test_shoal_home_without_etc_is_an_error_naming_its_value(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SiteError) as caught:
        find_site("shoal", {"SHOAL_HOME": str(tmp_path / "empty")}, tmp_path)
    assert f"SHOAL_HOME={tmp_path / 'empty'} is not a Shoal site" in str(caught.value)
    assert caught.value.hint


def test_launcher_in_site_bin_finds_its_site(site_root: Path, tmp_path: Path) -> None:
    assert find_site(str(site_root / "bin" / "shoal"), {}, tmp_path) == Site(site_root)


def test_relative_launcher_path_is_taken_from_cwd(site_root: Path, tmp_path: Path) -> None:
    assert find_site("./site/bin/shoal", {}, tmp_path) == Site(site_root)


def test_symlinked_launcher_resolves_to_the_real_site(site_root: Path, tmp_path: Path) -> None:
    init_d = tmp_path / "init.d"
    init_d.mkdir()
    (init_d / "shoal-admin").symlink_to(site_root / "bin" / "shoal")
    assert find_site(str(init_d / "shoal-admin"), {}, tmp_path / "init.d") == Site(site_root)


def test_launcher_found_on_path_is_resolved(site_root: Path, tmp_path: Path) -> None:
    path_dir = tmp_path / "usr" / "bin"
    path_dir.mkdir(parents=True)
    (path_dir / "shoal-admin").symlink_to(site_root / "bin" / "shoal")
    environ = {"PATH": os.pathsep.join([str(tmp_path / "nowhere"), str(path_dir)])}
    assert find_site("shoal-admin", environ, tmp_path) == Site(site_root)


def test_empty_path_entry_means_the_current_directory(site_root: Path) -> None:
    assert find_site("shoal", {"PATH": ""}, site_root / "bin") == Site(site_root)


def test_launcher_linked_from_another_bin_with_etc_prefers_the_real_site(
    site_root: Path, tmp_path: Path
) -> None:
    # /usr/local/bin/shoal -> SITE/bin/shoal, and /usr/local/etc exists (it usually does).
    usr_local = tmp_path / "usr" / "local"
    (usr_local / "bin").mkdir(parents=True)
    (usr_local / "etc").mkdir()
    (usr_local / "bin" / "shoal").symlink_to(site_root / "bin" / "shoal")
    assert find_site(str(usr_local / "bin" / "shoal"), {}, tmp_path) == Site(site_root)


def test_site_launcher_that_links_into_a_virtualenv_still_finds_the_site(tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "shoal").write_text("#!/bin/sh\n")
    root = tmp_path / "site"
    (root / "bin").mkdir(parents=True)
    (root / "etc" / "grid").mkdir(parents=True)
    (root / "bin" / "shoal").symlink_to("../../venv/bin/shoal")
    link = tmp_path / "shoal-admin"
    link.symlink_to(root / "bin" / "shoal")
    assert find_site(str(link), {}, tmp_path / "venv") == Site(root)


def test_launcher_prefix_is_used_when_the_launcher_was_copied(
    site_root: Path, tmp_path: Path
) -> None:
    copied = tmp_path / "init.d" / "shoal-admin"
    copied.parent.mkdir()
    copied.write_text("#!/bin/sh\n")
    assert find_site(str(copied), {}, tmp_path, launcher_prefix=site_root) == Site(site_root)


def test_current_directory_or_a_parent_with_etc_grid_is_the_site(site_root: Path) -> None:
    deep = site_root / "var" / "log"
    deep.mkdir(parents=True)
    assert find_site("python", {"PATH": ""}, deep) == Site(site_root)


def test_no_site_error_names_everything_it_tried(tmp_path: Path) -> None:
    launcher = tmp_path / "bin" / "shoal"
    launcher.parent.mkdir()
    launcher.write_text("")
    with pytest.raises(SiteError) as caught:
        find_site(str(launcher), {}, tmp_path, launcher_prefix=tmp_path / "gone")
    message = str(caught.value)
    assert "SHOAL_HOME is not set" in message
    assert f"launcher {launcher} (real path {launcher}) is not in a site's bin/" in message
    assert f"the launcher's site {tmp_path / 'gone'} has no etc/grid/" in message
    assert f"neither {tmp_path} nor any parent has etc/grid/" in message
    assert "shoal init DIR" in caught.value.hint and "SHOAL_HOME" in caught.value.hint


@pytest.mark.parametrize("argv0", ["", "no-such-shoal", "./no/such/shoal"])
def test_launcher_that_cannot_be_found_is_named(argv0: str, tmp_path: Path) -> None:
    with pytest.raises(SiteError, match=r"launcher '.*' was not found"):
        find_site(argv0, {"PATH": str(tmp_path)}, tmp_path)


# ------------------------------------------------------------------------------ config lists


def test_master_config_is_internal_then_master(site_root: Path) -> None:
    properties = load_master_config(Site(site_root), environ={})
    assert properties.get("Shared.k") == "master"
    assert properties.origin("Ice.Default.Locator") == Origin(
        str(site_root / "etc/internal.cfg"), 1
    )
    assert properties.get("IceGrid.Node.Data") == f"{site_root}/var/master"
    assert (
        properties.get("Ice.Config") == f"{site_root}/etc/internal.cfg,{site_root}/etc/master.cfg"
    )


def test_shoal_home_in_the_environment_is_not_replaced(site_root: Path) -> None:
    properties = load_master_config(Site(site_root), environ={"SHOAL_HOME": "/elsewhere"})
    assert properties.get("IceGrid.Node.Data") == "/elsewhere/var/master"


def test_node_config_overrides_win(site_root: Path) -> None:
    (site_root / "etc" / "node1.cfg").write_text("IceGrid.Node.Name=node1\n")
    properties = load_node_config(
        Site(site_root), "node1", ["--IceGrid.Node.Endpoints=tcp -p 4062"], environ={}
    )
    assert properties.get("IceGrid.Node.Name") == "node1"
    assert properties.get("Shared.k") == "internal"
    assert properties.origin("IceGrid.Node.Endpoints") is COMMAND_LINE


def test_missing_node_config_is_a_site_error_naming_the_file(site_root: Path) -> None:
    with pytest.raises(SiteError) as caught:
        load_node_config(Site(site_root), "node9", environ={})
    assert str(caught.value) == f"missing {site_root / 'etc' / 'node9.cfg'} (config of node node9)"
    assert "shoal init" in caught.value.hint


def test_loading_defaults_to_the_process_environment(
    site_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_HOME", raising=False)
    properties = load_master_config(Site(site_root))
    assert properties.get("IceGrid.Node.Data") == f"{site_root}/var/master"


def test_symlink_loop_does_not_hang_the_search(tmp_path: Path) -> None:
    from shoal.config.site import _link_chain

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert len(_link_chain(tmp_path / "a")) == 42
