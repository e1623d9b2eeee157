"""Ice's string helpers (IceUtilInternal::splitString, checkQuote, escapeString, unescapeString).

Shared by the property and endpoint parsers; private to `shoal.config`.
"""

from __future__ import annotations

import re

_INT_RE = re.compile(r"[+-]?[0-9]+")


def split_words(text: str, delimiters: str) -> list[str]:
    """IceUtilInternal::splitString: split on delimiters outside '…' or "…" (quotes removed).

    Raises ValueError on an unbalanced quote.
    """
    result: list[str] = []
    element: list[str] = []
    quote = ""
    pos = 0
    while pos < len(text):
        char = text[pos]
        if not quote and char in "\"'":
            quote = char
            pos += 1
            continue
        escapable = quote or "\"'"  # outside quotes both escape; inside only the open one
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in escapable:
            pos += 1
        elif quote and char == quote:
            quote = ""
            pos += 1
            continue
        elif not quote and char in delimiters:
            pos += 1
            if element:
                result.append("".join(element))
                element = []
            continue
        element.append(text[pos])
        pos += 1
    if quote:
        raise ValueError("mismatched quotes")
    if element:
        result.append("".join(element))
    return result


def parse_int32(text: str) -> int | None:
    """istringstream >> Ice::Int: optional sign, decimal digits, nothing after, fits 32 bits."""
    if not _INT_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


_NAMED_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE_NAMES = {value: key for key, value in _NAMED_ESCAPES.items()}
_HEX = "0123456789abcdefABCDEF"


def escape(text: str, special: str) -> str:
    """IceUtilInternal::escapeString in ToStringMode::Unicode (non-ASCII kept as is)."""
    out: list[str] = []
    for char in text:
        if char in "\\'\"":
            out.append("\\" + char)
        elif char in _ESCAPE_NAMES:
            out.append("\\" + _ESCAPE_NAMES[char])
        elif char in special:
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def unescape(text: str, special: str) -> str:
    """IceUtilInternal::unescapeString; raises ValueError with Ice's reason.

    Escapes may produce raw bytes (`\\x`, octal), so the result is built as UTF-8 and decoded.
    """
    out = bytearray()
    pos = 0
    end = len(text)
    while pos < end:
        char = text[pos]
        if char != "\\":
            if ord(char) < 32 or ord(char) == 127:
                where = f"character after `{text[:pos]}'" if pos else "first character"
                raise ValueError(f"{where} has invalid ordinal value {ord(char)}")
            out += char.encode()
            pos += 1
            continue
        if pos + 1 == end:
            out += b"\\"  # Ice keeps a trailing backslash
            pos += 1
            continue
        pos += 1
        char = text[pos]
        if char in "\\'\"?":
            out += char.encode()
            pos += 1
        elif char in _NAMED_ESCAPES:
            out += _NAMED_ESCAPES[char].encode()
            pos += 1
        elif char in "uU":
            size = 4 if char == "u" else 8
            digits = text[pos + 1 : pos + 1 + size]
            if len(digits) < size or any(d not in _HEX for d in digits):
                raise ValueError("Invalid universal character name: too few hex digits")
            code_point = int(digits, 16)
            if code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
                raise ValueError(f"Invalid universal character name: \\{char}{digits}")
            out += chr(code_point).encode()
            pos += 1 + size
        elif char in "01234567":
            value = 0
            for _ in range(3):
                if pos < end and text[pos] in "01234567":
                    value = value * 8 + int(text[pos])
                    pos += 1
                else:
                    break
            if value > 255:
                raise ValueError(f"octal value \\{value:o} ({value}) is out of range")
            out.append(value)
        elif char == "x":
            digits = ""
            pos += 1
            while len(digits) < 2 and pos < end and text[pos] in _HEX:
                digits += text[pos]
                pos += 1
            if not digits:
                raise ValueError("Invalid \\x escape sequence: no hex digit")
            out.append(int(digits, 16))
        else:
            if char not in special:
                out += b"\\"  # not special: Ice keeps the backslash
            if ord(char) < 32 or ord(char) == 127:
                raise ValueError(
                    f"character after `{text[:pos]}' has invalid ordinal value {ord(char)}"
                )
            out += char.encode()
            pos += 1
    try:
        return out.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"escapes do not form valid UTF-8 ({exc.reason})") from exc


def closing_quote(text: str, start: int) -> int:
    """IceUtilInternal::checkQuote: index of the closing quote, 0 if not quoted, -1 if unmatched.

    Unlike Ice, a quote preceded by an even number of backslashes (an escaped backslash) closes.
    """
    quote = text[start]
    if quote not in "\"'":
        return 0
    pos = start + 1
    while True:
        pos = text.find(quote, pos)
        if pos < 0:
            return -1
        backslashes = 0
        while text[pos - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return pos
        pos += 1
