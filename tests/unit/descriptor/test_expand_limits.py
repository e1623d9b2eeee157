"""Expansion stays bounded on hostile descriptors (one located problem, never a RecursionError)
and reports the command-line variables nothing used."""

from __future__ import annotations

import time

import pytest

from shoal.descriptor import FIX_HINT
from shoal.descriptor.expand import expand, expand_report
from shoal.descriptor.parser import parse_string
from shoal.errors import DescriptorError


def app(body: str, server: str = '<server id="S" exe="python"/>') -> str:
    return (
        f'<icegrid><application name="A">{body}\n<node name="n">{server}</node>'
        "</application></icegrid>"
    )


def problems(xml: str) -> list[str]:
    started = time.perf_counter()
    with pytest.raises(DescriptorError) as caught:
        expand(parse_string(xml, "app.xml"))
    assert time.perf_counter() - started < 5
    assert caught.value.hint == FIX_HINT
    return [str(p) for p in caught.value.problems]


def test_a_chain_of_500_variables_is_one_problem_not_a_recursion_error() -> None:
    chain = "".join(f'<variable name="v{i}" value="${{v{i + 1}}}"/>' for i in range(500))
    xml = app(chain + '<variable name="v500" value="end"/>', '<server id="S" exe="${v0}"/>')
    assert problems(xml) == [
        "app.xml:2: server `S': variable chain deeper than 100 starting at `v0' in exe"
    ]


def test_a_chain_of_99_variables_still_resolves() -> None:
    chain = "".join(f'<variable name="v{i}" value="${{v{i + 1}}}"/>' for i in range(99))
    xml = app(chain + '<variable name="v99" value="end"/>', '<server id="S" exe="${v0}"/>')
    assert expand(parse_string(xml)).servers()["S"].exe == "end"


def test_variables_doubling_at_each_level_stop_at_the_value_limit() -> None:
    chain = "".join(
        f'<variable name="v{i}" value="${{v{i + 1}}}${{v{i + 1}}}"/>' for i in range(64)
    )
    xml = app(chain + '<variable name="v64" value="x"/>', '<server id="S" exe="${v0}"/>')
    assert problems(xml) == [
        "app.xml:2: server `S': value longer than 1,000,000 characters once substituted in exe"
    ]


def test_a_chain_of_3000_property_sets_is_one_problem_not_a_recursion_error() -> None:
    sets = "".join(
        f'<properties id="p{i}"><properties refid="p{i + 1}"/></properties>' for i in range(3000)
    )
    sets += '<properties id="p3000"><property name="a" value="b"/></properties>'
    found = problems(app(sets))
    assert found == ["app.xml:1: property set chain deeper than 100 starting at `p0'"]


def test_a_server_referring_to_a_long_chain_names_the_problem_at_its_properties() -> None:
    sets = "".join(
        f'<properties id="p{i}"><properties refid="p{i + 1}"/></properties>' for i in range(150)
    )
    sets += '<properties id="p150"/>'
    server = '\n<server id="S" exe="x"><properties><properties refid="p60"/></properties></server>'
    found = problems(app(sets, server))
    assert "app.xml:1: property set chain deeper than 100 starting at `p0'" in found


def test_property_sets_fanning_out_stop_at_the_read_limit() -> None:
    sets = "".join(
        f'<properties id="p{i}"><properties refid="p{i + 1}"/><properties refid="p{i + 1}"/>'
        "</properties>"
        for i in range(60)
    )
    found = problems(app(sets + '<properties id="p60"/>'))
    assert found == [
        "app.xml:1: property sets referred to from here expand to more than 100,000 "
        "references and properties"
    ]


# --------------------------------------------------------------------------- unused variables


def test_expand_report_names_the_overrides_nothing_used() -> None:
    xml = app(
        '<variable name="level" value="20"/>',
        '<server id="S" exe="python"><property name="lvl" value="${level}"/></server>',
    )
    report = expand_report(parse_string(xml), variables={"level": "10", "levle": "10"})
    assert report.unused_variables == ("levle",)
    assert report.application.servers()["S"].properties == (("lvl", "10"),)


def test_a_variable_used_only_through_another_counts_as_used() -> None:
    xml = app(
        '<variable name="a" value="${b}"/>',
        '<server id="S" exe="${a}"/>',
    )
    report = expand_report(parse_string(xml), variables={"b": "python"})
    assert report.unused_variables == ()
    assert report.application.servers()["S"].exe == "python"
