"""JSON Lines: splitting byte streams into lines and parsing them.

Two splitters with two contracts, side by side on purpose:
- ``split_lines`` keeps blank lines (callers number lines: upload validation says "line
  900,000") and caps a line while it streams, so a file without newlines cannot fill memory;
- ``iter_lines`` skips blank lines and never copies a block (the collector's hot path).
Both split on b"\\n" only: ``bytes.splitlines`` also splits on \\r, \\x0b, \\x1c..\\x1e and
\\x85, which can appear inside a provider's response text; JSONL records end with \\n alone.
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
