"""JSON text that every line splitter reads as one line per record.

JSON allows U+0085, U+2028 and U+2029 raw inside strings, and orjson writes them raw, but
``str.splitlines()`` (and JavaScript before ES2019) ends a line at each of them. Written as
``\\u0085``, ``\\u2028``, ``\\u2029`` the text is the same JSON and stays one line. Every
other character ``splitlines`` breaks on (``\\n``, ``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``)
is a control character, which orjson always escapes.

In UTF-8 these encode as C2 85, E2 80 A8 and E2 80 A9, byte sequences that cannot occur
inside another character, so replacing the bytes is exact.
"""

from __future__ import annotations

from typing import Any

import orjson

# (last byte, encoded character, escape). The last byte is found with memchr first: it
# is rare in most text, and a three-byte search is several times slower.
_LINE_BREAKS = (
    (b"\xa8", "\u2028".encode(), b"\\u2028"),
    (b"\xa9", "\u2029".encode(), b"\\u2029"),
    (b"\x85", "\u0085".encode(), b"\\u0085"),
)


def escape_line_breaks(data: bytes) -> bytes:
    """UTF-8 JSON text with U+0085, U+2028 and U+2029 written as escapes."""
    for last, raw, escaped in _LINE_BREAKS:
        if last in data and raw in data:
            data = data.replace(raw, escaped)
    return data


def escape_line_breaks_text(text: str) -> str:
    """The same for JSON held as str (SNS messages, webhook bodies)."""
    for char, escaped in (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\u0085", "\\u0085")):
        if char in text:
            text = text.replace(char, escaped)
    return text


def dumps_line(value: Any) -> bytes:
    """One JSONL record: orjson, line breaks escaped, a newline."""
    return escape_line_breaks(orjson.dumps(value)) + b"\n"
