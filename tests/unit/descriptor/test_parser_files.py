"""What the parser reads: regular files only, bounded; and what it says about files it refuses."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from shoal.descriptor import FIX_HINT, files
from shoal.descriptor.files import MAX_DESCRIPTOR_BYTES
from shoal.descriptor.parser import INCLUDE_HINT, parse_file, parse_file_result, parse_string
from shoal.descriptor.safe_xml import MAX_TEXT_LENGTH
from shoal.errors import DescriptorError


def write(path: Path, xml: str) -> Path:
    path.write_text(textwrap.dedent(xml).lstrip())
    return path


def including(tmp_path: Path, file: str) -> Path:
    return write(
        tmp_path / "main.xml",
        f'<icegrid>\n<application name="A">\n<include file="{file}"/>\n</application>\n</icegrid>',
    )


def refusal(path: Path, targets: tuple[str, ...] = ()) -> DescriptorError:
    with pytest.raises(DescriptorError) as caught:
        parse_file(path, targets)
    return caught.value


# --------------------------------------------------------------------------- special files


@pytest.mark.timeout(10)
def test_an_included_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    """`/dev/zero` has no end: reading it would eat all the memory."""
    error = refusal(including(tmp_path, "/dev/zero"))
    assert (
        str(error) == f"{tmp_path / 'main.xml'}:3: included file `/dev/zero' is not a regular file"
    )


@pytest.mark.timeout(10)
def test_an_included_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.xml")
    error = refusal(including(tmp_path, "pipe.xml"))
    assert str(error).endswith(f"`{tmp_path / 'pipe.xml'}' is not a regular file")


@pytest.mark.timeout(10)
def test_a_fifo_given_as_the_descriptor_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.xml")
    error = refusal(tmp_path / "pipe.xml")
    assert str(error) == f"{tmp_path / 'pipe.xml'}:0: the descriptor is not a regular file"


def test_a_directory_given_as_the_descriptor_is_a_directory(tmp_path: Path) -> None:
    error = refusal(tmp_path)
    assert str(error) == f"{tmp_path}:0: the descriptor is a directory"
    assert error.hint == FIX_HINT


def test_an_included_directory_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "grid").mkdir()
    error = refusal(including(tmp_path, "grid"))
    assert str(error).endswith(f"included file `{tmp_path / 'grid'}' is a directory")


def test_an_include_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "big.xml").open("wb") as big:
        big.truncate(MAX_DESCRIPTOR_BYTES + 1)  # sparse: costs no disk
    error = refusal(including(tmp_path, "big.xml"))
    assert str(error).endswith(f"`{tmp_path / 'big.xml'}' is larger than 16 MB")


def test_a_file_growing_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.xml", '<icegrid><application name="A"/></icegrid>')
    real_fstat = os.fstat

    def small_then(fd: int) -> os.stat_result:  # the size fstat saw, before the file grew
        status = list(real_fstat(fd))
        status[6] = 0  # st_size
        return os.stat_result(status)

    monkeypatch.setattr(files.os, "fstat", small_then)
    monkeypatch.setattr(files, "MAX_DESCRIPTOR_BYTES", 10)
    assert str(refusal(path)) == f"{path}:0: the descriptor is larger than 16 MB"


def test_a_descriptor_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    head = b'<icegrid><application name="A"/></icegrid>\n'
    comment = b"<!--" + b"x" * 1018 + b"-->\n"  # 1 KiB: libxml limits one text, not many
    padding = comment * ((MAX_DESCRIPTOR_BYTES - len(head)) // len(comment))
    data = head + padding
    (tmp_path / "a.xml").write_bytes(data + b" " * (MAX_DESCRIPTOR_BYTES - len(data)))
    assert parse_file(tmp_path / "a.xml").name == "A"


def test_an_unreadable_include_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a normal user a mode-0 file; simulated, since tests may run as root."""
    (tmp_path / "secret.xml").write_text("<icegrid/>")
    main = including(tmp_path, "secret.xml").read_bytes()

    def refuse(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files.os, "open", refuse)
    with pytest.raises(DescriptorError) as caught:
        parse_string(main, str(tmp_path / "main.xml"))
    secret = tmp_path / "secret.xml"
    assert str(caught.value).endswith(f"`{secret}' cannot be read: Permission denied")


def test_a_read_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "a.xml", '<icegrid><application name="A"/></icegrid>')

    def fail(fd: int, size: int) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "read", fail)
    assert str(refusal(path)) == f"{path}:0: the descriptor cannot be read: Input/output error"


# --------------------------------------------------------------------------- hints


def test_a_missing_relative_include_says_includes_are_relative_to_the_including_file(
    tmp_path: Path,
) -> None:
    """The README once copied default.xml to /tmp: its `templates.xml` include then broke."""
    error = refusal(including(tmp_path, "templates.xml"))
    assert str(error) == (
        f"{tmp_path / 'main.xml'}:3: included file `{tmp_path / 'templates.xml'}' does not exist "
        "(an include is relative to the including file)"
    )
    assert error.hint == INCLUDE_HINT
    assert "relative to the directory of the file that includes it" in error.hint


def test_a_missing_absolute_include_gets_the_plain_hint(tmp_path: Path) -> None:
    error = refusal(including(tmp_path, str(tmp_path / "gone.xml")))
    assert str(error).endswith("does not exist")
    assert error.hint == FIX_HINT


def test_the_hint_does_not_claim_a_deploy() -> None:
    """check and diff deploy nothing: the hint must be true for every command."""
    with pytest.raises(DescriptorError) as caught:
        parse_string("<icegrid/>")
    assert "deployed" not in caught.value.hint


# --------------------------------------------------------------------------- nesting


def test_includes_nested_too_deep_are_refused_without_a_recursion_error(tmp_path: Path) -> None:
    for level in range(200):
        write(tmp_path / f"l{level}.xml", f'<icegrid><include file="l{level + 1}.xml"/></icegrid>')
    write(tmp_path / "l200.xml", "<icegrid/>")
    error = refusal(including(tmp_path, "l0.xml"))
    assert [p.message for p in error.problems] == ["<include>s nested deeper than 50 files"]


# --------------------------------------------------------------------------- targets seen


APP_WITH_TARGETS = """
<icegrid>
  <application name="App">
    <node name="n1">
      <target name="debug"><variable name="x" value="1"/></target>
      <server id="S" exe="python"><target name="trace"><option>-v</option></target></server>
    </node>
  </application>
</icegrid>
"""


def test_parse_result_names_the_targets_that_matched_no_target_section(tmp_path: Path) -> None:
    path = write(tmp_path / "app.xml", APP_WITH_TARGETS)
    result = parse_file_result(path, ("debug", "secure", "App.n1.S.trace", "n2.debug"))
    assert result.unmatched_targets == ("secure", "n2.debug")
    assert result.application == parse_file(path, ("debug", "App.n1.S.trace"))


def test_parse_result_has_no_unmatched_targets_when_all_match(tmp_path: Path) -> None:
    path = write(tmp_path / "app.xml", APP_WITH_TARGETS)
    assert parse_file_result(path, ("App.n1.debug",)).unmatched_targets == ()


# --------------------------------------------------------------------------- wording


def problems(text: str) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        parse_string(textwrap.dedent(text).lstrip(), "app.xml")
    return [str(p) for p in caught.value.problems]


def test_unknown_element_suggests_the_closest_allowed_one() -> None:
    found = problems(
        '<icegrid><application name="A">\n<node name="n"><sever id="S"/></node>'
        "\n</application></icegrid>"
    )
    assert found == ["app.xml:2: unknown element <sever>; did you mean <server>?"]


def test_unknown_element_with_nothing_close_suggests_nothing() -> None:
    found = problems('<icegrid><application name="A">\n<zzzzzz/>\n</application></icegrid>')
    assert found == ["app.xml:2: unknown element <zzzzzz>"]


def test_a_refid_directly_in_a_server_says_to_wrap_it() -> None:
    found = problems(
        """
        <icegrid><application name="A"><node name="n">
          <server id="S" exe="python"><properties refid="Basics"/></server>
        </node></application></icegrid>
        """
    )
    assert found == [
        'app.xml:2: <properties refid="Basics"> cannot be used directly in <server>: '
        'wrap it in a <properties> element: <properties><properties refid="Basics"/></properties>'
    ]


def test_a_refid_directly_in_a_service_instance_says_to_wrap_it() -> None:
    found = problems(
        """
        <icegrid><application name="A"><node name="n">
          <icebox id="B" exe="icebox"><service-instance template="T">
            <properties refid="P"/>
          </service-instance></icebox>
        </node></application></icegrid>
        """
    )
    assert found[0].startswith('app.xml:3: <properties refid="P"> cannot be used directly in ')


def test_an_include_fragment_checked_alone_says_so() -> None:
    found = problems(
        """
        <icegrid>
          <server-template id="T"><server id="S" exe="python"/></server-template>
        </icegrid>
        """
    )
    assert found == [
        "app.xml:1: app.xml holds no <application>: it looks like an include fragment; "
        "check the file that includes it"
    ]


def test_text_over_libxml_limit_is_named_without_its_xml_parse_huge_advice() -> None:
    text = '<icegrid><application name="A" description="' + "x" * (MAX_TEXT_LENGTH + 1)
    found = problems(text + '"/></icegrid>')
    assert len(found) == 1
    assert "XML_PARSE_HUGE" not in found[0]
    assert found[0].endswith("attribute or text too long (limit 10,000,000 characters)")
