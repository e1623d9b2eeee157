"""`<include>` splices other files in; `<target>` sections count only when a target names them."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from shoal.descriptor.model import Location, Property, ServerDescriptor
from shoal.descriptor.parser import parse_file, parse_string
from shoal.errors import DescriptorError


def write(path: Path, xml: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(xml).lstrip())
    return path


def problems_of(path: Path, targets: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        parse_file(path, targets)
    return [str(problem) for problem in caught.value.problems]


TEMPLATES = """
<icegrid>
  <properties id="Basics"><property name="Ice.MessageSizeMax" value="65536"/></properties>
  <server-template id="ProcessorTemplate">
    <parameter name="index"/>
    <server id="Processor-${index}" exe="python"/>
  </server-template>
</icegrid>
"""


# --------------------------------------------------------------------------- includes


def test_include_is_relative_to_the_including_file_and_spliced_in_place(tmp_path: Path) -> None:
    write(tmp_path / "grid" / "templates.xml", TEMPLATES)
    main = write(
        tmp_path / "grid" / "main.xml",
        """
        <icegrid>
          <application name="App">
            <include file="templates.xml"/>
            <node name="node1"><server-instance template="ProcessorTemplate" index="1"/></node>
          </application>
        </icegrid>
        """,
    )
    app = parse_file(main)
    assert list(app.server_templates) == ["ProcessorTemplate"]
    assert app.property_sets["Basics"].properties == (Property("Ice.MessageSizeMax", "65536"),)
    template = app.server_templates["ProcessorTemplate"]
    assert template.source == Location(str(tmp_path / "grid" / "templates.xml"), 3)


def test_include_paths_are_shown_relative_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "grid" / "templates.xml", TEMPLATES)
    write(
        tmp_path / "grid" / "main.xml",
        '<icegrid><application name="A"><include file="templates.xml"/></application></icegrid>',
    )
    monkeypatch.chdir(tmp_path)
    app = parse_file("grid/main.xml")
    assert app.server_templates["ProcessorTemplate"].source == Location("grid/templates.xml", 3)


def test_nested_includes_resolve_relative_to_each_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "deeper" / "templates.xml", TEMPLATES)
    write(
        tmp_path / "sub" / "middle.xml",
        '<icegrid><include file="deeper/templates.xml"/><variable name="v" value="1"/></icegrid>',
    )
    main = write(
        tmp_path / "main.xml",
        '<icegrid><application name="A"><include file="sub/middle.xml"/></application></icegrid>',
    )
    app = parse_file(main)
    assert "ProcessorTemplate" in app.server_templates
    assert dict(app.variables) == {"v": "1"}


def test_include_at_the_top_level_may_bring_the_application(tmp_path: Path) -> None:
    write(tmp_path / "app.xml", '<icegrid>\n<application name="Included"/>\n</icegrid>')
    main = write(tmp_path / "main.xml", '<icegrid><include file="app.xml"/></icegrid>')
    app = parse_file(main)
    assert app.name == "Included"
    assert app.source == Location(str(tmp_path / "app.xml"), 2)


def test_include_with_an_absolute_path(tmp_path: Path) -> None:
    templates = write(tmp_path / "elsewhere" / "t.xml", TEMPLATES)
    main = write(
        tmp_path / "main.xml",
        f'<icegrid><application name="A"><include file="{templates}"/></application></icegrid>',
    )
    assert "ProcessorTemplate" in parse_file(main).server_templates


def test_parse_string_resolves_includes_from_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "templates.xml", TEMPLATES)
    text = '<icegrid><application name="A"><include file="templates.xml"/></application></icegrid>'
    app = parse_string(text, base_dir=tmp_path)
    assert "ProcessorTemplate" in app.server_templates


def test_parse_string_resolves_includes_from_the_named_files_directory(tmp_path: Path) -> None:
    write(tmp_path / "templates.xml", TEMPLATES)
    text = '<icegrid><application name="A"><include file="templates.xml"/></application></icegrid>'
    app = parse_string(text, file=str(tmp_path / "main.xml"))
    assert "ProcessorTemplate" in app.server_templates


def test_parse_string_resolves_includes_from_the_working_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "templates.xml", TEMPLATES)
    monkeypatch.chdir(tmp_path)
    text = '<icegrid><application name="A"><include file="templates.xml"/></application></icegrid>'
    assert "ProcessorTemplate" in parse_string(text).server_templates


def test_missing_include_is_reported_at_the_including_line(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.xml",
        '<icegrid>\n<application name="A">\n<include file="nope.xml"/>\n</application>\n</icegrid>',
    )
    assert problems_of(main) == [
        f"{main}:3: included file `{tmp_path / 'nope.xml'}' does not exist "
        "(an include is relative to the including file)"
    ]


def test_include_without_a_file_is_reported(tmp_path: Path) -> None:
    main = write(tmp_path / "main.xml", '<icegrid>\n<include targets="x"/>\n</icegrid>')
    assert problems_of(main) == [
        f"{main}:1: no <application> element in this descriptor",
        f"{main}:2: missing attribute 'file' in <include>",
    ]


def test_include_takes_no_children(tmp_path: Path) -> None:
    write(tmp_path / "t.xml", TEMPLATES)
    main = write(
        tmp_path / "main.xml",
        '<icegrid>\n<application name="A">\n<include file="t.xml"><!-- c -->\n<node name="n"/>\n'
        "</include>\n</application>\n</icegrid>",
    )
    assert problems_of(main) == [f"{main}:4: the <include> element takes no children"]


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    main = write(
        tmp_path / "a.xml",
        '<icegrid>\n<application name="A">\n<include file="b.xml"/>\n</application>\n</icegrid>',
    )
    b = write(tmp_path / "b.xml", '<icegrid>\n\n<include file="a.xml"/>\n</icegrid>')
    assert problems_of(main) == [f"{b}:3: include cycle: '{main}' is already being included"]


def test_a_file_including_itself_is_a_cycle(tmp_path: Path) -> None:
    main = write(
        tmp_path / "a.xml",
        '<icegrid>\n<application name="A">\n<include file="a.xml"/>\n</application>\n</icegrid>',
    )
    assert problems_of(main) == [f"{main}:3: include cycle: '{main}' is already being included"]


def test_the_same_file_may_be_included_twice_without_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "vars.xml", '<icegrid><variable name="v"/></icegrid>')
    main = write(
        tmp_path / "a.xml",
        '<icegrid><application name="A"><include file="vars.xml"/>'
        '<node name="n"><include file="vars.xml"/></node></application></icegrid>',
    )
    app = parse_file(main)
    assert dict(app.variables) == {"v": ""}
    assert dict(app.nodes["n"].variables) == {"v": ""}


def test_an_include_fan_out_stops_at_a_thousand_reads(tmp_path: Path) -> None:
    """No cycle, but five levels of files each including the next ten times is 10**5 reads."""
    for level in range(5):
        includes = f'<include file="l{level + 1}.xml"/>' * 10
        write(tmp_path / f"l{level}.xml", f"<icegrid>{includes}</icegrid>")
    write(tmp_path / "l5.xml", "<icegrid/>")
    main = write(
        tmp_path / "a.xml",
        '<icegrid>\n<application name="A">\n<include file="l0.xml"/>\n</application>\n</icegrid>',
    )
    started = time.perf_counter()
    found = problems_of(main)
    assert found == [f"{tmp_path / 'l4.xml'}:1: more than 1000 <include>s in one descriptor"]
    assert time.perf_counter() - started < 5


def test_problems_inside_an_included_file_carry_its_name_and_line(tmp_path: Path) -> None:
    included = write(
        tmp_path / "t.xml",
        '<icegrid>\n\n<server-template id="T">\n<server id="S"/>\n</server-template>\n</icegrid>',
    )
    main = write(
        tmp_path / "main.xml",
        '<icegrid>\n<application name="A">\n<node/>\n<include file="t.xml"/>\n'
        "</application>\n</icegrid>",
    )
    assert problems_of(main) == [
        f"{main}:3: missing attribute 'name' in <node>",
        f"{included}:4: missing attribute 'exe' in <server>",
    ]


def test_included_file_needs_an_icegrid_root(tmp_path: Path) -> None:
    included = write(tmp_path / "t.xml", '<!-- no root -->\n<server-template id="T"/>')
    main = write(
        tmp_path / "main.xml",
        '<icegrid><application name="A"><include file="t.xml"/></application></icegrid>',
    )
    assert problems_of(main) == [
        f"{included}:2: only the <icegrid> element is allowed at the top level, "
        "not <server-template>"
    ]


def test_malformed_included_file_is_reported_with_its_line(tmp_path: Path) -> None:
    included = write(tmp_path / "t.xml", "<icegrid>\n<node>\n</icegrid>")
    main = write(
        tmp_path / "main.xml",
        '<icegrid><application name="A"><include file="t.xml"/></application></icegrid>',
    )
    (message,) = problems_of(main)
    assert message.startswith(f"{included}:3: malformed XML: Opening and ending tag mismatch")


def test_included_content_is_checked_against_the_including_parent(tmp_path: Path) -> None:
    included = write(tmp_path / "t.xml", '<icegrid>\n<node name="n"/>\n</icegrid>')
    main = write(
        tmp_path / "main.xml",
        '<icegrid><application name="A"><node name="m"><include file="t.xml"/></node>'
        "</application></icegrid>",
    )
    assert problems_of(main) == [
        f"{included}:2: element <node> is not allowed in <node>; "
        "it can only be a child of <application>"
    ]


def test_include_targets_apply_to_the_included_content(tmp_path: Path) -> None:
    write(
        tmp_path / "t.xml",
        """
        <icegrid>
          <target name="debug"><variable name="debug" value="1"/></target>
          <target name="trace"><variable name="trace" value="1"/></target>
          <target name="other"><variable name="other" value="1"/></target>
        </icegrid>
        """,
    )
    main = write(
        tmp_path / "main.xml",
        """
        <icegrid>
          <application name="A">
            <include file="t.xml" targets="debug&#10;trace"/>
            <target name="debug"><variable name="outer" value="1"/></target>
          </application>
        </icegrid>
        """,
    )
    assert list(parse_file(main).variables) == ["debug", "trace"]
    assert list(parse_file(main, ["other"]).variables) == ["debug", "trace", "other"]


def test_include_inside_an_undeployed_target_is_not_read(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.xml",
        '<icegrid><application name="A"><target name="t"><include file="absent.xml"/>'
        "</target></application></icegrid>",
    )
    assert parse_file(main).name == "A"


# --------------------------------------------------------------------------- targets


APP_WITH_TARGETS = """
<icegrid>
  <application name="App">
    <target name="debug"><variable name="app-debug" value="1"/></target>
    <server-template id="ProcessorTemplate">
      <parameter name="index"/>
      <server id="Processor-${index}" exe="python">
        <target name="debug"><option>-X</option><option>dev</option></target>
      </server>
    </server-template>
    <node name="node1">
      <target name="debug"><variable name="node-debug" value="1"/></target>
      <server id="Direct" exe="e">
        <target name="debug"><property name="Direct.Debug" value="1"/></target>
      </server>
    </node>
    <node name="node2">
      <target name="debug"><variable name="node-debug" value="1"/></target>
    </node>
  </application>
</icegrid>
"""


def parse_targets(*targets: str) -> tuple[list[str], list[str], list[str], tuple[str, ...], int]:
    """What each debug section contributed: app vars, node1 vars, node2 vars, options, props."""
    app = parse_string(APP_WITH_TARGETS, targets=targets)
    template = app.server_templates["ProcessorTemplate"].descriptor
    assert isinstance(template, ServerDescriptor)
    (direct,) = app.nodes["node1"].servers
    return (
        list(app.variables),
        list(app.nodes["node1"].variables),
        list(app.nodes["node2"].variables),
        template.options,
        len(direct.property_set.properties),
    )


def test_no_target_skips_every_target_section() -> None:
    assert parse_targets() == ([], [], [], (), 0)


def test_plain_target_deploys_every_section_of_that_name() -> None:
    assert parse_targets("debug") == (
        ["app-debug"],
        ["node-debug"],
        ["node-debug"],
        ("-X", "dev"),
        1,
    )


def test_application_qualified_target() -> None:
    assert parse_targets("App.debug") == parse_targets("debug")
    assert parse_targets("Other.debug") == parse_targets()


def test_node_qualified_target_deploys_only_that_nodes_sections() -> None:
    assert parse_targets("App.node1.debug") == ([], ["node-debug"], [], (), 1)


def test_server_qualified_target_uses_the_raw_server_id() -> None:
    assert parse_targets("App.Processor-${index}.debug") == ([], [], [], ("-X", "dev"), 0)
    assert parse_targets("App.Processor-0.debug") == parse_targets()
    assert parse_targets("App.node1.Direct.debug") == ([], [], [], (), 1)


def test_multiple_targets_add_up() -> None:
    assert parse_targets("App.node2.debug", "App.node1.Direct.debug") == (
        [],
        [],
        ["node-debug"],
        (),
        1,
    )


def test_service_qualified_target() -> None:
    xml = """
    <icegrid><application name="App"><node name="n"><icebox id="Box" exe="e">
      <service name="Svc" entry="x">
        <target name="t"><property name="P"/></target>
      </service>
    </icebox></node></application></icegrid>
    """
    for targets, expected in [
        (["App.n.Box.Svc.t"], 1),
        (["App.n.Box.t"], 1),
        (["App.n.Box.Other.t"], 0),
    ]:
        app = parse_string(xml, targets=targets)
        (box,) = app.nodes["n"].servers
        assert box.services is not None
        service = box.services[0].descriptor
        assert service is not None
        assert len(service.property_set.properties) == expected


def test_nested_targets_need_both_names() -> None:
    xml = """
    <icegrid><application name="App">
      <target name="outer">
        <variable name="outer"/>
        <target name="inner"><variable name="inner"/></target>
      </target>
    </application></icegrid>
    """
    assert list(parse_string(xml, targets=["outer"]).variables) == ["outer"]
    assert list(parse_string(xml, targets=["outer", "inner"]).variables) == ["outer", "inner"]
    assert list(parse_string(xml, targets=["inner"]).variables) == []


def test_content_of_an_undeployed_target_is_not_validated() -> None:
    xml = """
    <icegrid><application name="App">
      <target name="off">
        <bogus attribute="x"/>
        <node/>
        stray text
        <target><still-bogus/></target>
      </target>
    </application></icegrid>
    """
    assert parse_string(xml).name == "App"


def test_content_of_a_deployed_target_is_validated() -> None:
    xml = (
        '<icegrid>\n<application name="App">\n<target name="on">\n<node/>\n</target>\n'
        "</application>\n</icegrid>"
    )
    with pytest.raises(DescriptorError) as caught:
        parse_string(xml, file="app.xml", targets=["on"])
    assert str(caught.value) == "app.xml:4: missing attribute 'name' in <node>"


def test_target_needs_a_name_and_no_other_attribute() -> None:
    xml = (
        '<icegrid>\n<application name="App">\n<target/>\n<target name="t" if="x"/>\n'
        "</application>\n</icegrid>"
    )
    with pytest.raises(DescriptorError) as caught:
        parse_string(xml, file="app.xml")
    assert [str(p) for p in caught.value.problems] == [
        "app.xml:3: missing attribute 'name' in <target>",
        "app.xml:4: unknown attribute 'if' in <target>; allowed: name",
    ]


def test_target_at_the_top_level_may_hold_the_application() -> None:
    xml = '<icegrid><target name="t"><application name="App"/></target></icegrid>'
    assert parse_string(xml, targets=["t"]).name == "App"
    with pytest.raises(DescriptorError, match="no <application> element"):
        parse_string(xml)


def test_target_in_a_server_instance_property_set() -> None:
    xml = """
    <icegrid><application name="App"><node name="n">
      <server-instance template="T" index="1">
        <properties><target name="t"><property name="P" value="v"/></target></properties>
      </server-instance>
    </node></application></icegrid>
    """
    (instance,) = parse_string(xml, targets=["App.n.t"]).nodes["n"].server_instances
    assert instance.property_set.properties == (Property("P", "v"),)
