"""JSON Lines: splitting byte streams into lines and parsing them.

Two splitters with two contracts, side by side on purpose:
- ``split_lines`` keeps blank lines (callers number lines: upload validation says "line
  900,000") and caps a line while it streams, so a file without newlines cannot fill memory;
- ``iter_lines`` skips blank lines and never copies a block (the collector's hot path).
Both split on b"\\n" only: ``bytes.splitlines`` also splits on \\r, \\x0b, \\x1c..\\x1e and
\\x85, which can appear inside a provider's response text; JSONL records end with \\n alone.

Writing (``dumps_line``): JSON allows U+0085, U+2028 and U+2029 raw inside strings, and
orjson writes them raw, but ``str.splitlines()`` (and JavaScript before ES2019) ends a line
at each of them. Written as ``\\u0085``, ``\\u2028``, ``\\u2029`` the text is the same JSON
and stays one line. Every other character ``splitlines`` breaks on is a control character,
which orjson always escapes. In UTF-8 these encode as C2 85, E2 80 A8 and E2 80 A9, byte
sequences that cannot occur inside another character, so replacing the bytes is exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson


class LineTooLong(ValueError):
    """A line grew past the limit before its end was seen; ``line`` is its 1-based number."""

    def __init__(self, line: int, limit: int):
        super().__init__(f"line {line} is longer than {limit} bytes")
        self.line = line
        self.limit = limit


def split_lines(blocks: Iterable[bytes], *, max_line_bytes: int | None = None) -> Iterator[bytes]:
    """Lines of a byte stream, split on b"\\n" only (a JSON string may hold a raw \\r).

    Blank lines are kept (callers number lines). With ``max_line_bytes``, a line that grows
    past it raises LineTooLong at once, before it is buffered whole.
    """
    pending = bytearray()
    emitted = 0
    for block in blocks:
        start = 0
        while True:
            end = block.find(b"\n", start)
            if end < 0:
                pending += block[start:]
                break
            pending += block[start:end]
            emitted += 1
            yield bytes(pending)
            pending.clear()
            start = end + 1
        if max_line_bytes is not None and len(pending) > max_line_bytes:
            raise LineTooLong(emitted + 1, max_line_bytes)
    if pending:
        yield bytes(pending)


def iter_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines without their b"\\n"; blank lines (only whitespace) are skipped.

    Each line is one slice of its block; only a line that spans blocks is joined (the
    blocks themselves are never concatenated).
    """
    pending: list[bytes] = []   # the start of a line that spans blocks
    for block in blocks:
        if not block:
            continue
        end = block.find(b"\n")
        if end < 0:
            pending.append(block)
            continue
        if pending:
            pending.append(block[:end])
            line = b"".join(pending)
            pending = []
        else:
            line = block[:end]
        if line and not line.isspace():
            yield line
        start = end + 1
        find = block.find
        while (end := find(b"\n", start)) >= 0:
            if end > start:
                line = block[start:end]
                if not line.isspace():
                    yield line
            start = end + 1
        if start < len(block):
            pending.append(block[start:])
    if pending:
        line = b"".join(pending)
        if not line.isspace():
            yield line


def loads_line(line: bytes) -> Any:
    """One JSON line: orjson first (fast); the standard parser with ``strict=False`` only when
    orjson refuses it, as for a raw control character (e.g. a CR) inside a string, which
    providers' output can hold. Raises ValueError (json.JSONDecodeError) when neither parses."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line, strict=False)


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
