"""A new user's first steps, as real processes: init a site, check and diff its descriptors.

Each test runs the launcher `shoal init` wrote (or a symlink or copy of it) in a subprocess,
with a clean environment, and reads what it prints and its exit code.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEED_NODES = """
    <node name="node1">
      <server-instance template="ProcessorTemplate" index="1"/>
    </node>

    <node name="node2">
      <server-instance template="ProcessorTemplate" index="2"/>
    </node>
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}
    env.update(extra)
    return env


def run(
    command: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    prefix = tmp_path / "site"
    done = run([sys.executable, "-m", "shoal", "init", prefix], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return prefix


def add_seed_nodes(descriptor: Path) -> None:
    text = descriptor.read_text()
    master = text.index('<node name="master">')
    master_end = text.index("</node>", master) + len("</node>")
    descriptor.write_text(text[:master_end] + SEED_NODES + text[master_end:])


def servers_by_node(output: str) -> dict[str, list[str]]:
    """Parse `admin check` output into {node: [server ids]}."""
    nodes: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if match := re.match(r"node (\S+) \(", line):
            current = match.group(1)
            nodes[current] = []
        elif current and (match := re.match(r"  (\S+)  activation=", line)):
            nodes[current].append(match.group(1))
    return nodes


def test_init_creates_the_files_of_a_site(site: Path) -> None:
    for name in [
        "bin/shoal",
        "etc/grid/default.xml",
        "etc/grid/templates.xml",
        "etc/master.cfg",
        "etc/internal.cfg",
        "etc/node1.cfg",
        "etc/shoal.config",
    ]:
        assert (site / name).is_file(), name
    assert os.access(site / "bin/shoal", os.X_OK)
    assert (site / "var/log").is_dir()


def test_init_refuses_a_directory_that_is_not_empty(site: Path) -> None:
    done = run([sys.executable, "-m", "shoal", "init", site], cwd=site.parent)
    assert done.returncode == 1
    assert "not empty" in done.stderr
    assert "Traceback" not in done.stderr


def test_launcher_checks_the_default_descriptor_from_anywhere(site: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run([site / "bin/shoal", "admin", "check"], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert servers_by_node(done.stdout) == {"master": ["Processor-0"]}
    assert "descriptor OK" in done.stdout


def test_symlink_named_shoal_admin_runs_admin_commands_of_its_site(
    site: Path, tmp_path: Path
) -> None:
    links = tmp_path / "usr-local-bin"
    links.mkdir()
    (links / "shoal-admin").symlink_to(site / "bin/shoal")
    done = run(["shoal-admin", "check"], cwd=tmp_path, env=clean_env(PATH=f"{links}:/usr/bin:/bin"))
    assert done.returncode == 0, done.stderr
    assert str(site / "etc/grid/default.xml") in done.stdout


def test_copied_launcher_remembers_its_site(site: Path, tmp_path: Path) -> None:
    initd = tmp_path / "init.d"
    initd.mkdir()
    shutil.copy(site / "bin/shoal", initd / "shoal-admin")
    done = run([initd / "shoal-admin", "check"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "master" in servers_by_node(done.stdout)


def test_shoal_home_wins_over_the_launcher_location(site: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert run([sys.executable, "-m", "shoal", "init", other], cwd=tmp_path).returncode == 0
    add_seed_nodes(other / "etc/grid/default.xml")
    done = run(
        [site / "bin/shoal", "admin", "check"], cwd=tmp_path, env=clean_env(SHOAL_HOME=str(other))
    )
    assert done.returncode == 0, done.stderr
    assert "node1" in servers_by_node(done.stdout)


def test_seed_snippet_puts_one_processor_on_each_new_node(site: Path) -> None:
    add_seed_nodes(site / "etc/grid/default.xml")
    done = run([site / "bin/shoal", "admin", "check"], cwd=site)
    assert done.returncode == 0, done.stderr
    assert servers_by_node(done.stdout) == {
        "master": ["Processor-0"],
        "node1": ["Processor-1"],
        "node2": ["Processor-2"],
    }


def test_debug_target_adds_its_options_only_when_named(site: Path) -> None:
    descriptor = site / "etc/grid/default.xml"
    add_seed_nodes(descriptor)
    plain = run([site / "bin/shoal", "admin", "check", descriptor], cwd=site)
    debug = run([site / "bin/shoal", "admin", "check", descriptor, "debug"], cwd=site)
    assert plain.returncode == debug.returncode == 0, plain.stderr + debug.stderr
    assert "options     -m shoal.jobs.processor" in plain.stdout
    assert "-X dev" not in plain.stdout
    assert "options     -X dev -m shoal.jobs.processor" in debug.stdout
    assert "targets: debug" in debug.stdout
    # The debug target inside the PythonServer property set raises the log level.
    assert "property    shoal.logging.level=20" in plain.stdout
    assert "property    shoal.logging.level=10" in debug.stdout
    assert "shoal.logging.level=20" not in debug.stdout


def test_diff_reports_the_one_server_whose_property_changed(site: Path, tmp_path: Path) -> None:
    old = site / "etc/grid/default.xml"
    add_seed_nodes(old)
    text = old.read_text().replace(
        '<server-instance template="ProcessorTemplate" index="2"/>',
        '<server-instance template="ProcessorTemplate" index="2">'
        '<properties><property name="shoal.extra" value="1"/></properties>'
        "</server-instance>",
    )
    new = site / "etc/grid/new.xml"  # beside default.xml so its include resolves
    new.write_text(text)
    done = run([site / "bin/shoal", "admin", "diff", old, new], cwd=site)
    assert done.returncode == 0, done.stderr
    assert "0 added, 0 removed, 1 restarted, 2 unchanged" in done.stdout
    assert re.search(r"restarted\s+Processor-2 \(properties\)", done.stdout)
    assert re.search(r"unchanged\s+Processor-1", done.stdout)


def test_invalid_descriptor_fails_with_file_and_line(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        "<icegrid>\n"
        '  <application name="A">\n'
        '    <node name="n">\n'
        '      <server id="s" exe="sleep" colour="blue"/>\n'
        "    </node>\n"
        "  </application>\n"
        "</icegrid>\n"
    )
    done = run([site / "bin/shoal", "admin", "check", bad], cwd=tmp_path)
    assert done.returncode == 3
    assert f"{bad}:4:" in done.stderr
    assert "colour" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_a_site_the_error_names_what_was_tried(tmp_path: Path) -> None:
    done = run([sys.executable, "-m", "shoal", "admin", "check"], cwd=tmp_path)
    assert done.returncode != 0
    assert "SHOAL_HOME" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2


def test_readme_diff_example_works_and_names_the_changed_property(site: Path) -> None:
    """README: copy default.xml inside etc/grid/, change a property, diff the two files."""
    add_seed_nodes(site / "etc/grid/default.xml")
    new = site / "etc/grid/new.xml"
    shutil.copy(site / "etc/grid/default.xml", new)
    new.write_text(
        new.read_text().replace(
            '<server-instance template="ProcessorTemplate" index="1"/>',
            '<server-instance template="ProcessorTemplate" index="1">'
            '<properties><property name="Ice.MessageSizeMax" value="1024"/></properties>'
            "</server-instance>",
        )
    )
    done = run(
        [site / "bin/shoal", "admin", "diff", "etc/grid/default.xml", "etc/grid/new.xml"], cwd=site
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("diff etc/grid/default.xml (application Shoal, targets: none)")
    assert "      Ice.MessageSizeMax: 65536 -> 1024" in done.stdout


def test_a_copy_outside_etc_grid_says_includes_are_relative(site: Path, tmp_path: Path) -> None:
    shutil.copy(site / "etc/grid/default.xml", tmp_path / "new.xml")
    done = run([site / "bin/shoal", "admin", "check", tmp_path / "new.xml"], cwd=site)
    assert done.returncode == 3
    assert "(an include is relative to the including file)" in done.stderr
    assert "nothing was deployed" not in done.stderr


def test_a_mistyped_descriptor_is_an_error_not_a_target(site: Path) -> None:
    done = run([site / "bin/shoal", "admin", "check", "etc/grid/my-site.xlm"], cwd=site)
    assert done.returncode == 1
    assert done.stderr.startswith("shoal: descriptor etc/grid/my-site.xlm does not exist")
    assert "descriptor OK" not in done.stdout


def _recorded_shoal_path(launcher: Path) -> str:
    found = re.search(r"^sys\.path\.append\((.+)\)$", launcher.read_text(), re.MULTILINE)
    assert found is not None, launcher.read_text()
    return str(ast.literal_eval(found.group(1)))  # the path's repr(), as shoal init wrote it


def test_a_launcher_whose_shoal_moved_finds_it_the_usual_way(site: Path, tmp_path: Path) -> None:
    launcher = site / "bin" / "shoal"
    recorded = _recorded_shoal_path(launcher)
    launcher.write_text(launcher.read_text().replace(repr(recorded), repr(str(tmp_path / "gone"))))

    done = run([launcher, "admin", "check"], cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_the_launcher_takes_only_shoal_from_its_directory(site: Path, tmp_path: Path) -> None:
    # Beside Shoal in a site-packages directory: a `click` that must not be the one loaded.
    packages = tmp_path / "packages"
    (packages / "click").mkdir(parents=True)
    (packages / "click" / "__init__.py").write_text("raise ImportError('the wrong click')\n")
    (packages / "shoal").symlink_to(Path(_recorded_shoal_path(site / "bin" / "shoal")) / "shoal")
    launcher = site / "bin" / "shoal"
    recorded = _recorded_shoal_path(launcher)
    launcher.write_text(launcher.read_text().replace(repr(recorded), repr(str(packages))))

    done = run([launcher, "admin", "check"], cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "the wrong click" not in done.stderr
