"""Turn descriptor text into an lxml tree safely: no entity declarations, no DTD, no network.

A byte scan refuses every `<!ENTITY` (billion laughs, XXE) and any DOCTYPE naming an external DTD
before libxml2 sees the document; lxml then parses with entities, DTD loading and the network off,
and the parsed tree is checked again for what the scan cannot read (an EBCDIC document...).
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from lxml import etree

__all__ = ["ENTITY_REFUSED", "EXTERNAL_REFUSED", "MAX_TEXT_LENGTH", "XmlRefused", "parse_xml"]

ENTITY_REFUSED = "entity declarations are not allowed (XML bomb / external entity protection)"
EXTERNAL_REFUSED = (
    "a DOCTYPE with an external reference (SYSTEM or PUBLIC) is not allowed "
    "(XML bomb / external entity protection)"
)

_LXML_POSITION = re.compile(r", line \d+, column \d+$")
# libxml2's XML_MAX_TEXT_LENGTH: the longest text node or attribute value without XML_PARSE_HUGE,
# which stays off (it would lift every limit that protects from a hostile document).
MAX_TEXT_LENGTH = 10_000_000
_ENCODING_DECLARATION = re.compile(r"""^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_DOCTYPE_HEAD = re.compile(rb"<!DOCTYPE\b(?P<head>[^\[>]*)")
_EXTERNAL_ID = re.compile(rb"\s(SYSTEM|PUBLIC)\b")
_WIDE_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


class XmlRefused(Exception):
    """The text is malformed or unsafe XML; `line` is 1-based (0 when libxml2 gives none)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_xml(data: str | bytes) -> etree._Element:
    """The root element of `data`; raises `XmlRefused` for malformed or unsafe XML."""
    if isinstance(data, str):
        # lxml refuses str with an encoding declaration; the text is already decoded.
        data = _ENCODING_DECLARATION.sub(r"\1\2UTF-8\2", data, count=1).encode("utf-8")
    refusal = _refusal(data)
    if refusal is not None:
        raise XmlRefused(*refusal)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        message = _LXML_POSITION.sub("", str(exc.msg))
        if "XML_PARSE_HUGE" in message:  # libxml2 suggests lifting every limit: no
            message = f"attribute or text too long (limit {MAX_TEXT_LENGTH:,} characters)"
        raise XmlRefused(exc.lineno or 0, f"malformed XML: {message}") from None
    # Defence in depth: an encoding the byte scan cannot read (EBCDIC...) is caught here.
    docinfo: Any = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise XmlRefused(1, ENTITY_REFUSED)
    if docinfo.system_url or docinfo.public_id:
        raise XmlRefused(1, EXTERNAL_REFUSED)
    return root


def _refusal(data: bytes) -> tuple[int, str] | None:
    """(line, message) for the first `<!ENTITY` or external DOCTYPE anywhere in `data`.

    The whole document is scanned, not one DOCTYPE: a `]>` or a DOCTYPE inside a comment must
    not hide a declaration from the scan. `<!ENTITY` cannot appear in a descriptor otherwise.
    """
    text = _ascii_view(data)
    entity = text.find(b"<!ENTITY")
    if entity >= 0:
        return text.count(b"\n", 0, entity) + 1, ENTITY_REFUSED
    for doctype in _DOCTYPE_HEAD.finditer(text):
        if _EXTERNAL_ID.search(doctype.group("head")):
            return text.count(b"\n", 0, doctype.start()) + 1, EXTERNAL_REFUSED
    return None


def _ascii_view(data: bytes) -> bytes:
    """The document as ASCII-compatible bytes for the scan (UTF-16/32 re-encoded)."""
    for prefix, encoding in _WIDE_ENCODINGS:
        if data.startswith(prefix):
            return data.decode(encoding, errors="replace").encode("utf-8")
    return data
