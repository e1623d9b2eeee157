"""Expansion of written descriptors into concrete servers: IceGrid's Resolver rules, templates,
property sets, adapters, IceBox services and validation with `file:line` for every problem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from expand_builders import (
    application,
    at,
    instance,
    node,
    props,
    server,
    service,
    template,
)

from shoal.descriptor.expand import (
    NODE_VARIABLES,
    RESERVED_NAMES,
    expand,
    resolve_node_variables,
)
from shoal.descriptor.model import (
    Activation,
    AdapterDescriptor,
    ApplicationDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancing,
    LoadBalancingType,
    Location,
    LogDescriptor,
    ObjectDescriptor,
    Property,
    ReplicaGroupDescriptor,
    ServerDescription,
    ServiceInstanceDescriptor,
)
from shoal.descriptor.parser import parse_string
from shoal.descriptor.resolver import Problems, Resolver
from shoal.errors import DescriptorError

TEMPLATES_XML = Path(__file__).parents[3] / "src/shoal/data/etc/grid/templates.xml"


def problems(descriptor: ApplicationDescriptor, **kw: object) -> list[str]:
    """The problems `expand` reports, as `file:line: message` strings."""
    with pytest.raises(DescriptorError) as caught:
        expand(descriptor, **kw)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def only_server(descriptor: ApplicationDescriptor, **kw: object) -> ServerDescription:
    (the_server,) = expand(descriptor, **kw).servers().values()  # type: ignore[arg-type]
    return the_server


def on_node(*elements: object, **node_kw: object) -> ApplicationDescriptor:
    return application(node("n1", *elements, **node_kw))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- variables


def test_application_variable_is_substituted_everywhere_in_a_server() -> None:
    desc = application(
        node("n1", server("${name}", "${dir}/bin", pwd="${dir}", options=("--at=${dir}",))),
        variables={"name": "S", "dir": "/opt"},
    )
    s = only_server(desc)
    assert (s.id, s.exe, s.pwd, s.options) == ("S", "/opt/bin", "/opt", ("--at=/opt",))


def test_node_variable_hides_application_variable() -> None:
    desc = application(
        node("n1", server(exe="${where}"), variables={"where": "node"}),
        variables={"where": "app"},
    )
    assert only_server(desc).exe == "node"


def test_command_line_variable_wins_over_node_and_application() -> None:
    desc = application(
        node("n1", server(exe="${where}"), variables={"where": "node"}),
        variables={"where": "app"},
    )
    assert only_server(desc, variables={"where": "cli"}).exe == "cli"


def test_variables_resolve_recursively_in_the_node_scope() -> None:
    """An application variable may use one that only the node defines (IceGrid's
    `AppVarDefinedInNode`)."""
    desc = application(
        node("n1", server(exe="${outer}"), variables={"inner": "${node}-x"}),
        variables={"outer": "<${inner}>"},
    )
    assert only_server(desc).exe == "<n1-x>"


def test_variable_cycle_is_an_error_naming_the_path() -> None:
    desc = application(
        node("n1", server(exe="${a}", line=3)), variables={"a": "${b}", "b": "x${a}"}
    )
    assert problems(desc) == [
        "app.xml:3: server `S': variable `a' is defined in terms of itself (a -> b -> a) in exe"
    ]


def test_variable_referring_to_itself_is_a_cycle() -> None:
    desc = application(node("n1", server(pwd="${me}", line=3)), variables={"me": "${me}"})
    assert problems(desc) == [
        "app.xml:3: server `S': variable `me' is defined in terms of itself (me -> me) in pwd"
    ]


def test_undefined_variable_is_named_with_the_line_of_its_element() -> None:
    desc = on_node(server(property_set=props(("a", "${nope}"), line=7), line=3))
    assert problems(desc) == ["app.xml:7: server `S': undefined variable `nope' in property `a'"]


def test_unterminated_reference_is_an_error() -> None:
    desc = on_node(server(exe="${oops", line=2))
    assert problems(desc) == ["app.xml:2: server `S': unterminated `${' in `${oops' in exe"]


def test_same_variable_used_twice_is_not_a_cycle() -> None:
    desc = application(node("n1", server(exe="${a}")), variables={"a": "${b}${b}", "b": "x"})
    assert only_server(desc).exe == "xx"


@pytest.mark.parametrize(
    ("written", "on_the_node"),
    [
        ("$${name}", "${name}"),
        ("$$${name}", "$Server1"),
        ("$$$${name}", "$${name}"),
        ("$$$$${name}", "$$Server1"),
        ("a$b$${name}", "a$b${name}"),
    ],
)
def test_dollar_escapes_as_icegrid_deployer_test(written: str, on_the_node: str) -> None:
    """IceGrid's deployer test (AllTests.cpp:531-533): the registry keeps escapes, the node
    removes them."""
    desc = application(
        node("n1", server(property_set=props(("P", written)))), variables={"name": "Server1"}
    )
    registry = only_server(desc)
    assert resolve_node_variables(registry, {}).properties == (("P", on_the_node),)


def test_registry_keeps_escapes_for_the_node() -> None:
    desc = on_node(server(property_set=props(("P", "$${x}"), ("Q", "$$$${x}"))))
    assert only_server(desc).properties == (("P", "$${x}"), ("Q", "$$$${x}"))


def test_escaped_variable_value_stays_escaped_through_recursion() -> None:
    desc = application(
        node("n1", server(exe="${r2}")),
        variables={"esc": "$${escaped}", "r1": "${esc}", "r2": "${r1}"},
    )
    assert resolve_node_variables(only_server(desc), {}).exe == "${escaped}"


# --------------------------------------------------------------------------- reserved names


def test_reserved_application_node_and_server_names() -> None:
    desc = application(node("n1", server("S", "${application}/${node}/${server}")), name="App")
    assert only_server(desc).exe == "App/n1/S"


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_reserved_name_cannot_be_an_application_variable(name: str) -> None:
    desc = application(node("n1"), variables={name: "x"}, line=1)
    assert problems(desc) == [
        f"app.xml:1: variable `{name}' is a reserved name and cannot be defined"
    ]


def test_reserved_name_cannot_be_a_node_or_command_line_variable() -> None:
    desc = application(node("n1", variables={"server": "x"}, line=4))
    assert problems(desc, variables={"node": "y"}) == [
        "<command line>:0: variable `node' is a reserved name and cannot be defined",
        "app.xml:4: variable `server' is a reserved name and cannot be defined",
    ]


def test_template_parameter_cannot_be_a_reserved_name() -> None:
    tmpl = template("T", server(), "server", line=9)
    desc = application(node("n1"), templates=[tmpl])
    assert problems(desc) == [
        "app.xml:9: template `T': parameter `server' is a reserved name and cannot be defined"
    ]


def test_template_with_duplicate_parameter_is_an_error() -> None:
    tmpl = template("T", server(), "a", "a", line=9)
    assert problems(application(node("n1"), templates=[tmpl])) == [
        "app.xml:9: template `T': duplicate parameter `a'"
    ]


def test_server_name_is_undefined_outside_a_server() -> None:
    desc = application(node("n1", description="${server}", line=2))
    assert problems(desc) == ["app.xml:2: node `n1': undefined variable `server' in description"]


def test_site_defaults_apply_when_the_descriptor_does_not_define_them() -> None:
    desc = on_node(server(exe="${PYTHON}", pwd="${SHOAL_HOME}"))
    s = only_server(desc, reserved={"SHOAL_HOME": "/srv/site", "PYTHON": sys.executable})
    assert (s.exe, s.pwd) == (sys.executable, "/srv/site")


def test_descriptor_variable_overrides_a_site_default() -> None:
    """OMERO's descriptors define PYTHON=python themselves."""
    desc = application(node("n1", server(exe="${PYTHON}")), variables={"PYTHON": "python"})
    assert only_server(desc, reserved={"PYTHON": sys.executable}).exe == "python"


def test_site_default_may_not_take_an_icegrid_reserved_name() -> None:
    with pytest.raises(ValueError, match="reserved names"):
        expand(on_node(), reserved={"server": "x"})


# --------------------------------------------------------------------------- host-dependent values


@pytest.mark.parametrize("name", sorted(NODE_VARIABLES))
def test_node_values_are_left_verbatim_for_the_node(name: str) -> None:
    desc = on_node(server(pwd="${" + name + "}/x", envs=(f"A=$${{{name}}}",)))
    s = only_server(desc)
    assert (s.pwd, s.envs) == ("${" + name + "}/x", ("A=$${" + name + "}",))


def test_data_directories_derive_from_node_data() -> None:
    desc = application(
        node("n1", server("S", "x", pwd="${server.data}", user="${server.distrib}")), name="App"
    )
    s = only_server(desc, variables={})
    assert (s.pwd, s.user) == ("${node.data}/servers/S/data", "${node.data}/servers/S/distrib")
    assert only_server(
        application(node("n1", server(exe="${application.distrib}")), name="App")
    ).exe == ("${node.data}/distrib/App")


def test_node_value_is_not_allowed_in_an_id() -> None:
    desc = on_node(server("S-${node.hostname}", line=5))
    assert problems(desc) == [
        "app.xml:5: node `n1': variable `node.hostname' is only known on the node, "
        "not allowed in server id"
    ]


def test_session_id_is_left_for_session_activation() -> None:
    desc = on_node(server(activation="session", options=("--session=${session.id}",)))
    s = only_server(desc)
    assert (s.activation, s.options) == (Activation.SESSION, ("--session=${session.id}",))


def test_session_id_is_undefined_for_other_activations() -> None:
    desc = on_node(server(activation="always", options=("${session.id}",), line=3))
    assert problems(desc) == ["app.xml:3: server `S': undefined variable `session.id' in option"]


def test_node_resolves_its_values_data_directories_and_session() -> None:
    desc = application(
        node(
            "n1",
            server(
                "S",
                "${node.data}/bin",
                activation="session",
                pwd="${server.data}",
                options=("${node.os}", "${session.id}", "${node.datadir}"),
            ),
        )
    )
    s = resolve_node_variables(
        only_server(desc), {"node.data": "/var/n1", "node.os": "Linux", "session.id": "abc"}
    )
    assert (s.exe, s.pwd) == ("/var/n1/bin", "/var/n1/servers/S/data")
    assert s.options == ("Linux", "abc", "/var/n1")
    assert (s.id, s.node, s.activation) == ("S", "n1", Activation.SESSION)


def test_node_reports_a_value_it_does_not_know() -> None:
    s = only_server(on_node(server(exe="${node.release}")))
    with pytest.raises(DescriptorError) as caught:
        resolve_node_variables(s, {"node.data": "/d"})
    assert str(caught.value) == "<node n1>:0: server `S': undefined variable `node.release' in exe"


def test_node_values_must_be_node_variables() -> None:
    s = only_server(on_node(server()))
    with pytest.raises(ValueError, match="not node variables"):
        resolve_node_variables(s, {"PYTHON": "x"})


def test_resolver_substitutes_on_its_own() -> None:
    r = Resolver(Problems(Location("f", 0)), "test", variables={"a": "1"}, parameters={"p": "${a}"})
    assert r.substitute("${a}/${p}") == "1/${a}"  # parameters are taken as given


# --------------------------------------------------------------------------- templates


def processor_template() -> object:
    body = server(
        "Processor-${index}",
        "${PYTHON}",
        activation="always",
        adapters=(
            AdapterDescriptor(
                "ProcessorAdapter",
                endpoints="tcp -h 127.0.0.1",
                objects=(ObjectDescriptor("Processor-${index}"),),
            ),
        ),
        property_set=props(("dir", "/var/processor${dir}")),
        line=20,
    )
    return template("ProcessorTemplate", body, "index", "dir", defaults={"dir": ""}, line=19)


def test_seed_nodes_each_get_their_processor() -> None:
    """The seed's node1/node2 snippet: ProcessorTemplate with index 1 and 2."""
    desc = application(
        node("node1", instance("ProcessorTemplate", index="1", line=3)),
        node("node2", instance("ProcessorTemplate", index="2", line=6)),
        templates=[processor_template()],  # type: ignore[list-item]
        variables={"PYTHON": "python"},
    )
    app = expand(desc)
    assert [(n.name, [s.id for s in n.servers]) for n in app.nodes.values()] == [
        ("node1", ["Processor-1"]),
        ("node2", ["Processor-2"]),
    ]
    p2 = app.nodes["node2"].servers[0]
    assert (p2.node, p2.application, p2.exe, p2.activation) == (
        "node2",
        "App",
        "python",
        Activation.ALWAYS,
    )
    assert p2.adapters[0].id == "Processor-2.ProcessorAdapter"
    assert ("dir", "/var/processor") in p2.properties


def test_index_used_twice_is_a_duplicate_server_id() -> None:
    desc = application(
        node("node1", instance("ProcessorTemplate", index="1", line=3)),
        node("node2", instance("ProcessorTemplate", index="1", line=6)),
        templates=[processor_template()],  # type: ignore[list-item]
        variables={"PYTHON": "python"},
    )
    assert problems(desc) == ["app.xml:6: duplicate server id `Processor-1' (also at app.xml:3)"]


def test_given_parameter_overrides_its_default() -> None:
    desc = application(
        node("n1", instance("ProcessorTemplate", index="0", dir="-a")),
        templates=[processor_template()],  # type: ignore[list-item]
        variables={"PYTHON": "python"},
    )
    assert ("dir", "/var/processor-a") in only_server(desc).properties


def test_template_instance_errors_are_all_reported() -> None:
    desc = application(
        node(
            "n1",
            instance("ProcessorTemplate", line=3),
            instance("ProcessorTemplate", index="1", colour="red", line=4),
            instance("NoSuchTemplate", line=5),
        ),
        templates=[processor_template()],  # type: ignore[list-item]
        variables={"PYTHON": "python"},
    )
    assert problems(desc) == [
        "app.xml:3: node `n1': missing parameter `index' for template `ProcessorTemplate' "
        "(no default)",
        "app.xml:4: node `n1': unknown parameter `colour' for template `ProcessorTemplate'",
        "app.xml:5: node `n1': unknown server template `NoSuchTemplate'",
    ]


def test_parameter_values_and_defaults_are_substituted_where_instantiated() -> None:
    tmpl = template("T", server("S-${a}", "${b}"), "a", "b", defaults={"b": "${node}"})
    desc = application(node("n1", instance("T", a="${v}"), variables={"v": "V"}), templates=[tmpl])
    s = only_server(desc)
    assert (s.id, s.exe) == ("S-V", "n1")


def test_parameter_hides_a_variable_of_the_same_name() -> None:
    tmpl = template("T", server("S", "${index}"), "index")
    desc = application(
        node("n1", instance("T", index="1")), templates=[tmpl], variables={"index": "v"}
    )
    assert only_server(desc).exe == "1"


def test_variables_do_not_see_template_parameters() -> None:
    """IceGrid resolves a variable's value without the parameters of the place of use."""
    tmpl = template("T", server("S", "${v}", line=8), "index")
    desc = application(
        node("n1", instance("T", index="1", line=3)), templates=[tmpl], variables={"v": "${index}"}
    )
    assert problems(desc) == [
        "app.xml:8: server `S' (instance of `T' at app.xml:3): undefined variable `index' in exe"
    ]


def test_errors_inside_a_template_name_the_instance() -> None:
    tmpl = template("T", server("S-${i}", "${missing}", line=8), "i")
    desc = application(
        node("n1", instance("T", i="1", line=3), instance("T", i="2", line=4)), templates=[tmpl]
    )
    assert problems(desc) == [
        "app.xml:8: server `S-1' (instance of `T' at app.xml:3): "
        "undefined variable `missing' in exe",
        "app.xml:8: server `S-2' (instance of `T' at app.xml:4): "
        "undefined variable `missing' in exe",
    ]


# --------------------------------------------------------------------------- property sets


def test_properties_flatten_in_icegrid_order() -> None:
    """References first (theirs before their own), then the element's own, then the
    server-instance's references and own properties, which therefore win."""
    tmpl = template(
        "T", server(property_set=props(("own", "1"), ("x", "template"), refs=["Outer"]))
    )
    desc = application(
        node(
            "n1",
            instance("T", property_set=props(("x", "instance"), refs=["Extra"])),
            property_sets={"Extra": props(("extra", "1"))},
        ),
        templates=[tmpl],
        property_sets={
            "Inner": props(("inner", "1")),
            "Outer": props(("outer", "1"), refs=["Inner"]),
        },
    )
    assert only_server(desc).properties == (
        ("inner", "1"),
        ("outer", "1"),
        ("own", "1"),
        ("x", "template"),
        ("extra", "1"),
        ("x", "instance"),
    )


def test_node_property_set_hides_the_application_set_of_the_same_id() -> None:
    desc = application(
        node(
            "n1",
            server(property_set=props(refs=["Common"])),
            property_sets={"Common": props(("from", "node"))},
        ),
        property_sets={"Common": props(("from", "app"))},
    )
    assert only_server(desc).properties == (("from", "node"),)


def test_named_set_is_substituted_in_the_scope_that_defines_it() -> None:
    """An application set sees application variables even on a node that redefines them."""
    desc = application(
        node("n1", server(property_set=props(refs=["A"])), variables={"v": "node"}),
        property_sets={"A": props(("v", "${v}"))},
        variables={"v": "app"},
    )
    assert only_server(desc).properties == (("v", "app"),)


def test_application_set_cannot_use_the_server_name() -> None:
    desc = application(node("n1"), property_sets={"A": props(("id", "${server}"), line=4)})
    assert problems(desc) == [
        "app.xml:4: application `App': undefined variable `server' in property `id'"
    ]


def test_unknown_property_set_reference_is_an_error_at_its_line() -> None:
    desc = on_node(server(property_set=props(refs=["Nope"], line=5)))
    assert problems(desc) == ["app.xml:5: unknown property set `Nope'"]


def test_property_set_reference_cycle_is_an_error() -> None:
    desc = application(
        node("n1"),
        property_sets={"a": props(refs=["b"], line=2), "b": props(refs=["a"], line=3)},
    )
    assert problems(desc) == [
        "app.xml:2: property set `b' refers to itself (b -> a -> b)",
        "app.xml:3: property set `a' refers to itself (a -> b -> a)",
    ]


def test_diamond_references_are_not_a_cycle() -> None:
    sets = {
        "base": props(("b", "1")),
        "left": props(refs=["base"]),
        "right": props(refs=["base"]),
        "top": props(refs=["left", "right"]),
    }
    desc = application(node("n1", server(property_set=props(refs=["top"]))), property_sets=sets)
    assert only_server(desc).properties == (("b", "1"), ("b", "1"))


def test_property_set_reference_may_use_a_variable() -> None:
    desc = application(
        node("n1", server(property_set=props(refs=["${kind}"]))),
        property_sets={"Py": props(("lang", "python"))},
        variables={"kind": "Py"},
    )
    assert only_server(desc).properties == (("lang", "python"),)


# --------------------------------------------------------------------------- adapters


def test_adapter_adds_icegrid_properties() -> None:
    adapter = AdapterDescriptor(
        "A",
        endpoints="tcp -p ${port}",
        replica_group="RG",
        proxy_options="-t",
        priority=" 2 ",
        objects=(ObjectDescriptor("obj-${server}", type="::T", property="A.Identity"),),
    )
    desc = application(
        node("n1", server(adapters=(adapter,), property_set=props(("own", "1")))),
        replica_groups=[ReplicaGroupDescriptor("RG")],
        variables={"port": "10000"},
    )
    s = only_server(desc)
    assert s.properties == (
        ("A.AdapterId", "S.A"),
        ("A.ReplicaGroupId", "RG"),
        ("A.Endpoints", "tcp -p 10000"),
        ("A.ProxyOptions", "-t"),
        ("A.Identity", "obj-S"),
        ("own", "1"),
    )
    (a,) = s.adapters
    assert (a.id, a.endpoints, a.replica_group, a.priority, a.proxy_options) == (
        "S.A",
        "tcp -p 10000",
        "RG",
        "2",
        "-t",
    )
    assert a.objects == (
        ObjectDescriptor("obj-S", type="::T", proxy_options="-t", property="A.Identity"),
    )


def test_explicit_adapter_id_and_own_object_proxy_options() -> None:
    adapter = AdapterDescriptor(
        "A", id="Explicit-${server}", objects=(ObjectDescriptor("o", proxy_options="-e 1.0"),)
    )
    (a,) = only_server(on_node(server(adapters=(adapter,)))).adapters
    assert (a.id, a.endpoints, a.objects[0].proxy_options) == ("Explicit-S", "default", "-e 1.0")


def test_property_overriding_endpoints_sets_the_adapter_endpoints() -> None:
    adapter = AdapterDescriptor("A", endpoints="tcp")
    desc = on_node(server(adapters=(adapter,), property_set=props(("A.Endpoints", "ssl -p 1"))))
    assert only_server(desc).adapters[0].endpoints == "ssl -p 1"


def test_empty_endpoints_are_an_error() -> None:
    adapter = AdapterDescriptor("A", endpoints="${none}", source=at(6))
    desc = application(node("n1", server(adapters=(adapter,))), variables={"none": ""})
    assert problems(desc) == ["app.xml:6: server `S': adapter `A' has empty endpoints"]


def test_unknown_replica_group_is_an_error() -> None:
    adapter = AdapterDescriptor("A", replica_group="Ghost", source=at(6))
    assert problems(on_node(server(adapters=(adapter,)))) == [
        "app.xml:6: server `S': adapter `A' refers to unknown replica group `Ghost'"
    ]


def test_log_and_dbenv_add_their_properties() -> None:
    desc = on_node(
        server(
            logs=(LogDescriptor("${server}.log", property="LogFile"),),
            dbenvs=(
                DbEnvDescriptor("db", properties=(Property("set_cachesize", "0 1 0"),)),
                DbEnvDescriptor("other", home="/data/${server}"),
            ),
        )
    )
    s = only_server(desc)
    assert s.properties == (
        ("Freeze.DbEnv.db.DbHome", "${node.data}/servers/S/dbs/db"),
        ("Freeze.DbEnv.other.DbHome", "/data/S"),
        ("LogFile", "S.log"),
    )
    assert s.logs == (LogDescriptor("S.log", property="LogFile"),)
    assert s.dbenvs[1].home == "/data/S"


def test_duplicate_adapter_ids_and_object_identities_are_errors() -> None:
    first = AdapterDescriptor("A", id="Same", objects=(ObjectDescriptor("obj"),), source=at(3))
    # The object has no line of its own: its server's line stands in.
    second = AdapterDescriptor("B", id="Same", objects=(ObjectDescriptor("rg-obj"),), source=at(7))
    desc = application(
        node("n1", server("S1", adapters=(first,), line=2), server("S2", adapters=(second,))),
        replica_groups=[
            ReplicaGroupDescriptor(
                "Same", objects=(ObjectDescriptor("obj", source=at(11)),), source=at(10)
            ),
        ],
    )
    assert problems(desc) == [
        "app.xml:2: duplicate object identity `obj' (also at app.xml:11)",
        "app.xml:3: duplicate adapter id `Same' (also at app.xml:10)",
        "app.xml:7: duplicate adapter id `Same' (also at app.xml:10)",
    ]


def test_allocatable_with_the_identity_of_an_object_is_not_a_duplicate() -> None:
    adapter = AdapterDescriptor(
        "A", objects=(ObjectDescriptor("o"),), allocatables=(ObjectDescriptor("o"),)
    )
    assert len(only_server(on_node(server(adapters=(adapter,)))).adapters[0].allocatables) == 1


def test_duplicate_replica_group_id_is_reported_as_such() -> None:
    desc = application(
        node("n1"),
        replica_groups=[
            ReplicaGroupDescriptor("RG", source=at(2)),
            ReplicaGroupDescriptor("RG", source=at(5)),
        ],
    )
    assert problems(desc) == ["app.xml:5: duplicate replica group id `RG' (also at app.xml:2)"]


# --------------------------------------------------------------------------- replica groups


def test_replica_groups_are_expanded() -> None:
    group = ReplicaGroupDescriptor(
        "${application}-RG",
        load_balancing=LoadBalancing(LoadBalancingType.ADAPTIVE, n_replicas="2", load_sample="5"),
        proxy_options="-t",
        description="group of ${application}",
        objects=(ObjectDescriptor("Jobs", type="::J"),),
    )
    (rg,) = expand(application(node("n1"), replica_groups=[group])).replica_groups
    assert (rg.id, rg.load_balancing, rg.n_replicas, rg.load_sample) == (
        "App-RG",
        LoadBalancingType.ADAPTIVE,
        2,
        5,
    )
    assert (rg.description, rg.objects) == (
        "group of App",
        (ObjectDescriptor("Jobs", "::J", "-t"),),
    )


def test_load_balancing_values_are_checked() -> None:
    desc = application(
        node("n1"),
        replica_groups=[
            ReplicaGroupDescriptor(
                "A", LoadBalancing(LoadBalancingType.ADAPTIVE, "-1", "7"), source=at(2)
            ),
            ReplicaGroupDescriptor("B", LoadBalancing(n_replicas="many"), source=at(3)),
            ReplicaGroupDescriptor("${nope}", source=at(4)),
        ],
    )
    assert problems(desc) == [
        "app.xml:2: replica group `A': n-replicas `-1' must not be negative",
        "app.xml:2: replica group `A': load-sample `7' must be 1, 5 or 15",
        "app.xml:3: replica group `B': n-replicas `many' is not an integer",
        "app.xml:4: replica group `${nope}': undefined variable `nope' in replica group id",
    ]


# --------------------------------------------------------------------------- IceBox


def icebox_application() -> ApplicationDescriptor:
    svc_tmpl = template(
        "SvcT",
        service(
            "${name}",
            "lib:${entry}",
            adapters=(AdapterDescriptor("A"),),
            property_set=props(("who", "${service}"), ("data", "${service.data}")),
        ),
        "name",
        "entry",
        defaults={"entry": "create"},
    )
    box = server(
        "${box}",
        "icebox",
        services=(
            ServiceInstanceDescriptor("SvcT", parameter_values={"name": "One"}),
            ServiceInstanceDescriptor(
                descriptor=service("Two", "lib:${box}", property_set=props(("x", "own"))),
                property_set=props(("x", "service-instance")),
            ),
        ),
    )
    box_tmpl = template("BoxT", box, "box")
    return application(
        node(
            "n1",
            instance(
                "BoxT",
                box="IB",
                service_property_sets={"${two}": props(("x", "server-instance"))},
            ),
        ),
        templates=[svc_tmpl, box_tmpl],
        variables={"two": "Two"},
    )


def test_icebox_services_are_expanded_from_templates_and_inline() -> None:
    s = only_server(icebox_application())
    assert s.is_icebox
    one, two = s.services or ()
    assert (one.name, one.entry, two.name, two.entry) == ("One", "lib:create", "Two", "lib:IB")
    assert one.adapters[0].id == "IB.One.A"
    assert one.properties == (
        ("A.AdapterId", "IB.One.A"),
        ("A.Endpoints", "default"),
        ("who", "One"),
        ("data", "${node.data}/servers/IB/data_One"),
    )
    assert two.properties == (("x", "own"), ("x", "service-instance"), ("x", "server-instance"))


def test_node_resolves_service_data_per_service() -> None:
    s = resolve_node_variables(only_server(icebox_application()), {"node.data": "/d"})
    assert ("data", "/d/servers/IB/data_One") in (s.services or ())[0].properties


def test_icebox_errors() -> None:
    box = server(
        "IB",
        "icebox",
        services=(
            ServiceInstanceDescriptor("Missing", source=at(4)),
            ServiceInstanceDescriptor("SvcT", parameter_values={"bogus": "1"}, source=at(5)),
            ServiceInstanceDescriptor(descriptor=service("${nope}", line=6)),
        ),
        line=3,
    )
    desc = application(
        node("n1", instance("BoxT", service_property_sets={"Ghost": props(line=9)}, line=8)),
        templates=[template("BoxT", box), template("SvcT", service("S"))],
    )
    assert problems(desc) == [
        "app.xml:4: server `IB' (instance of `BoxT' at app.xml:8): "
        "unknown service template `Missing'",
        "app.xml:5: server `IB' (instance of `BoxT' at app.xml:8): unknown parameter `bogus' "
        "for template `SvcT'",
        "app.xml:6: server `IB' (instance of `BoxT' at app.xml:8): undefined variable `nope' "
        "in service name",
        "app.xml:9: server `IB' (instance of `BoxT' at app.xml:8): properties for unknown "
        "service `Ghost'",
    ]


# --------------------------------------------------------------------------- server attributes


@pytest.mark.parametrize(
    ("written", "activation"),
    [("", Activation.MANUAL), ("${mode}", Activation.ON_DEMAND), ("always", Activation.ALWAYS)],
)
def test_activation_modes(written: str, activation: Activation) -> None:
    desc = application(node("n1", server(activation=written)), variables={"mode": "on-demand"})
    assert only_server(desc).activation is activation


def test_invalid_values_are_all_reported_at_their_lines() -> None:
    desc = application(
        node(
            "n1",
            server("A", activation="${mode}", activation_timeout="soon", line=3),
            server("B", deactivation_timeout="-5", exe="${empty}", line=4),
            server("C", exe="", line=5),
            load_factor="heavy",
            line=2,
        ),
        variables={"mode": "sometimes", "empty": ""},
    )
    assert problems(desc) == [
        "app.xml:2: node `n1': load-factor `heavy' is not a number",
        "app.xml:3: server `A': unknown activation `sometimes' "
        "(manual, on-demand, always or session)",
        "app.xml:3: server `A': activation-timeout `soon' is not an integer",
        "app.xml:4: server `B': exe `${empty}' substitutes to an empty string",
        "app.xml:4: server `B': deactivation-timeout `-5' must not be negative",
        "app.xml:5: server `C': exe is empty",
    ]


def test_numbers_c_plus_plus_would_not_read_are_refused() -> None:
    """IceGrid reads an `int` and a `float`: no 2**32 timeout (the node's uint32 field would
    overflow after deploy said yes), no `nan`, `inf` or `1_0` as Python's float() allows."""
    desc = application(
        node(
            "n1",
            server("A", activation_timeout="${big}", line=3),
            server("B", deactivation_timeout="4294967296", line=4),
            load_factor="${lf}",
            line=2,
        ),
        variables={"big": "99999999999", "lf": "nan"},
    )
    assert problems(desc) == [
        "app.xml:2: node `n1': load-factor `nan' is not a number",
        "app.xml:3: server `A': activation-timeout `99999999999' is out of range "
        "(a 32-bit integer)",
        "app.xml:4: server `B': deactivation-timeout `4294967296' is out of range "
        "(a 32-bit integer)",
    ]


@pytest.mark.parametrize("load_factor", ["inf", "1_0", "0x1p3", "1.5e"])
def test_load_factor_must_be_a_plain_decimal(load_factor: str) -> None:
    desc = application(
        node("n1", server(), load_factor="${lf}", line=2), variables={"lf": load_factor}
    )
    assert problems(desc) == [f"app.xml:2: node `n1': load-factor `{load_factor}' is not a number"]


def test_a_problem_quoting_a_multi_line_value_stays_on_one_line() -> None:
    desc = on_node(server(description="first line\n${oops\nthird line", line=2))
    assert problems(desc) == ["app.xml:2: server `S': unterminated `${' in `${oops' in description"]


def test_timeouts_are_integer_seconds() -> None:
    s = only_server(on_node(server(activation_timeout=" 30 ", deactivation_timeout="")))
    assert (s.activation_timeout, s.deactivation_timeout) == (30, 0)


def test_server_attributes_are_carried() -> None:
    distrib = DistributionDescriptor(directories=("lib-${server}",))
    desc = on_node(
        server(
            user="omero",
            ice_version="3.7",
            application_distrib=False,
            allocatable=True,
            description="the ${server}",
            distrib=distrib,
        ),
        load_factor="1.5",
        description="node ${node}",
    )
    app = expand(desc)
    s = app.nodes["n1"].servers[0]
    assert (s.user, s.ice_version, s.application_distrib, s.allocatable) == (
        "omero",
        "3.7",
        False,
        True,
    )
    assert s.description == "the S"
    assert s.distrib == DistributionDescriptor("App.IcePatch2/server", ("lib-S",))
    assert (app.nodes["n1"].load_factor, app.nodes["n1"].description) == (1.5, "node n1")


def test_empty_id_is_an_error() -> None:
    desc = application(node("n1", server("${blank}", line=3)), variables={"blank": ""})
    assert problems(desc) == [
        "app.xml:3: node `n1': server id `${blank}' substitutes to an empty string"
    ]


# --------------------------------------------------------------------------- the application


def test_application_lists_nodes_and_servers_in_descriptor_order() -> None:
    tmpl = template("T", server("T-${i}"), "i")
    desc = application(
        node("b", server("S2", line=12), instance("T", i="1", line=11), server("S3", line=13)),
        node("a", server("S1", line=21)),
        templates=[tmpl],
        description="made by ${application}",
        name="Site",
    )
    app = expand(desc, targets=["debug"])
    assert list(app.nodes) == ["b", "a"]
    assert [s.id for s in app.nodes["b"].servers] == ["T-1", "S2", "S3"]
    assert (app.name, app.description, app.targets) == ("Site", "made by Site", ("debug",))


def test_node_without_lines_keeps_instances_before_servers() -> None:
    tmpl = template("T", server("T-${i}"), "i")
    desc = application(node("n", server("S"), instance("T", i="1")), templates=[tmpl], line=None)
    assert [s.id for s in expand(desc).nodes["n"].servers] == ["T-1", "S"]


def test_problem_without_a_line_falls_back_to_the_application() -> None:
    desc = application(node("n1", server(exe="${x}")), line=None)
    assert problems(desc) == ["<descriptor>:0: server `S': undefined variable `x' in exe"]


# --------------------------------------------------------------------------- from XML


def parse(xml: str, targets: tuple[str, ...] = ()) -> ApplicationDescriptor:
    return parse_string(xml, file="default.xml", targets=targets)


def grid(nodes: str) -> str:
    """An application with the site's templates and `nodes`, as default.xml would be."""
    body = TEMPLATES_XML.read_text().split("<icegrid>")[1].split("</icegrid>")[0]
    return f'<icegrid><application name="Shoal">\n{body}\n{nodes}\n</application></icegrid>'


SEED_NODES = """<node name="master"/>
<node name="node1">
  <server-instance template="ProcessorTemplate" index="1"/>
</node>
<node name="node2">
  <server-instance template="ProcessorTemplate" index="2"/>
</node>"""


def test_seed_snippet_from_xml_with_the_site_templates() -> None:
    app = expand(
        parse(grid(SEED_NODES)), reserved={"SHOAL_HOME": "/srv", "PYTHON": "/usr/bin/python3"}
    )
    assert {n.name: [s.id for s in n.servers] for n in app.nodes.values()} == {
        "master": [],
        "node1": ["Processor-1"],
        "node2": ["Processor-2"],
    }
    p1 = app.nodes["node1"].servers[0]
    assert (p1.exe, p1.pwd, p1.options) == (
        "/usr/bin/python3",
        "/srv",
        ("-m", "shoal.jobs.processor"),
    )
    assert ("shoal.logging.directory", "/srv/var/log") in p1.properties


def test_debug_target_reaches_the_expanded_server() -> None:
    app = expand(
        parse(grid(SEED_NODES), targets=("debug",)),
        targets=("debug",),
        reserved={"SHOAL_HOME": "/srv", "PYTHON": "py"},
    )
    p1 = app.nodes["node1"].servers[0]
    assert p1.options[:2] == ("-X", "dev")
    assert app.targets == ("debug",)


def test_index_reused_in_xml_reports_both_lines() -> None:
    xml = grid(SEED_NODES.replace('index="2"', 'index="1"'))
    line = xml.splitlines().index('  <server-instance template="ProcessorTemplate" index="1"/>') + 1
    with pytest.raises(DescriptorError) as caught:
        expand(parse(xml), reserved={"SHOAL_HOME": "/srv", "PYTHON": "py"})
    assert [str(p) for p in caught.value.problems] == [
        f"default.xml:{line + 3}: duplicate server id `Processor-1' (also at default.xml:{line})"
    ]


def test_escapes_from_xml() -> None:
    xml = """<icegrid><application name="A">
  <variable name="name" value="Server1"/>
  <node name="n">
    <server id="S" exe="x">
      <property name="Escaped" value="$${name}"/>
      <property name="EscapeEscaped" value="$$${name}"/>
      <property name="EscapedEscapeEscaped" value="$$$${name}"/>
    </server>
  </node>
</application></icegrid>"""
    s = resolve_node_variables(expand(parse(xml)).servers()["S"], {})
    assert s.properties == (
        ("Escaped", "${name}"),
        ("EscapeEscaped", "$Server1"),
        ("EscapedEscapeEscaped", "$${name}"),
    )


def test_every_problem_is_reported_from_xml() -> None:
    xml = """<icegrid><application name="A">
  <node name="n">
    <server id="S" exe="${nope}" activation="${later}">
      <properties><properties refid="Ghost"/></properties>
    </server>
  </node>
</application></icegrid>"""
    with pytest.raises(DescriptorError) as caught:
        expand(parse(xml), variables={"later": "later"})
    assert str(caught.value).splitlines() == [
        "default.xml:3: server `S': undefined variable `nope' in exe",
        "default.xml:3: server `S': unknown activation `later' "
        "(manual, on-demand, always or session)",
        "default.xml:4: unknown property set `Ghost'",
    ]


def test_adapter_and_object_with_undefined_names_are_reported() -> None:
    adapter = AdapterDescriptor(
        "${a}", source=at(4), objects=(ObjectDescriptor("${o}", source=at(5)),)
    )
    good = AdapterDescriptor("B", source=at(6), objects=(ObjectDescriptor("${o}", source=at(7)),))
    assert problems(on_node(server(adapters=(adapter, good)))) == [
        "app.xml:4: server `S': undefined variable `a' in adapter name",
        "app.xml:7: server `S': undefined variable `o' in object identity",
    ]


def test_adapter_with_an_undefined_id_is_left_out_after_its_problem() -> None:
    adapter = AdapterDescriptor("A", id="${gone}", source=at(4))
    assert problems(on_node(server(adapters=(adapter,)))) == [
        "app.xml:4: server `S': undefined variable `gone' in adapter `A' id"
    ]


def test_object_identities_ice_cannot_parse_are_refused() -> None:
    """IceGrid reads each identity with stringToIdentity: one unescaped '/', a non-empty name."""
    objects = (
        ObjectDescriptor("a/b/c", source=at(5)),
        ObjectDescriptor("${cat}/", source=at(6)),
        ObjectDescriptor("Cat/ok\\/name", source=at(7)),
    )
    adapter = AdapterDescriptor("A", source=at(4), objects=objects)
    desc = application(node("n1", server(adapters=(adapter,))), variables={"cat": "Cat"})
    assert problems(desc) == [
        "app.xml:5: server `S': unescaped '/' in identity `a/b/c'",
        "app.xml:6: server `S': identity `Cat/' has an empty name",
    ]
