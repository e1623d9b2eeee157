"""Hostile or broken XML is refused quickly, with a clear message and no secret leaked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shoal.descriptor.parser import parse_file, parse_string
from shoal.errors import DescriptorError

ENTITY_REFUSED = "entity declarations are not allowed (XML bomb / external entity protection)"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE icegrid [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<icegrid><application name="&lol9;"><description>&lol9;</description></application></icegrid>
"""


def refusal(text: str | bytes, file: str = "app.xml") -> tuple[list[str], float]:
    started = time.perf_counter()
    with pytest.raises(DescriptorError) as caught:
        parse_string(text, file=file)
    return [str(p) for p in caught.value.problems], time.perf_counter() - started


def test_billion_laughs_is_refused_well_under_a_second() -> None:
    found, elapsed = refusal(BILLION_LAUGHS)
    assert found == [f"app.xml:3: {ENTITY_REFUSED}"]
    assert elapsed < 0.5


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_billion_laughs_in_a_wide_encoding_is_refused(encoding: str) -> None:
    text = BILLION_LAUGHS.replace(
        '<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>'
    )
    found, elapsed = refusal(text.encode(encoding))
    assert found == [f"app.xml:3: {ENTITY_REFUSED}"]
    assert elapsed < 0.5


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-VALUE")
    return path


def test_external_entity_is_refused_and_the_file_never_read(secret: Path) -> None:
    xxe = (
        f'<?xml version="1.0"?>\n<!DOCTYPE icegrid [\n<!ENTITY xxe SYSTEM "file://{secret}">\n]>\n'
        '<icegrid><application name="&xxe;">'
        "<description>&xxe;</description></application></icegrid>"
    )
    found, elapsed = refusal(xxe)
    assert found == [f"app.xml:3: {ENTITY_REFUSED}"]
    assert "TOP-SECRET" not in "".join(found)
    assert elapsed < 0.5


def test_etc_passwd_external_entity_is_refused() -> None:
    xxe = (
        '<!DOCTYPE icegrid [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<icegrid><application name="A"><description>&xxe;</description></application></icegrid>'
    )
    found, _ = refusal(xxe)
    assert found == [f"app.xml:1: {ENTITY_REFUSED}"]
    assert "root:" not in "".join(found)


def test_parameter_entity_is_refused(secret: Path) -> None:
    xxe = (
        f'<!DOCTYPE icegrid [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'
        '<icegrid><application name="A"/></icegrid>'
    )
    assert refusal(xxe)[0] == [f"app.xml:1: {ENTITY_REFUSED}"]


def test_external_dtd_reference_is_refused(secret: Path) -> None:
    text = (
        f'\n<!DOCTYPE icegrid SYSTEM "file://{secret}">\n<icegrid><application name="A"/></icegrid>'
    )
    assert refusal(text)[0] == [
        "app.xml:2: a DOCTYPE with an external reference (SYSTEM or PUBLIC) is not allowed "
        "(XML bomb / external entity protection)"
    ]


def test_external_dtd_in_utf16_is_refused() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE icegrid PUBLIC "-//x//y" "http://example.invalid/x.dtd">\n'
        '<icegrid><application name="A"/></icegrid>'
    )
    found, _ = refusal(text.encode("utf-16"))
    assert found == [
        "app.xml:2: a DOCTYPE with an external reference (SYSTEM or PUBLIC) is not allowed "
        "(XML bomb / external entity protection)"
    ]


def test_entity_in_an_included_file_is_refused_with_that_files_name(tmp_path: Path) -> None:
    (tmp_path / "bomb.xml").write_text(BILLION_LAUGHS)
    main = tmp_path / "main.xml"
    main.write_text(
        '<icegrid><application name="A"><include file="bomb.xml"/></application></icegrid>'
    )
    with pytest.raises(DescriptorError) as caught:
        parse_file(main)
    assert str(caught.value) == f"{tmp_path / 'bomb.xml'}:3: {ENTITY_REFUSED}"


def test_malformed_xml_gives_one_problem_with_lxmls_line_and_message() -> None:
    found, _ = refusal(
        '<icegrid>\n<application name="A">\n<node name="n">\n</application>\n</icegrid>'
    )
    assert found == [
        "app.xml:4: malformed XML: Opening and ending tag mismatch: node line 3 and application"
    ]


def test_empty_document_is_malformed() -> None:
    assert refusal("")[0] == ["app.xml:1: malformed XML: Document is empty"]


def test_undeclared_entity_is_malformed() -> None:
    found, _ = refusal('<icegrid>\n<application name="&nope;"/>\n</icegrid>')
    assert found == ["app.xml:2: malformed XML: Entity 'nope' not defined"]


def test_bytes_with_an_encoding_that_does_not_match_are_malformed() -> None:
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<icegrid><application name="é"/></icegrid>'
    (message,) = refusal(text.encode("iso-8859-1"))[0]
    assert message.startswith("app.xml:2: malformed XML: ")


def test_the_parsed_tree_is_checked_again_for_what_the_byte_scan_cannot_see(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defence in depth: an encoding the scan cannot read still meets the docinfo check."""
    from shoal.descriptor import safe_xml

    monkeypatch.setattr(safe_xml, "_refusal", lambda data: None)
    found, _ = refusal(
        '<!DOCTYPE icegrid [<!ENTITY a "x">]><icegrid><application name="A"/></icegrid>'
    )
    assert found == [f"app.xml:1: {ENTITY_REFUSED}"]
    found, _ = refusal(
        '<!DOCTYPE icegrid SYSTEM "x.dtd"><icegrid><application name="A"/></icegrid>'
    )
    assert found == [
        "app.xml:1: a DOCTYPE with an external reference (SYSTEM or PUBLIC) is not allowed "
        "(XML bomb / external entity protection)"
    ]


def test_a_bracket_in_a_comment_does_not_hide_entities_from_the_scan() -> None:
    """`]>` inside a comment ends a naive DOCTYPE match before the declarations."""
    text = BILLION_LAUGHS.replace("<!DOCTYPE icegrid [\n", "<!DOCTYPE icegrid [\n<!-- ]> -->\n")
    found, elapsed = refusal(text)
    assert found == [f"app.xml:4: {ENTITY_REFUSED}"]
    assert elapsed < 0.5


def test_a_doctype_in_a_comment_does_not_hide_the_real_one() -> None:
    text = BILLION_LAUGHS.replace('<?xml version="1.0"?>\n', "<!-- <!DOCTYPE decoy> -->\n")
    found, elapsed = refusal(text)
    assert found == [f"app.xml:3: {ENTITY_REFUSED}"]
    assert elapsed < 0.5


def test_an_external_doctype_after_a_decoy_in_a_comment_is_refused() -> None:
    text = (
        "<!-- <!DOCTYPE decoy> -->\n"
        '<!DOCTYPE icegrid SYSTEM "file:///etc/passwd">\n<icegrid><application name="A"/></icegrid>'
    )
    assert refusal(text)[0] == [
        "app.xml:2: a DOCTYPE with an external reference (SYSTEM or PUBLIC) is not allowed "
        "(XML bomb / external entity protection)"
    ]
