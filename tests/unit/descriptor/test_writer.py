"""The writer prints canonical IceGrid XML that the parser reads back to an equal model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from strategies import applications

from shoal.descriptor.model import (
    AdapterDescriptor,
    ApplicationDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancing,
    LoadBalancingType,
    LogDescriptor,
    NodeDescriptor,
    ObjectDescriptor,
    Property,
    PropertySet,
    ReplicaGroupDescriptor,
    ServerDescriptor,
    ServerInstanceDescriptor,
    ServiceDescriptor,
    ServiceInstanceDescriptor,
    TemplateDescriptor,
)
from shoal.descriptor.parser import parse_string
from shoal.descriptor.writer import write_descriptor, write_file


def _application_element(descriptor: ApplicationDescriptor) -> etree._Element:
    """The written `<application>`, read back with plain lxml (independent of our parser)."""
    root = etree.fromstring(write_descriptor(descriptor).encode("utf-8"))
    assert root.tag == "icegrid"
    (application,) = root
    return application


def _attributes(element: etree._Element) -> dict[str, str]:
    return {str(name): str(value) for name, value in element.attrib.items()}


def _node_with(*servers: ServerDescriptor) -> ApplicationDescriptor:
    return ApplicationDescriptor(
        name="App", nodes={"node1": NodeDescriptor(name="node1", servers=servers)}
    )


def test_small_application_is_written_exactly() -> None:
    """A template, an instance of it and a plain server: the whole expected document."""
    descriptor = ApplicationDescriptor(
        name="OMERO",
        description="A site",
        variables={"ROOT": "/opt/omero"},
        property_sets={
            "Common": PropertySet(properties=(Property("Ice.MessageSizeMax", "65536"),))
        },
        server_templates={
            "ProcessorTemplate": TemplateDescriptor(
                id="ProcessorTemplate",
                parameters=("index", "dir"),
                parameter_defaults={"dir": ""},
                descriptor=ServerDescriptor(
                    id="Processor-${index}",
                    exe="${ROOT}/bin/processor",
                    activation="always",
                    options=("--verbose",),
                    property_set=PropertySet(references=("Common",)),
                    adapters=(AdapterDescriptor(name="ProcessorAdapter", endpoints="tcp"),),
                ),
            )
        },
        nodes={
            "master": NodeDescriptor(
                name="master",
                server_instances=(
                    ServerInstanceDescriptor(
                        template="ProcessorTemplate", parameter_values={"index": "0"}
                    ),
                ),
                servers=(ServerDescriptor(id="Jobs-0", exe="jobs", envs=("A=1",)),),
            )
        },
    )

    assert write_descriptor(descriptor) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<icegrid>\n"
        '  <application name="OMERO">\n'
        "    <description>A site</description>\n"
        '    <variable name="ROOT" value="/opt/omero"/>\n'
        '    <properties id="Common">\n'
        '      <property name="Ice.MessageSizeMax" value="65536"/>\n'
        "    </properties>\n"
        '    <server-template id="ProcessorTemplate">\n'
        '      <parameter name="index"/>\n'
        '      <parameter name="dir" default=""/>\n'
        '      <server id="Processor-${index}" exe="${ROOT}/bin/processor" activation="always">\n'
        "        <option>--verbose</option>\n"
        "        <properties>\n"
        '          <properties refid="Common"/>\n'
        "        </properties>\n"
        '        <adapter name="ProcessorAdapter" endpoints="tcp"/>\n'
        "      </server>\n"
        "    </server-template>\n"
        '    <node name="master">\n'
        '      <server-instance template="ProcessorTemplate" index="0"/>\n'
        '      <server id="Jobs-0" exe="jobs">\n'
        "        <env>A=1</env>\n"
        "      </server>\n"
        "    </node>\n"
        "  </application>\n"
        "</icegrid>\n"
    )


def test_hostile_text_is_escaped_and_reads_back_unchanged() -> None:
    """Markup characters, quotes, non-ASCII, tabs, newlines and CRs survive attributes and text."""
    hostile = "a<b>&c\"d'e é中🐟\tf\ng\rh"
    descriptor = ApplicationDescriptor(
        name=hostile,
        description=hostile,
        nodes={"n": NodeDescriptor(name="n", servers=(ServerDescriptor(id="s", exe=hostile),))},
    )

    text = write_descriptor(descriptor)
    application = _application_element(descriptor)

    assert "&lt;" in text and "&amp;" in text and "&#10;" in text and "&#13;" in text
    assert "é中🐟" in text  # written as characters, not references
    assert application.get("name") == hostile
    assert application.findtext("description") == hostile
    assert application.xpath("string(node/server/@exe)") == hostile


def test_attributes_equal_to_icegrid_defaults_are_omitted() -> None:
    descriptor = ApplicationDescriptor(
        name="App",
        replica_groups=(ReplicaGroupDescriptor(id="Group"),),
        distrib=DistributionDescriptor(),
        nodes={
            "n": NodeDescriptor(
                name="n",
                servers=(
                    ServerDescriptor(
                        id="s",
                        exe="e",
                        adapters=(AdapterDescriptor(name="A", objects=(ObjectDescriptor("o"),)),),
                        dbenvs=(DbEnvDescriptor(name="db", properties=(Property("k"),)),),
                        logs=(LogDescriptor(path="out.log"),),
                    ),
                ),
            )
        },
    )

    application = _application_element(descriptor)

    assert _attributes(application) == {"name": "App"}
    group = application.find("replica-group")
    assert group is not None
    assert _attributes(group) == {"id": "Group"}
    assert len(group) == 0  # no <load-balancing>: random over all replicas
    distrib = application.find("distrib")
    assert distrib is not None and _attributes(distrib) == {}
    server = application.find("node/server")
    assert server is not None
    assert _attributes(server) == {"id": "s", "exe": "e"}
    assert [child.tag for child in server] == ["adapter", "dbenv", "log"]
    assert [_attributes(child) for child in server.iter("adapter", "object", "dbproperty")] == [
        {"name": "A"},
        {"identity": "o"},
        {"name": "k"},
    ]


def test_attributes_that_differ_from_defaults_are_written() -> None:
    server = ServerDescriptor(
        id="s",
        exe="e",
        activation="on-demand",
        activation_timeout="10",
        deactivation_timeout="20",
        pwd="/tmp",
        user="omero",
        ice_version="3.7",
        application_distrib=False,
        allocatable=True,
        adapters=(
            AdapterDescriptor(
                name="A",
                id="A-id",
                replica_group="G",
                priority="2",
                endpoints="tcp -h 127.0.0.1",
                proxy_options="-t",
                register_process=True,
                server_lifetime=False,
            ),
        ),
    )

    element = _application_element(_node_with(server)).find("node/server")

    assert element is not None
    assert _attributes(element) == {
        "id": "s",
        "exe": "e",
        "activation": "on-demand",
        "activation-timeout": "10",
        "deactivation-timeout": "20",
        "pwd": "/tmp",
        "user": "omero",
        "ice-version": "3.7",
        "application-distrib": "false",
        "allocatable": "true",
    }
    adapter = element.find("adapter")
    assert adapter is not None
    assert _attributes(adapter) == {
        "name": "A",
        "id": "A-id",
        "replica-group": "G",
        "priority": "2",
        "endpoints": "tcp -h 127.0.0.1",
        "proxy-options": "-t",
        "register-process": "true",
        "server-lifetime": "false",
    }


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (LoadBalancing(LoadBalancingType.RANDOM, "1"), {"type": "random"}),
        (LoadBalancing(LoadBalancingType.ORDERED, "0"), {"type": "ordered", "n-replicas": "0"}),
        (
            LoadBalancing(LoadBalancingType.ROUND_ROBIN, "3"),
            {"type": "round-robin", "n-replicas": "3"},
        ),
        (LoadBalancing(LoadBalancingType.ADAPTIVE, "1", "1"), {"type": "adaptive"}),
        (
            LoadBalancing(LoadBalancingType.ADAPTIVE, "2", "15"),
            {"type": "adaptive", "n-replicas": "2", "load-sample": "15"},
        ),
    ],
)
def test_load_balancing_writes_only_what_differs_from_the_element_defaults(
    policy: LoadBalancing, expected: dict[str, str]
) -> None:
    descriptor = ApplicationDescriptor(
        name="App", replica_groups=(ReplicaGroupDescriptor(id="G", load_balancing=policy),)
    )

    element = _application_element(descriptor).find("replica-group/load-balancing")

    assert element is not None
    assert _attributes(element) == expected


def test_server_children_come_in_canonical_order() -> None:
    """description, option, env, properties, distrib, adapters, dbenvs, logs."""
    server = ServerDescriptor(
        id="s",
        exe="e",
        description="d",
        options=("-a", ""),
        envs=("X=1",),
        property_set=PropertySet(properties=(Property("p", "v"),)),
        distrib=DistributionDescriptor(icepatch="Patch/server", directories=("lib",)),
        adapters=(AdapterDescriptor(name="A", description="ad"),),
        dbenvs=(DbEnvDescriptor(name="db", home="/db", description="dd"),),
        logs=(LogDescriptor(path="x.log", property="Log.Path"),),
    )

    element = _application_element(_node_with(server)).find("node/server")

    assert element is not None
    assert [child.tag for child in element] == [
        "description",
        "option",
        "option",
        "env",
        "properties",
        "distrib",
        "adapter",
        "dbenv",
        "log",
    ]
    assert [child.text for child in element.iter("option")] == ["-a", None]  # "" is <option/>
    assert element.findtext("distrib/directory") == "lib"


def test_icebox_holds_inline_services_and_service_instances_in_order() -> None:
    icebox = ServerDescriptor(
        id="box",
        exe="icebox",
        services=(
            ServiceInstanceDescriptor(
                template="SvcTemplate",
                parameter_values={"name": "B"},
                property_set=PropertySet(properties=(Property("q"),)),
            ),
            ServiceInstanceDescriptor(
                descriptor=ServiceDescriptor(
                    name="A",
                    entry="mod:create",
                    description="inline",
                    property_set=PropertySet(references=("Common",)),
                    adapters=(AdapterDescriptor(name="SvcAdapter"),),
                    logs=(LogDescriptor(path="svc.log"),),
                )
            ),
        ),
    )

    element = _application_element(_node_with(icebox)).find("node/icebox")

    assert element is not None
    assert [child.tag for child in element] == ["service-instance", "service"]
    instance, service = element
    assert _attributes(instance) == {"template": "SvcTemplate", "name": "B"}
    assert [child.tag for child in instance] == ["properties"]
    assert _attributes(service) == {"name": "A", "entry": "mod:create"}
    assert [child.tag for child in service] == ["description", "properties", "adapter", "log"]


def test_instances_write_template_first_then_sorted_values_then_service_sets() -> None:
    instance = ServerInstanceDescriptor(
        template="T",
        parameter_values={"zeta": "1", "alpha": "2"},
        property_set=PropertySet(properties=(Property("own", "1"),)),
        service_property_sets={
            "Svc2": PropertySet(properties=(Property("b"),)),
            "Svc1": PropertySet(references=("Common",)),
        },
    )
    descriptor = ApplicationDescriptor(
        name="App", nodes={"n": NodeDescriptor(name="n", server_instances=(instance,))}
    )

    element = _application_element(descriptor).find("node/server-instance")

    assert element is not None
    assert list(element.attrib.items()) == [("template", "T"), ("alpha", "2"), ("zeta", "1")]
    assert [_attributes(child) for child in element] == [
        {},
        {"service": "Svc1"},
        {"service": "Svc2"},
    ]


def test_service_template_and_replica_group_objects() -> None:
    descriptor = ApplicationDescriptor(
        name="App",
        import_default_templates=True,
        replica_groups=(
            ReplicaGroupDescriptor(
                id="G",
                proxy_options="-t",
                filter="f",
                description="group",
                objects=(ObjectDescriptor("obj", type="::T", proxy_options="-o"),),
            ),
        ),
        service_templates={
            "S": TemplateDescriptor(
                id="S",
                parameters=("name",),
                parameter_defaults={},
                descriptor=ServiceDescriptor(name="${name}", entry="e"),
            )
        },
        nodes={"n": NodeDescriptor(name="n", load_factor="2", description="node")},
    )

    application = _application_element(descriptor)

    assert application.get("import-default-templates") == "true"
    assert [child.tag for child in application] == ["replica-group", "service-template", "node"]
    group = application[0]
    assert [child.tag for child in group] == ["description", "object"]
    assert _attributes(group[1]) == {"identity": "obj", "type": "::T", "proxy-options": "-o"}
    assert application.xpath("string(service-template/service/@name)") == "${name}"
    assert _attributes(application[2]) == {"name": "n", "load-factor": "2"}


def test_output_is_deterministic_whatever_the_mapping_order() -> None:
    """Equal models give identical text: keyed collections are written sorted by key."""
    first = ApplicationDescriptor(
        name="App",
        variables={"b": "2", "a": "1"},
        property_sets={"Y": PropertySet(), "X": PropertySet()},
        nodes={"n2": NodeDescriptor(name="n2"), "n1": NodeDescriptor(name="n1")},
    )
    second = ApplicationDescriptor(
        name="App",
        variables={"a": "1", "b": "2"},
        property_sets={"X": PropertySet(), "Y": PropertySet()},
        nodes={"n1": NodeDescriptor(name="n1"), "n2": NodeDescriptor(name="n2")},
    )

    assert first == second
    assert write_descriptor(first) == write_descriptor(second) == write_descriptor(first)
    application = _application_element(first)
    assert [child.get("name") or child.get("id") for child in application] == [
        "a",
        "b",
        "X",
        "Y",
        "n1",
        "n2",
    ]


def test_a_parameter_named_template_cannot_be_written() -> None:
    instance = ServerInstanceDescriptor(template="T", parameter_values={"template": "x"})
    descriptor = ApplicationDescriptor(
        name="App", nodes={"n": NodeDescriptor(name="n", server_instances=(instance,))}
    )

    with pytest.raises(ValueError, match="template"):
        write_descriptor(descriptor)


def test_a_character_xml_forbids_is_refused() -> None:
    with pytest.raises(ValueError):
        write_descriptor(ApplicationDescriptor(name="App", description="bell\x07"))


def test_write_file_writes_utf8(tmp_path: Path) -> None:
    descriptor = ApplicationDescriptor(name="Café")
    target = tmp_path / "app.xml"

    write_file(descriptor, target)

    assert target.read_bytes().decode("utf-8") == write_descriptor(descriptor)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications())
def test_parser_reads_back_what_the_writer_wrote(descriptor: ApplicationDescriptor) -> None:
    """Round trip: parse(write(m)) == m, and writing the result again gives the same text."""
    text = write_descriptor(descriptor)

    parsed = parse_string(text)

    assert parsed == descriptor
    assert write_descriptor(parsed) == text
