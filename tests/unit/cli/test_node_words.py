"""`shoal node [NAME] ACTION`: where the name comes from, reserved names, overrides."""

from __future__ import annotations

import click
import pytest

from shoal.cli.node import NodeInvocation, parse_node_words


def test_the_name_argument_comes_first() -> None:
    assert parse_node_words(["node1", "start"], {}, "host.example.org") == NodeInvocation(
        "node1", "start", ()
    )


def test_without_a_name_shoal_node_is_used_then_the_short_host_name() -> None:
    assert parse_node_words(["stop"], {"SHOAL_NODE": "w1"}, "h.example.org").name == "w1"
    assert parse_node_words(["status"], {}, "h.example.org").name == "h"


def test_property_overrides_are_kept_apart() -> None:
    found = parse_node_words(["node1", "start", "--Ice.Trace.Network=1"], {}, "h")
    assert found.overrides == ("--Ice.Trace.Network=1",)


@pytest.mark.parametrize(
    "words",
    [["node1"], [], ["node1", "frobnicate"], ["node1", "start", "extra"], ["start", "start"]],
)
def test_bad_words_are_usage_errors(words: list[str]) -> None:
    with pytest.raises(click.UsageError):
        parse_node_words(words, {}, "h")


def test_a_reserved_word_cannot_be_a_node_name_even_from_the_environment() -> None:
    with pytest.raises(click.UsageError, match="reserved"):
        parse_node_words(["start"], {"SHOAL_NODE": "restart"}, "h")


@pytest.mark.parametrize("action", ["start", "stop", "status", "restart"])
def test_the_action_may_come_first_as_omero_writes_it(action: str) -> None:
    found = parse_node_words([action, "node1", "--Ice.Trace.Network=1"], {}, "h")
    assert found == NodeInvocation("node1", action, ("--Ice.Trace.Network=1",))
