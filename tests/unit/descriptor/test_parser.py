"""The parser builds the written model from every element and attribute IceGrid 3.7 accepts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shoal.descriptor.model import (
    AdapterDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancing,
    LoadBalancingType,
    Location,
    LogDescriptor,
    ObjectDescriptor,
    Property,
    PropertySet,
    ReplicaGroupDescriptor,
    ServerDescriptor,
    ServiceDescriptor,
)
from shoal.descriptor.parser import parse_file, parse_string

SITE_GRID = Path(__file__).parents[3] / "src" / "shoal" / "data" / "etc" / "grid"


def app_xml(body: str, attributes: str = 'name="App"') -> str:
    """A whole descriptor around `body`; the body starts on line 3."""
    body = textwrap.dedent(body).strip()
    return f"<icegrid>\n<application {attributes}>\n{body}\n</application>\n</icegrid>\n"


def parse_app(body: str, attributes: str = 'name="App"', targets: tuple[str, ...] = ()):
    return parse_string(app_xml(body, attributes), file="app.xml", targets=targets)


def node_xml(body: str) -> str:
    return f'<node name="node1">\n{textwrap.dedent(body).strip()}\n</node>'


def only_server(body: str) -> ServerDescriptor:
    """The one server written in `body`, placed in node1."""
    app = parse_app(node_xml(body))
    (server,) = app.nodes["node1"].servers
    return server


# --------------------------------------------------------------------------- application


def test_application_attributes_and_defaults() -> None:
    app = parse_app("")
    assert app.name == "App"
    assert app.import_default_templates is False
    assert app.source == Location("app.xml", 2)
    assert app.distrib is None


def test_application_import_default_templates_is_kept() -> None:
    app = parse_app("", 'name="App" import-default-templates="true"')
    assert app.import_default_templates is True


def test_application_description_is_kept_as_written_not_trimmed() -> None:
    app = parse_app("<description>  A site\n  with two lines </description>")
    assert app.description == "  A site\n  with two lines "


def test_description_text_around_a_comment_is_joined() -> None:
    app = parse_app("<description>one <!-- aside --> two</description>")
    assert app.description == "one  two"


def test_variables_keep_their_order_and_default_to_empty() -> None:
    app = parse_app(
        """
        <variable name="b" value="2"/>
        <variable name="a"/>
        <variable name="c" value="${b}"/>
        """
    )
    assert list(app.variables.items()) == [("b", "2"), ("a", ""), ("c", "${b}")]


def test_named_property_sets_with_references_then_properties() -> None:
    app = parse_app(
        """
        <properties id="Base">
          <property name="A" value="1"/>
          <property name="B"/>
        </properties>
        <properties id="Derived">
          <properties refid="Base"/>
          <properties refid="Other"/>
          <property name="C" value="3"/>
        </properties>
        """
    )
    base = app.property_sets["Base"]
    assert base == PropertySet((), (Property("A", "1"), Property("B", "")))
    assert base.properties[0].source == Location("app.xml", 4)
    assert app.property_sets["Derived"] == PropertySet(("Base", "Other"), (Property("C", "3"),))
    assert app.property_sets["Derived"].source == Location("app.xml", 7)


def test_application_distrib_with_directories() -> None:
    app = parse_app(
        """
        <distrib icepatch="Patch/server">
          <directory>bin</directory>
          <directory>lib</directory>
        </distrib>
        """
    )
    assert app.distrib == DistributionDescriptor("Patch/server", ("bin", "lib"))


def test_distrib_icepatch_defaults_to_icegrids() -> None:
    app = parse_app("<distrib/>")
    assert app.distrib == DistributionDescriptor("${application}.IcePatch2/server", ())


# --------------------------------------------------------------------------- nodes


def test_node_with_variables_property_sets_description_and_load_factor() -> None:
    app = parse_app(
        """
        <node name="node1" load-factor="2.5">
          <description>first</description>
          <variable name="x" value="1"/>
          <properties id="Local"><property name="P" value="v"/></properties>
        </node>
        """
    )
    node = app.nodes["node1"]
    assert node.name == "node1"
    assert node.load_factor == "2.5"
    assert node.description == "first"
    assert dict(node.variables) == {"x": "1"}
    assert node.property_sets["Local"].properties == (Property("P", "v"),)
    assert node.source == Location("app.xml", 3)


def test_nodes_keep_document_order() -> None:
    app = parse_app('<node name="b"/>\n<node name="a"/>')
    assert list(app.nodes) == ["b", "a"]


def test_a_second_node_with_the_same_name_reopens_the_first_as_icegrid_does() -> None:
    app = parse_app(
        """
        <node name="node1" load-factor="1">
          <variable name="x" value="1"/>
          <server-instance template="T" index="0"/>
        </node>
        <node name="node2"/>
        <node name="node1">
          <description>merged</description>
          <variable name="y" value="2"/>
          <server-instance template="T" index="1"/>
          <server id="S" exe="e"/>
        </node>
        """
    )
    assert list(app.nodes) == ["node1", "node2"]
    node = app.nodes["node1"]
    assert node.load_factor == "1"
    assert node.description == "merged"
    assert dict(node.variables) == {"x": "1", "y": "2"}
    assert [i.parameter_values["index"] for i in node.server_instances] == ["0", "1"]
    assert [s.id for s in node.servers] == ["S"]
    assert node.source == Location("app.xml", 3)


def test_a_reopened_node_may_set_the_load_factor() -> None:
    app = parse_app('<node name="n"/>\n<node name="n" load-factor="3"/>')
    assert app.nodes["n"].load_factor == "3"


def test_seed_snippet_server_instance_in_a_node() -> None:
    app = parse_app(
        '<node name="node1"><server-instance template="ProcessorTemplate" index="1"/></node>'
    )
    (instance,) = app.nodes["node1"].server_instances
    assert instance.template == "ProcessorTemplate"
    assert dict(instance.parameter_values) == {"index": "1"}
    assert instance.source == Location("app.xml", 3)


def test_omero_server_instance_with_an_empty_parameter_value() -> None:
    app = parse_app(node_xml('<server-instance template="ProcessorTemplate" index="0" dir=""/>'))
    (instance,) = app.nodes["node1"].server_instances
    assert dict(instance.parameter_values) == {"index": "0", "dir": ""}
    assert list(instance.parameter_values) == ["index", "dir"]


def test_server_instance_property_sets_unnamed_and_per_service_reopen_and_append() -> None:
    app = parse_app(
        node_xml(
            """
            <server-instance template="T">
              <properties><properties refid="R"/><property name="A" value="1"/></properties>
              <properties service="Svc"><property name="B" value="2"/></properties>
              <properties><property name="C" value="3"/></properties>
              <properties service="Svc"><properties refid="S"/></properties>
            </server-instance>
            """
        )
    )
    (instance,) = app.nodes["node1"].server_instances
    assert instance.property_set == PropertySet(("R",), (Property("A", "1"), Property("C", "3")))
    assert dict(instance.service_property_sets) == {
        "Svc": PropertySet(("S",), (Property("B", "2"),))
    }


# --------------------------------------------------------------------------- servers


def test_server_required_attributes_and_icegrid_defaults() -> None:
    server = only_server('<server id="S" exe="/bin/true"/>')
    assert server == ServerDescriptor(id="S", exe="/bin/true")
    assert server.activation == "manual"
    assert server.application_distrib is True
    assert server.allocatable is False
    assert server.services is None
    assert server.source == Location("app.xml", 4)


def test_server_every_attribute() -> None:
    server = only_server(
        '<server id="S" exe="python" activation="on-demand" activation-timeout="30"'
        ' deactivation-timeout=" 5 " pwd="/tmp" user="omero" ice-version="3.7"'
        ' application-distrib="false" allocatable="true"/>'
    )
    assert server == ServerDescriptor(
        id="S",
        exe="python",
        activation="on-demand",
        activation_timeout="30",
        deactivation_timeout=" 5 ",
        pwd="/tmp",
        user="omero",
        ice_version="3.7",
        application_distrib=False,
        allocatable=True,
    )


@pytest.mark.parametrize("activation", ["manual", "on-demand", "always", "session", "", "${mode}"])
def test_server_activation_values_accepted(activation: str) -> None:
    server = only_server(f'<server id="S" exe="e" activation="{activation}"/>')
    assert server.activation == activation


def test_server_timeouts_with_variables_are_left_to_the_expander() -> None:
    server = only_server(
        '<server id="S" exe="e" activation-timeout="${t}" deactivation-timeout="-1"/>'
    )
    assert (server.activation_timeout, server.deactivation_timeout) == ("${t}", "-1")


def test_server_options_envs_description_and_direct_properties() -> None:
    server = only_server(
        """
        <server id="S" exe="e">
          <description>does things</description>
          <option>-m</option>
          <option> spaced </option>
          <env>A=1</env>
          <env>PATH=${PATH}</env>
          <property name="P1" value="1"/>
          <properties><properties refid="Set"/><property name="P2"/></properties>
          <property name="P3" value="3"/>
        </server>
        """
    )
    assert server.description == "does things"
    assert server.options == ("-m", " spaced ")
    assert server.envs == ("A=1", "PATH=${PATH}")
    assert server.property_set == PropertySet(
        ("Set",), (Property("P1", "1"), Property("P2", ""), Property("P3", "3"))
    )


def test_server_adapter_defaults() -> None:
    server = only_server('<server id="S" exe="e"><adapter name="A"/></server>')
    (adapter,) = server.adapters
    assert adapter == AdapterDescriptor(name="A")
    assert adapter.id == ""  # ${server}.A, filled in by the expander
    assert adapter.endpoints == "default"
    assert adapter.register_process is False
    assert adapter.server_lifetime is True
    assert adapter.source == Location("app.xml", 4)


def test_server_adapter_every_attribute_and_child() -> None:
    server = only_server(
        """
        <server id="S" exe="e">
          <adapter name="A" id="S.A" endpoints="tcp -h 127.0.0.1" proxy-options="-t"
                   replica-group="RG" priority="2" register-process="true" server-lifetime="false">
            <description>the adapter</description>
            <object identity="Obj" type="::M::I" proxy-options="-o" property="Obj.Identity"/>
            <object identity="Plain"/>
            <allocatable identity="Alloc" type="::M::A" proxy-options="-a" property="Alloc.Id"/>
          </adapter>
        </server>
        """
    )
    (adapter,) = server.adapters
    assert adapter == AdapterDescriptor(
        name="A",
        id="S.A",
        replica_group="RG",
        priority="2",
        endpoints="tcp -h 127.0.0.1",
        proxy_options="-t",
        register_process=True,
        server_lifetime=False,
        description="the adapter",
        objects=(
            ObjectDescriptor("Obj", "::M::I", "-o", "Obj.Identity"),
            ObjectDescriptor("Plain"),
        ),
        allocatables=(ObjectDescriptor("Alloc", "::M::A", "-a", "Alloc.Id"),),
    )
    assert adapter.objects[0].source == Location("app.xml", 8)


def test_server_dbenv_log_and_distrib() -> None:
    server = only_server(
        """
        <server id="S" exe="e">
          <dbenv name="DB">
            <description>db</description>
            <dbproperty name="set_cachesize" value="0 1000 1"/>
            <dbproperty name="flag"/>
          </dbenv>
          <dbenv name="Fixed" home="/var/db"/>
          <log path="out.log" property="Log.Path"/>
          <log path="plain.log"/>
          <distrib><directory>data</directory></distrib>
        </server>
        """
    )
    assert server.dbenvs == (
        DbEnvDescriptor(
            "DB", "", "db", (Property("set_cachesize", "0 1000 1"), Property("flag", ""))
        ),
        DbEnvDescriptor("Fixed", "/var/db"),
    )
    assert server.logs == (LogDescriptor("out.log", "Log.Path"), LogDescriptor("plain.log"))
    assert server.distrib == DistributionDescriptor(directories=("data",))


def test_a_second_dbenv_with_the_same_name_reopens_it_as_icegrid_does() -> None:
    server = only_server(
        """
        <server id="S" exe="e">
          <dbenv name="DB"><dbproperty name="a" value="1"/></dbenv>
          <dbenv name="Other"/>
          <dbenv name="DB"><dbproperty name="b" value="2"/></dbenv>
        </server>
        """
    )
    assert server.dbenvs == (
        DbEnvDescriptor("Other"),
        DbEnvDescriptor("DB", properties=(Property("a", "1"), Property("b", "2"))),
    )


def test_reopened_dbenv_takes_a_home_only_when_it_had_none() -> None:
    server = only_server(
        """
        <server id="S" exe="e">
          <dbenv name="A"/><dbenv name="A" home="/a"/>
          <dbenv name="B" home="/b"/><dbenv name="B" home="/other"/>
        </server>
        """
    )
    assert [(d.name, d.home) for d in server.dbenvs] == [("A", "/a"), ("B", "/b")]


# --------------------------------------------------------------------------- icebox and services


def test_icebox_with_inline_services_and_service_instances() -> None:
    server = only_server(
        """
        <icebox id="Box" exe="icebox" activation="on-demand">
          <option>--x</option>
          <property name="IceBox.Trace" value="1"/>
          <service name="Svc" entry="lib:create">
            <description>a service</description>
            <adapter name="SvcAdapter" endpoints="tcp"/>
            <dbenv name="D"/>
            <log path="svc.log"/>
            <property name="Svc.P" value="1"/>
            <properties><property name="Svc.Q" value="2"/></properties>
          </service>
          <service-instance template="SvcTemplate" name="Other">
            <properties><property name="X" value="y"/></properties>
          </service-instance>
        </icebox>
        """
    )
    assert server.is_icebox
    assert server.activation == "on-demand"
    assert server.options == ("--x",)
    assert server.property_set.properties == (Property("IceBox.Trace", "1"),)
    assert server.services is not None
    inline, instance = server.services
    assert inline.template == ""
    assert inline.descriptor == ServiceDescriptor(
        name="Svc",
        entry="lib:create",
        description="a service",
        property_set=PropertySet((), (Property("Svc.P", "1"), Property("Svc.Q", "2"))),
        adapters=(AdapterDescriptor(name="SvcAdapter", endpoints="tcp"),),
        dbenvs=(DbEnvDescriptor("D"),),
        logs=(LogDescriptor("svc.log"),),
    )
    assert inline.source == Location("app.xml", 7)
    assert instance.template == "SvcTemplate"
    assert dict(instance.parameter_values) == {"name": "Other"}
    assert instance.descriptor is None
    assert instance.property_set.properties == (Property("X", "y"),)


def test_empty_icebox_has_an_empty_services_tuple() -> None:
    server = only_server('<icebox id="Box" exe="icebox"/>')
    assert server.services == ()
    assert server.is_icebox


# --------------------------------------------------------------------------- templates


def test_server_template_with_parameters_and_defaults_in_order() -> None:
    app = parse_app(
        """
        <server-template id="ProcessorTemplate">
          <parameter name="index"/>
          <parameter name="dir" default=""/>
          <parameter name="mode" default="always"/>
          <server id="Processor-${index}" exe="python" activation="${mode}"/>
        </server-template>
        """
    )
    template = app.server_templates["ProcessorTemplate"]
    assert template.id == "ProcessorTemplate"
    assert template.parameters == ("index", "dir", "mode")
    assert dict(template.parameter_defaults) == {"dir": "", "mode": "always"}
    assert isinstance(template.descriptor, ServerDescriptor)
    assert template.descriptor.id == "Processor-${index}"
    assert template.source == Location("app.xml", 3)


def test_server_template_may_hold_an_icebox() -> None:
    app = parse_app('<server-template id="T"><icebox id="B" exe="e"/></server-template>')
    descriptor = app.server_templates["T"].descriptor
    assert isinstance(descriptor, ServerDescriptor)
    assert descriptor.is_icebox


def test_service_template() -> None:
    app = parse_app(
        """
        <service-template id="ST">
          <parameter name="name"/>
          <service name="${name}" entry="lib:entry"><adapter name="A"/></service>
        </service-template>
        """
    )
    template = app.service_templates["ST"]
    assert template.parameters == ("name",)
    assert template.parameter_defaults == {}
    assert isinstance(template.descriptor, ServiceDescriptor)
    assert template.descriptor.name == "${name}"


# --------------------------------------------------------------------------- replica groups


def test_replica_group_without_load_balancing_is_random_over_all_replicas() -> None:
    app = parse_app('<replica-group id="RG"/>')
    assert app.replica_groups == (ReplicaGroupDescriptor("RG"),)
    assert app.replica_groups[0].load_balancing == LoadBalancing(LoadBalancingType.RANDOM, "0", "1")


def test_replica_group_every_attribute_and_child() -> None:
    app = parse_app(
        """
        <replica-group id="RG" proxy-options="-t" filter="byHost">
          <description>group</description>
          <load-balancing type="adaptive" n-replicas="2" load-sample="5"/>
          <object identity="Obj" type="::M::I" proxy-options="-o"/>
        </replica-group>
        """
    )
    assert app.replica_groups == (
        ReplicaGroupDescriptor(
            id="RG",
            load_balancing=LoadBalancing(LoadBalancingType.ADAPTIVE, "2", "5"),
            proxy_options="-t",
            filter="byHost",
            description="group",
            objects=(ObjectDescriptor("Obj", "::M::I", "-o"),),
        ),
    )


@pytest.mark.parametrize("policy", ["random", "ordered", "round-robin", "adaptive"])
def test_load_balancing_types_default_to_one_replica(policy: str) -> None:
    app = parse_app(f'<replica-group id="RG"><load-balancing type="{policy}"/></replica-group>')
    assert app.replica_groups[0].load_balancing == LoadBalancing(
        LoadBalancingType(policy), "1", "1"
    )


@pytest.mark.parametrize("sample", ["1", "5", "15", "${sample}"])
def test_adaptive_load_sample_values_accepted(sample: str) -> None:
    app = parse_app(
        f'<replica-group id="RG"><load-balancing type="adaptive" load-sample="{sample}"/>'
        "</replica-group>"
    )
    assert app.replica_groups[0].load_balancing.load_sample == sample


@pytest.mark.parametrize("n_replicas", ["0", "3", " 2 ", "+1", "${n}"])
def test_n_replicas_values_accepted(n_replicas: str) -> None:
    app = parse_app(
        f'<replica-group id="RG"><load-balancing type="random" n-replicas="{n_replicas}"/>'
        "</replica-group>"
    )
    assert app.replica_groups[0].load_balancing.n_replicas == n_replicas


@pytest.mark.parametrize("factor", ["1", "0.5", ".5", "1e3", " 2 ", "${f}", ""])
def test_node_load_factor_values_accepted(factor: str) -> None:
    assert parse_app(f'<node name="n" load-factor="{factor}"/>').nodes["n"].load_factor == factor


# --------------------------------------------------------------------------- files and encodings


def test_parse_file_reads_the_site_descriptor_and_its_included_templates() -> None:
    app = parse_file(SITE_GRID / "default.xml")
    assert app.name == "Shoal"
    assert {"RouterTemplate", "JobsTemplate", "ProcessorTemplate"} <= set(app.server_templates)
    template = app.server_templates["ProcessorTemplate"]
    assert template.source is not None
    assert template.source.file == str(SITE_GRID / "templates.xml")


def test_parse_file_accepts_a_str_path(tmp_path: Path) -> None:
    path = tmp_path / "app.xml"
    path.write_text(app_xml(""))
    assert parse_file(str(path)).source == Location(str(path), 2)


def test_bytes_with_an_encoding_declaration_are_decoded_as_declared() -> None:
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + app_xml(
        "<description>café</description>"
    )
    app = parse_string(text.encode("iso-8859-1"))
    assert app.description == "café"


def test_utf16_bytes_with_a_byte_order_mark() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + app_xml("<description>é</description>")
    assert parse_string(text.encode("utf-16")).description == "é"


def test_str_with_an_encoding_declaration_is_accepted() -> None:
    text = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" + app_xml(
        "<description>café</description>"
    )
    assert parse_string(text).description == "café"


def test_comments_and_processing_instructions_are_ignored() -> None:
    app = parse_app('<!-- a comment --><?pi data?>\n<node name="n"><!-- c --></node>')
    assert list(app.nodes) == ["n"]


def test_plain_doctype_without_entities_is_accepted() -> None:
    assert parse_string("<!DOCTYPE icegrid>\n" + app_xml("")).name == "App"


def test_sources_take_no_part_in_equality() -> None:
    first = parse_app('<node name="n"/>')
    second = parse_string("\n\n\n" + app_xml('\n<node name="n"/>'), file="other.xml")
    assert first == second
    assert first.source != second.source
