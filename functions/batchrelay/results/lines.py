"""Split a stream of byte blocks into lines on b"\\n" only, and parse JSON lines.

``bytes.splitlines`` also splits on \\r, \\x0b, \\x1c..\\x1e and \\x85, which can appear
inside a provider's response text; JSONL records end with \\n and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson


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
