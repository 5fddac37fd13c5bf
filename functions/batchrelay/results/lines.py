"""Split a stream of byte blocks into lines on b"\\n" only.

``bytes.splitlines`` also splits on \\r, \\x0b, \\x1c..\\x1e and \\x85, which can appear
inside a provider's response text; JSONL records end with \\n and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def iter_lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines without their b"\\n"; blank lines (only whitespace) are skipped."""
    pending = b""
    for block in blocks:
        if not block:
            continue
        if pending:
            block = pending + block
        start = 0
        while True:
            end = block.find(b"\n", start)
            if end < 0:
                break
            line = block[start:end]
            if line and not line.isspace():
                yield line
            start = end + 1
        pending = block[start:]
    if pending and not pending.isspace():
        yield pending
