"""The parser is as strict as IceGrid: every problem is reported, each as `file:line: message`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shoal.descriptor.parser import parse_file, parse_string
from shoal.errors import DescriptorError, Problem


def problems(xml: str, targets: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        parse_string(textwrap.dedent(xml).lstrip(), file="app.xml", targets=targets)
    return [str(problem) for problem in caught.value.problems]


def app_problems(body: str) -> list[str]:
    """Problems of `body` placed in an application; the body starts on line 3."""
    body = textwrap.dedent(body).strip()
    return problems(f'<icegrid>\n<application name="App">\n{body}\n</application>\n</icegrid>\n')


def node_problems(body: str) -> list[str]:
    """Problems of `body` placed in node `n`; the body starts on line 4."""
    return app_problems(f'<node name="n">\n{textwrap.dedent(body).strip()}\n</node>')


# --------------------------------------------------------------------------- the document


def test_root_other_than_icegrid_is_refused() -> None:
    assert problems('<application name="A"/>') == [
        "app.xml:1: only the <icegrid> element is allowed at the top level, not <application>"
    ]


def test_a_descriptor_without_an_application_is_refused() -> None:
    assert problems("<icegrid>\n</icegrid>") == [
        "app.xml:1: no <application> element in this descriptor"
    ]


def test_more_than_one_application_is_refused() -> None:
    assert problems(
        """
        <icegrid>
          <application name="A"/>
          <application name="B"/>
        </icegrid>
        """
    ) == ["app.xml:3: only one <application> element is allowed"]


def test_nested_icegrid_is_refused() -> None:
    assert app_problems("<icegrid/>") == ["app.xml:3: element <icegrid> is a top level element"]


def test_attributes_on_icegrid_are_unknown() -> None:
    assert problems('<icegrid version="1">\n<application name="A"/>\n</icegrid>') == [
        "app.xml:1: unknown attribute 'version' in <icegrid>; allowed: none"
    ]


# --------------------------------------------------------------------------- generic rules


def test_unknown_element_is_reported_with_its_line() -> None:
    assert app_problems('<node name="n"/>\n<bogus/>') == ["app.xml:4: unknown element <bogus>"]


def test_element_under_a_wrong_parent_names_the_allowed_parents() -> None:
    assert app_problems('<server id="S" exe="e"/>') == [
        "app.xml:3: element <server> is not allowed in <application>; "
        "it can only be a child of <node> or <server-template>"
    ]


def test_unknown_attribute_is_reported_with_its_line_and_the_allowed_ones() -> None:
    assert app_problems('\n<node name="n" color="red"/>') == [
        "app.xml:3: unknown attribute 'color' in <node>; allowed: name, load-factor"
    ]


def test_missing_required_attribute_is_reported() -> None:
    assert node_problems('<server exe="e"/>') == ["app.xml:4: missing attribute 'id' in <server>"]


def test_node_without_a_name_is_reported() -> None:
    assert app_problems("<node/>") == ["app.xml:3: missing attribute 'name' in <node>"]


def test_empty_required_attribute_is_reported() -> None:
    assert app_problems('<node name=""/>') == ["app.xml:3: attribute 'name' of <node> is empty"]


@pytest.mark.parametrize(
    ("element", "attribute"),
    [
        ('<server id="S" exe="e" allocatable="yes"/>', "allocatable"),
        ('<server id="S" exe="e" application-distrib="True"/>', "application-distrib"),
        (
            '<server id="S" exe="e"><adapter name="A" register-process="1"/></server>',
            "register-process",
        ),
        (
            '<server id="S" exe="e"><adapter name="A" server-lifetime="no"/></server>',
            "server-lifetime",
        ),
    ],
)
def test_boolean_other_than_true_or_false_is_reported(element: str, attribute: str) -> None:
    (message,) = node_problems(element)
    assert message.startswith(f"app.xml:4: invalid attribute '{attribute}' of <")
    assert message.endswith("' is not 'true' or 'false'")


def test_boolean_on_the_application() -> None:
    assert problems(
        '<icegrid><application name="A" import-default-templates="yes"/></icegrid>'
    ) == [
        "app.xml:1: invalid attribute 'import-default-templates' of <application>: "
        "'yes' is not 'true' or 'false'"
    ]


def test_stray_text_inside_an_element_is_an_invalid_element_value() -> None:
    assert node_problems('<server id="S" exe="e">\n  junk\n</server>') == [
        "app.xml:5: invalid element value for element <server>: unexpected text 'junk'"
    ]


def test_stray_text_between_children_is_located_on_its_own_line() -> None:
    assert app_problems('<node name="a"/>\nstray words\n\n<node name="b"/>') == [
        "app.xml:4: invalid element value for element <application>: unexpected text 'stray words'"
    ]


def test_stray_text_after_the_last_child_is_located_after_it() -> None:
    assert app_problems('<node name="a">\n</node>\ntrailing') == [
        "app.xml:5: invalid element value for element <application>: unexpected text 'trailing'"
    ]


def test_stray_text_in_a_childless_element() -> None:
    assert app_problems('<node name="a">text</node>') == [
        "app.xml:3: invalid element value for element <node>: unexpected text 'text'"
    ]


def test_long_stray_text_is_shortened_to_one_line() -> None:
    (message,) = app_problems(f'<node name="a">{"x" * 60}\nsecond line</node>')
    assert message.endswith(f"unexpected text '{'x' * 37}...'")


def test_element_inside_a_text_element_is_reported() -> None:
    assert app_problems("<description>text <node name='n'/></description>") == [
        "app.xml:3: element <node> is not allowed in <description>; "
        "it can only be a child of <application>"
    ]


def test_leaf_elements_take_no_children() -> None:
    assert app_problems('<variable name="v"><node name="n"/></variable>') == [
        "app.xml:3: element <node> is not allowed in <variable>; "
        "it can only be a child of <application>"
    ]


# --------------------------------------------------------------------------- property sets


def test_nested_properties_may_only_hold_a_refid() -> None:
    assert app_problems(
        """
        <properties id="A">
          <properties id="B"/>
          <properties/>
        </properties>
        """
    ) == [
        'app.xml:4: only <properties refid="..."> can be a child of a <properties> element',
        'app.xml:5: only <properties refid="..."> can be a child of a <properties> element',
    ]


def test_nested_properties_refid_must_come_before_any_property() -> None:
    assert app_problems(
        """
        <properties id="A">
          <property name="p" value="1"/>
          <properties refid="B"/>
        </properties>
        """
    ) == ['app.xml:5: <properties refid="..."> must come before any <property> element']


def test_nested_properties_refid_takes_no_children() -> None:
    assert app_problems(
        '<properties id="A">\n'
        '<properties refid="B"><property name="p"/></properties>\n'
        "</properties>"
    ) == ['app.xml:4: element <property> is not allowed in a <properties refid="..."> element']


def test_named_property_set_needs_an_id() -> None:
    assert app_problems("<properties/>") == ["app.xml:3: missing attribute 'id' in <properties>"]


def test_unnamed_property_set_takes_no_attributes() -> None:
    assert node_problems('<server id="S" exe="e"><properties id="X"/></server>') == [
        "app.xml:4: unknown attribute 'id' in <properties>; allowed: none"
    ]


def test_server_instance_properties_service_may_not_be_empty() -> None:
    assert node_problems(
        '<server-instance template="T"><properties service=""/></server-instance>'
    ) == ["app.xml:4: attribute 'service' of <properties> is empty"]


def test_properties_in_a_template_outside_its_server_are_refused() -> None:
    assert app_problems(
        '<server-template id="T"><properties id="P"/><server id="S" exe="e"/></server-template>'
    ) == [
        "app.xml:3: element <properties> is not allowed in <server-template>; it can only be a "
        "child of <application> or <icebox> or <node> or <properties> or <server> or "
        "<server-instance> or <service> or <service-instance>"
    ]


# --------------------------------------------------------------------------- templates


def test_server_template_without_a_server_is_refused() -> None:
    assert app_problems('<server-template id="T">\n<parameter name="x"/>\n</server-template>') == [
        "app.xml:3: invalid server template 'T': server definition is missing"
    ]


def test_server_template_with_two_servers_is_refused() -> None:
    assert app_problems(
        '<server-template id="T">\n<server id="A" exe="e"/>\n'
        '<icebox id="B" exe="e"/>\n</server-template>'
    ) == ["app.xml:3: invalid server template 'T': more than one server or icebox"]


def test_service_template_without_or_with_two_services_is_refused() -> None:
    assert app_problems(
        """
        <service-template id="Empty"/>
        <service-template id="Two">
          <service name="a" entry="e"/>
          <service name="b" entry="e"/>
        </service-template>
        """
    ) == [
        "app.xml:3: invalid service template 'Empty': service definition is missing",
        "app.xml:4: invalid service template 'Two': more than one service",
    ]


def test_service_in_a_server_template_is_misplaced() -> None:
    assert app_problems(
        '<server-template id="T"><service name="s" entry="e"/></server-template>'
    ) == [
        "app.xml:3: element <service> is not allowed in <server-template>; "
        "it can only be a child of <icebox> or <service-template>",
        "app.xml:3: invalid server template 'T': server definition is missing",
    ]


def test_duplicate_template_ids_are_refused() -> None:
    assert app_problems(
        """
        <server-template id="T"><server id="A" exe="e"/></server-template>
        <server-template id="T"><server id="B" exe="e"/></server-template>
        <service-template id="T"><service name="a" entry="e"/></service-template>
        <service-template id="T"><service name="b" entry="e"/></service-template>
        """
    ) == [
        "app.xml:4: duplicate server template 'T'",
        "app.xml:6: duplicate service template 'T'",
    ]


def test_duplicate_template_parameter_is_refused() -> None:
    assert app_problems(
        '<server-template id="T">\n<parameter name="p"/>\n<parameter name="p" default="x"/>\n'
        '<server id="S" exe="e"/>\n</server-template>'
    ) == ["app.xml:5: duplicate parameter 'p'"]


# --------------------------------------------------------------------------- servers and icebox


def test_a_value_with_a_newline_is_quoted_on_one_line() -> None:
    """`&#10;` survives attribute normalisation; the problem must still be one line."""
    assert node_problems('<server id="S" exe="e" activation="some&#10;times"/>') == [
        "app.xml:4: invalid activation 'some\\ntimes'; allowed: manual, on-demand, always, "
        "session (or empty)"
    ]


def test_invalid_activation_lists_the_allowed_modes() -> None:
    assert node_problems('<server id="S" exe="e" activation="sometimes"/>') == [
        "app.xml:4: invalid activation 'sometimes'; allowed: manual, on-demand, always, session "
        "(or empty)"
    ]


@pytest.mark.parametrize("attribute", ["activation-timeout", "deactivation-timeout"])
@pytest.mark.parametrize("value", ["soon", "1.5", " "])
def test_timeouts_must_be_integers(attribute: str, value: str) -> None:
    assert node_problems(f'<server id="S" exe="e" {attribute}="{value}"/>') == [
        f"app.xml:4: invalid {attribute} '{value}': not an integer"
    ]


def test_icebox_may_not_contain_an_adapter_or_a_dbenv() -> None:
    assert node_problems(
        '<icebox id="B" exe="e">\n<adapter name="A"/>\n<dbenv name="D"/>\n</icebox>'
    ) == [
        "app.xml:5: <adapter> element can't be a child of an <icebox> element",
        "app.xml:6: <dbenv> element can't be a child of an <icebox> element",
    ]


def test_service_outside_an_icebox_is_misplaced() -> None:
    assert node_problems('<server id="S" exe="e"><service name="s" entry="e"/></server>') == [
        "app.xml:4: element <service> is not allowed in <server>; "
        "it can only be a child of <icebox> or <service-template>"
    ]


def test_adapter_id_present_but_empty_is_refused() -> None:
    assert node_problems('<server id="S" exe="e"><adapter name="A" id=""/></server>') == [
        "app.xml:4: attribute 'id' of <adapter> is empty"
    ]


def test_dbproperty_is_refused_when_the_dbenv_has_a_home() -> None:
    assert node_problems(
        '<server id="S" exe="e">\n<dbenv name="D" home="/db">\n<dbproperty name="p"/>\n'
        "</dbenv>\n</server>"
    ) == [
        "app.xml:6: <dbproperty> is only allowed in a <dbenv> with no home "
        "(its home is then managed by the node)"
    ]


def test_dbenv_description_may_appear_once() -> None:
    assert node_problems(
        '<server id="S" exe="e"><dbenv name="D">\n<description/>\n<description/>\n</dbenv></server>'
    ) == ["app.xml:6: only one <description> element is allowed in <dbenv>"]


def test_variable_without_a_name_is_reported_and_not_kept() -> None:
    assert app_problems('<variable value="x"/>') == [
        "app.xml:3: missing attribute 'name' in <variable>"
    ]


def test_log_needs_a_path_and_a_non_empty_property() -> None:
    assert node_problems(
        '<server id="S" exe="e">\n<log/>\n<log path="p" property=""/>\n</server>'
    ) == [
        "app.xml:5: missing attribute 'path' in <log>",
        "app.xml:6: attribute 'property' of <log> is empty",
    ]


@pytest.mark.parametrize("element", ["description", "distrib"])
def test_single_child_elements_may_appear_once(element: str) -> None:
    assert node_problems(f'<server id="S" exe="e">\n<{element}/>\n<{element}/>\n</server>') == [
        f"app.xml:6: only one <{element}> element is allowed in <server>"
    ]


# --------------------------------------------------------------------------- application level


def test_invalid_load_factor_is_reported() -> None:
    assert app_problems('<node name="n" load-factor="fast"/>') == [
        "app.xml:3: invalid load-factor 'fast' of <node>: not a float"
    ]


def test_replica_group_object_may_not_have_a_property() -> None:
    assert app_problems(
        '<replica-group id="RG">\n<object identity="O" property="P"/>\n</replica-group>'
    ) == ["app.xml:4: the 'property' attribute is not allowed on a replica group's <object>"]


def test_invalid_load_balancing_type_lists_the_policies() -> None:
    assert app_problems(
        '<replica-group id="RG"><load-balancing type="fastest"/></replica-group>'
    ) == [
        "app.xml:3: invalid load balancing type 'fastest'; "
        "allowed: random, ordered, round-robin, adaptive"
    ]


@pytest.mark.parametrize("n_replicas", ["-1", "two", "", "1.5"])
def test_n_replicas_must_be_a_non_negative_integer(n_replicas: str) -> None:
    assert app_problems(
        f'<replica-group id="RG"><load-balancing type="ordered" n-replicas="{n_replicas}"/>'
        "</replica-group>"
    ) == [f"app.xml:3: invalid n-replicas '{n_replicas}': not an integer >= 0"]


@pytest.mark.parametrize("sample", ["2", "ten"])
def test_load_sample_must_be_1_5_or_15(sample: str) -> None:
    assert app_problems(
        f'<replica-group id="RG"><load-balancing type="adaptive" load-sample="{sample}"/>'
        "</replica-group>"
    ) == [f"app.xml:3: invalid load-sample '{sample}'; allowed: 1, 5, 15"]


def test_load_sample_is_only_for_adaptive_load_balancing() -> None:
    assert app_problems(
        '<replica-group id="RG"><load-balancing type="random" load-sample="5"/></replica-group>'
    ) == [
        "app.xml:3: attribute 'load-sample' of <load-balancing> "
        "is only allowed with type 'adaptive'"
    ]


def test_load_balancing_may_appear_once() -> None:
    assert app_problems(
        '<replica-group id="RG">\n<load-balancing type="random"/>\n'
        '<load-balancing type="ordered"/>\n</replica-group>'
    ) == ["app.xml:5: only one <load-balancing> element is allowed in <replica-group>"]


def test_empty_load_balancing_type_is_reported_once() -> None:
    assert app_problems('<replica-group id="RG"><load-balancing type=""/></replica-group>') == [
        "app.xml:3: attribute 'type' of <load-balancing> is empty"
    ]


def test_duplicate_replica_group_ids_are_refused() -> None:
    assert app_problems('<replica-group id="RG"/>\n<replica-group id="RG"/>') == [
        "app.xml:4: duplicate replica group 'RG'"
    ]


def test_duplicate_property_set_ids_in_one_scope_are_refused() -> None:
    assert app_problems(
        """
        <properties id="P"/>
        <properties id="P"/>
        <node name="n">
          <properties id="P"/>
          <properties id="Q"/>
          <properties id="Q"/>
        </node>
        """
    ) == ["app.xml:4: duplicate property set 'P'", "app.xml:8: duplicate property set 'Q'"]


def test_duplicate_variables_in_one_scope_are_refused() -> None:
    assert app_problems(
        """
        <variable name="v" value="1"/>
        <variable name="v" value="2"/>
        <node name="n">
          <variable name="v" value="node scope is another scope"/>
          <variable name="w"/>
          <variable name="w"/>
        </node>
        """
    ) == ["app.xml:4: duplicate variable 'v'", "app.xml:8: duplicate variable 'w'"]


def test_a_reopened_node_is_one_scope_for_variables_and_property_sets() -> None:
    assert app_problems(
        """
        <node name="n"><variable name="v"/><properties id="P"/></node>
        <node name="n"><variable name="v"/><properties id="P"/></node>
        """
    ) == ["app.xml:4: duplicate variable 'v'", "app.xml:4: duplicate property set 'P'"]


# --------------------------------------------------------------------------- collection


def test_three_problems_in_one_file_are_all_reported_in_file_order() -> None:
    with pytest.raises(DescriptorError) as caught:
        parse_string(
            textwrap.dedent(
                """\
                <icegrid>
                  <application name="App">
                    <server-template id="T">
                      <parameter name="p" color="blue"/>
                    </server-template>
                    <node/>
                  </application>
                </icegrid>
                """
            ),
            file="app.xml",
        )
    assert str(caught.value) == "\n".join(
        [
            "app.xml:3: invalid server template 'T': server definition is missing",
            "app.xml:4: unknown attribute 'color' in <parameter>; allowed: name, default",
            "app.xml:6: missing attribute 'name' in <node>",
        ]
    )
    assert caught.value.problems[0] == Problem(
        "app.xml", 3, "invalid server template 'T': server definition is missing"
    )
    assert caught.value.hint


def test_problems_everywhere_in_the_tree_are_collected() -> None:
    found = node_problems(
        """
        <server id="S" exe="e" activation="x" user-name="u">
          <adapter name="A" register-process="maybe">
            <object/>
          </adapter>
          <log/>
        </server>
        """
    )
    assert found == [
        "app.xml:4: unknown attribute 'user-name' in <server>; allowed: id, exe, activation, "
        "activation-timeout, deactivation-timeout, pwd, user, ice-version, application-distrib, "
        "allocatable",
        "app.xml:4: invalid activation 'x'; allowed: manual, on-demand, always, session (or empty)",
        "app.xml:5: invalid attribute 'register-process' of <adapter>: 'maybe' is not 'true' or "
        "'false'",
        "app.xml:6: missing attribute 'identity' in <object>",
        "app.xml:8: missing attribute 'path' in <log>",
    ]


def test_parse_file_reports_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.xml"
    with pytest.raises(DescriptorError) as caught:
        parse_file(missing)
    assert str(caught.value) == f"{missing}:0: the descriptor does not exist"


# --------------------------------------------------------------------------- every attribute

SERVER_ATTRIBUTES = (
    "id, exe, activation, activation-timeout, deactivation-timeout, pwd, user, ice-version, "
    "application-distrib, allocatable"
)

# (where the element sits, the element with one unknown attribute, its IceGrid attributes)
# `{}` in the context marks where the element goes.
ATTRIBUTE_TABLE = [
    (
        "<icegrid>{}</icegrid>",
        '<application name="A" bogus="x"/>',
        "name, import-default-templates",
    ),
    ("{}", '<node name="n" bogus="x"/>', "name, load-factor"),
    ('<node name="n">{}</node>', '<server id="S" exe="e" bogus="x"/>', SERVER_ATTRIBUTES),
    ('<node name="n">{}</node>', '<icebox id="S" exe="e" bogus="x"/>', SERVER_ATTRIBUTES),
    (
        '<node name="n"><icebox id="B" exe="e">{}</icebox></node>',
        '<service name="s" entry="e" bogus="x"/>',
        "name, entry",
    ),
    ("{}", '<server-template id="T" bogus="x"><server id="S" exe="e"/></server-template>', "id"),
    (
        "{}",
        '<service-template id="T" bogus="x"><service name="s" entry="e"/></service-template>',
        "id",
    ),
    (
        '<server-template id="T">{}<server id="S" exe="e"/></server-template>',
        '<parameter name="p" bogus="x"/>',
        "name, default",
    ),
    (
        '<node name="n"><icebox id="B" exe="e">{}</icebox></node>',
        '<service-instance template="T" p="1"><properties bogus="x"/></service-instance>',
        "none",
    ),
    ("{}", '<properties id="P" bogus="x"/>', "id"),
    ('<node name="n">{}</node>', '<properties id="P" bogus="x"/>', "id"),
    (
        '<node name="n"><server-instance template="T">{}</server-instance></node>',
        '<properties service="s" bogus="x"/>',
        "service",
    ),
    ('<properties id="P">{}</properties>', '<properties refid="R" bogus="x"/>', "refid"),
    (
        '<properties id="P">{}</properties>',
        '<property name="p" value="v" bogus="x"/>',
        "name, value",
    ),
    (
        '<node name="n"><server id="S" exe="e">{}</server></node>',
        '<property name="p" bogus="x"/>',
        "name, value",
    ),
    (
        '<node name="n"><server id="S" exe="e">{}</server></node>',
        '<adapter name="A" bogus="x"/>',
        "name, id, replica-group, priority, register-process, server-lifetime, endpoints, "
        "proxy-options",
    ),
    (
        '<node name="n"><server id="S" exe="e"><adapter name="A">{}</adapter></server></node>',
        '<object identity="O" bogus="x"/>',
        "identity, type, proxy-options, property",
    ),
    (
        '<node name="n"><server id="S" exe="e"><adapter name="A">{}</adapter></server></node>',
        '<allocatable identity="O" bogus="x"/>',
        "identity, type, proxy-options, property",
    ),
    (
        '<replica-group id="RG">{}</replica-group>',
        '<object identity="O" bogus="x"/>',
        "identity, type, proxy-options",
    ),
    ("{}", '<replica-group id="RG" bogus="x"/>', "id, proxy-options, filter"),
    (
        '<replica-group id="RG">{}</replica-group>',
        '<load-balancing type="random" bogus="x"/>',
        "type, n-replicas",
    ),
    (
        '<replica-group id="RG">{}</replica-group>',
        '<load-balancing type="adaptive" bogus="x"/>',
        "type, n-replicas, load-sample",
    ),
    ("{}", '<variable name="v" bogus="x"/>', "name, value"),
    ('<node name="n">{}</node>', '<variable name="v" bogus="x"/>', "name, value"),
    ("{}", '<distrib bogus="x"/>', "icepatch"),
    ("<distrib>{}</distrib>", '<directory bogus="x">d</directory>', "none"),
    (
        '<node name="n"><server id="S" exe="e">{}</server></node>',
        '<dbenv name="D" bogus="x"/>',
        "name, home",
    ),
    (
        '<node name="n"><server id="S" exe="e"><dbenv name="D">{}</dbenv></server></node>',
        '<dbproperty name="p" bogus="x"/>',
        "name, value",
    ),
    (
        '<node name="n"><server id="S" exe="e">{}</server></node>',
        '<log path="p" bogus="x"/>',
        "path, property",
    ),
    ("{}", '<description bogus="x"/>', "none"),
    ('<node name="n"><server id="S" exe="e">{}</server></node>', '<option bogus="x"/>', "none"),
    ('<node name="n"><server id="S" exe="e">{}</server></node>', '<env bogus="x"/>', "none"),
    ("{}", '<target name="t" bogus="x"/>', "name"),
]


@pytest.mark.parametrize(("context", "element", "allowed"), ATTRIBUTE_TABLE)
def test_each_element_accepts_exactly_icegrids_attributes(
    context: str, element: str, allowed: str
) -> None:
    """One unknown attribute per element; the message lists every attribute IceGrid reads."""
    tag = element[1:].split(" ", 1)[0]
    if tag == "service-instance":
        tag = "properties"  # every attribute of a service-instance is a parameter value
    if context.startswith("<icegrid>"):
        found = problems(context.format(element))
    else:
        found = app_problems(context.format(element))
    assert [message.split(": ", 1)[1] for message in found] == [
        f"unknown attribute 'bogus' in <{tag}>; allowed: {allowed}"
    ]


def test_server_instance_attributes_are_all_parameter_values() -> None:
    assert node_problems('<server-instance index="1"/>') == [
        "app.xml:4: missing attribute 'template' in <server-instance>"
    ]
