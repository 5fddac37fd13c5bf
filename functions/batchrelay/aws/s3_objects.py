"""Streaming reads of S3 objects as lines, and presigned URLs."""

from __future__ import annotations

from collections.abc import Iterator

from batchrelay.aws import clients

BLOCK_SIZE = 1024 * 1024


class LineTooLong(ValueError):
    """A line grew past the limit before its end was seen; ``line`` is its 1-based number."""

    def __init__(self, line: int, limit: int):
        super().__init__(f"line {line} is longer than {limit} bytes")
        self.line = line
        self.limit = limit


def split_lines(blocks: Iterator[bytes], *, max_line_bytes: int | None = None) -> Iterator[bytes]:
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


def iter_object_blocks(bucket: str, key: str, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    body = clients.s3().get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(block_size)
    finally:
        body.close()


def iter_object_lines(bucket: str, key: str, *, max_line_bytes: int | None = None) -> Iterator[bytes]:
    return split_lines(iter_object_blocks(bucket, key), max_line_bytes=max_line_bytes)


def presigned_get(bucket: str, key: str, expires_in: int) -> str:
    return clients.s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


def presigned_put(bucket: str, key: str, expires_in: int, content_type: str) -> str:
    return clients.s3().generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type}, ExpiresIn=expires_in
    )
