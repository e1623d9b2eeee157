"""DESCRIPTOR / TARGET / NAME=VALUE words: a mistyped file is an error, never a target; targets
and variables that match nothing are warned about."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shoal.cli.descriptors import WordUsageError, load_checked, split_words
from shoal.cli.exits import EXIT_USAGE, exit_code_for
from shoal.errors import ShoalError

APP = """
<icegrid>
  <application name="App">
    <node name="n1">
      <server id="S" exe="python">
        <property name="level" value="${level}"/>
        <target name="debug"><property name="debug" value="1"/></target>
      </server>
    </node>
    <variable name="level" value="20"/>
  </application>
</icegrid>
"""


@pytest.fixture
def default(tmp_path: Path) -> Path:
    path = tmp_path / "default.xml"
    path.write_text(textwrap.dedent(APP).lstrip())
    return path


def words(args: list[str], default: Path) -> tuple[Path, tuple[str, ...], dict[str, str]]:
    request = split_words(args, lambda: default)
    return request.descriptor, request.targets, request.variables


def test_a_mistyped_descriptor_is_an_error_not_a_target(default: Path, tmp_path: Path) -> None:
    """`admin check etc/grid/my-site.xlm` once checked default.xml and said OK."""
    with pytest.raises(ShoalError, match=r"^descriptor etc/grid/my-site.xlm does not exist$"):
        split_words(["etc/grid/my-site.xlm"], lambda: default)


def test_a_missing_xml_file_without_a_slash_is_an_error(default: Path) -> None:
    with pytest.raises(ShoalError, match=r"descriptor my-site\.xml does not exist"):
        split_words(["my-site.xml", "debug"], lambda: default)


def test_a_path_among_the_targets_is_an_error(default: Path, tmp_path: Path) -> None:
    with pytest.raises(ShoalError, match=r"descriptor etc/new\.xml does not exist"):
        split_words(["debug", "etc/new.xml"], lambda: default)
    with pytest.raises(ShoalError, match="is a file, not a target"):
        split_words([str(default), str(default)], lambda: default)


def test_a_directory_as_descriptor_is_a_directory(default: Path, tmp_path: Path) -> None:
    with pytest.raises(ShoalError, match=f"^descriptor {tmp_path}/ is a directory$"):
        split_words([f"{tmp_path}/"], lambda: default)


def test_a_missing_default_descriptor_is_named(tmp_path: Path) -> None:
    with pytest.raises(ShoalError, match="does not exist"):
        split_words([], lambda: tmp_path / "gone.xml")


def test_an_option_among_the_words_is_a_usage_error(default: Path) -> None:
    with pytest.raises(WordUsageError) as caught:
        split_words([str(default), "--verbose"], lambda: default)
    assert caught.value.message == "unknown option `--verbose'"
    assert exit_code_for(caught.value) == EXIT_USAGE


def test_plain_words_are_targets_and_assignments_variables(default: Path) -> None:
    assert words(["debug", "App.n1.trace", "level=10"], default) == (
        default,
        ("debug", "App.n1.trace"),
        {"level": "10"},
    )


def test_an_existing_file_first_is_the_descriptor(default: Path) -> None:
    assert words([str(default), "debug"], default) == (default, ("debug",), {})


def test_an_assignment_needs_a_name(default: Path) -> None:
    with pytest.raises(ShoalError, match="has no variable name"):
        split_words(["=1"], lambda: default)


def test_targets_and_variables_that_match_nothing_are_warned_about(default: Path) -> None:
    request = split_words(["debug", "secure", "level=10", "levle=10"], lambda: default)
    loaded = load_checked(request, None)
    assert loaded.warnings == (
        "target `secure' matches no <target> in the descriptor",
        "variable `levle' is never used (no ${levle} in what was deployed)",
    )
    assert dict(loaded.application.servers()["S"].properties) == {"level": "10", "debug": "1"}


def test_no_warning_when_every_word_is_used(default: Path) -> None:
    loaded = load_checked(split_words(["debug", "level=10"], lambda: default), None)
    assert loaded.warnings == ()


def test_without_a_site_a_used_shoal_home_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    descriptor = tmp_path / "app.xml"
    descriptor.write_text(
        '<icegrid><application name="A"><node name="n">'
        '<server id="S" exe="python" pwd="${SHOAL_HOME}"/></node></application></icegrid>'
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_checked(split_words([str(descriptor)], lambda: descriptor), None)
    assert loaded.warnings == (
        f"no site found: ${{SHOAL_HOME}} is the current directory ({tmp_path})",
    )


def test_without_a_site_an_unused_shoal_home_is_not_warned_about(default: Path) -> None:
    assert load_checked(split_words([], lambda: default), None).warnings == ()
