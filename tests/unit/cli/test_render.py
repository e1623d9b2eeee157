"""`admin check` and `admin diff` output: what a reader needs, one line each, written at once."""

from __future__ import annotations

import io
import textwrap
import time
from pathlib import Path

from shoal.cli.render import diff_lines, print_application, print_diff
from shoal.descriptor.diff import diff_applications
from shoal.descriptor.expand import expand
from shoal.descriptor.model import Application
from shoal.descriptor.parser import parse_string

APP = """
<icegrid>
  <application name="App">
    <properties id="Base"><property name="Ice.MessageSizeMax" value="1024"/></properties>
    <node name="n1">
      <server id="S" exe="python" activation="always" activation-timeout="60"
              deactivation-timeout="30">
        <description>The main
          server</description>
        <adapter name="A" endpoints="tcp" register-process="true" server-lifetime="false"/>
        <properties>
          <properties refid="Base"/>
          <property name="Ice.MessageSizeMax" value="65536"/>
        </properties>
        <distrib><directory>lib</directory></distrib>
      </server>
      <icebox id="Box" exe="icebox">
        <service name="Hello" entry="hello:create">
          <adapter name="HelloAdapter" endpoints="tcp"/>
          <property name="greeting" value="hi"/>
        </service>
      </icebox>
    </node>
    <replica-group id="G">
      <load-balancing type="adaptive" load-sample="5" n-replicas="2"/>
      <object identity="Hello" type="::Demo::Hello"/>
    </replica-group>
  </application>
</icegrid>
"""


def application(text: str = APP) -> Application:
    return expand(parse_string(textwrap.dedent(text).lstrip()))


def check_output(app: Application) -> list[str]:
    out = io.StringIO()
    print_application(app, Path("app.xml"), out)
    return out.getvalue().splitlines()


def test_check_shows_timeouts_description_adapter_flags_and_distrib() -> None:
    lines = check_output(application())
    assert "  S  activation=always" in lines
    assert "    description The main server" in lines
    assert "    timeouts    activation=60s deactivation=30s" in lines
    assert (
        '    adapter     A id=S.A endpoints="tcp", register-process, server-lifetime=false' in lines
    )
    assert "    distrib     icepatch=App.IcePatch2/server directories: lib" in lines


def test_check_marks_overridden_properties_instead_of_hiding_them() -> None:
    lines = check_output(application())
    assert "    property    Ice.MessageSizeMax=65536 (overrides 1024)" in lines


def test_check_lists_generated_properties_after_the_users_tagged() -> None:
    lines = check_output(application())
    server = lines[lines.index("  S  activation=always") :]
    own = server.index("    property    Ice.MessageSizeMax=65536 (overrides 1024)")
    generated = server.index("    property    A.AdapterId=S.A (from adapter A)")
    assert own < generated
    assert "    property    A.Endpoints=tcp (from adapter A)" in server


def test_check_shows_icebox_services_with_their_adapters_and_properties() -> None:
    lines = check_output(application())
    assert "    service     Hello entry=hello:create" in lines
    assert '      adapter     HelloAdapter id=Box.Hello.HelloAdapter endpoints="tcp"' in lines
    assert "      property    greeting=hi" in lines


def test_check_shows_replica_groups_with_objects_and_load_sample() -> None:
    lines = check_output(application())
    assert "replica-group G: adaptive, n-replicas=2, load-sample=5" in lines
    assert "  object Hello (::Demo::Hello)" in lines
    assert lines[-1] == "descriptor OK"


def test_check_output_is_plain_when_not_a_terminal() -> None:
    assert "\x1b[" not in "\n".join(check_output(application()))


def test_check_prints_a_large_site_quickly() -> None:
    """One write for the whole output: rich's per-line print took seconds here."""
    servers = "".join(
        f'<server id="S{i}" exe="python"><property name="p" value="{i}"/>'
        f'<adapter name="A" endpoints="tcp"/></server>'
        for i in range(2000)
    )
    app = application(
        f'<icegrid><application name="A"><node name="n">{servers}</node></application></icegrid>'
    )
    started = time.perf_counter()
    lines = check_output(app)
    assert time.perf_counter() - started < 1
    assert len(lines) > 2000 * 4


# --------------------------------------------------------------------------- diff


def diff_output(old: Application, new: Application) -> list[str]:
    return diff_lines(diff_applications(old, new), old, new, Path("old.xml"), Path("new.xml"))


def test_diff_header_names_both_files_and_targets() -> None:
    app = application()
    assert diff_output(app, app)[0] == (
        "diff old.xml (application App, targets: none) -> new.xml (application App, targets: none)"
    )


def test_diff_names_each_changed_property_with_old_and_new_values() -> None:
    old = application()
    new = application(
        APP.replace('value="65536"', 'value="131072"')
        .replace('<property name="greeting" value="hi"/>', "")
        .replace(
            "</properties>\n        <distrib>",
            '<property name="x" value="1"/></properties>\n        <distrib>',
        )
    )
    lines = diff_output(old, new)
    assert "  restarted  S (properties)" in lines
    assert "      Ice.MessageSizeMax: 65536 -> 131072" in lines
    assert "      + x=1" in lines
    assert "  restarted  Box (services)" in lines


def test_diff_says_where_a_server_moved_and_what_else_changed() -> None:
    old = application()
    new = application(
        APP.replace('<node name="n1">', '<node name="n2">')
        .replace('load-sample="5"', 'load-sample="15"')
        .replace('activation="always"', 'activation="manual"')
    )
    lines = diff_output(old, new)
    assert "      node: n1 -> n2" in lines
    assert "      activation: always -> manual" in lines
    assert "  changed    replica-group G: load-sample: 5 -> 15" in lines
    assert "  removed    node n1" in lines
    assert "  added      node n2" in lines


def test_diff_reports_added_and_removed_replica_groups() -> None:
    old = application()
    new = application(APP.replace('id="G"', 'id="H"'))
    lines = diff_output(old, new)
    assert "  removed    replica-group G" in lines
    assert "  added      replica-group H" in lines


def test_print_diff_writes_the_lines() -> None:
    app = application()
    out = io.StringIO()
    print_diff(diff_applications(app, app), app, app, Path("a.xml"), Path("b.xml"), out)
    assert "0 added, 0 removed, 0 restarted, 2 unchanged" in out.getvalue()
