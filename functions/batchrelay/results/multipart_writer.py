"""Write an S3 object of unknown size as a stream, with bounded memory.

Bytes are copied into a part buffer of exactly ``part_size`` bytes (S3 needs >= 5 MiB for
every part but the last); a full buffer is uploaded on a background thread while writing
goes on in another. At most ``max_in_flight`` parts upload at once (writing waits for the
oldest when that many are out), so a writer holds at most ``max_in_flight + 1`` buffers,
whatever the object's size. Buffers are allocated once and reused, part after part (no
growth, no reallocation, nothing left to fragment the heap). An object that never fills
one part is written with one PutObject. The writer also counts bytes and lines and, when
asked, computes the SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from batchrelay.aws import clients
from batchrelay.settings import get_settings

MIN_PART_BYTES = 5 * 1024 * 1024
DEFAULT_PART_BYTES = MIN_PART_BYTES
DEFAULT_MAX_IN_FLIGHT = 2
_THREAD_PREFIX = "s3-part-upload"


@dataclass
class WrittenObject:
    key: str
    bytes: int
    lines: int
    sha256: str | None


class MultipartWriter:
    def __init__(
        self,
        key: str,
        *,
        part_size: int = DEFAULT_PART_BYTES,
        content_type: str = "application/x-ndjson",
        bucket: str | None = None,
        sha256: bool = False,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ):
        if part_size < MIN_PART_BYTES:
            raise ValueError("S3 parts other than the last must be at least 5 MiB")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.key = key
        self.bucket = bucket or get_settings().bucket_name
        self.part_size = part_size
        self.max_in_flight = max_in_flight
        self.content_type = content_type
        # The part being filled: allocated on the first write (an empty writer costs nothing).
        self._buffer: bytearray | None = None
        self._view: memoryview | None = None
        self._filled = 0
        self._free: list[bytearray] = []   # buffers whose upload finished, ready for reuse
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._hash = hashlib.sha256() if sha256 else None
        self._bytes = 0
        self._lines = 0
        self._closed = False
        self._uploader: ThreadPoolExecutor | None = None
        self._in_flight: deque[tuple[Future[None], bytearray]] = deque()

    def write(self, data: bytes | bytearray) -> None:
        size = len(data)
        if not size:
            return
        if self._hash is not None:
            self._hash.update(data)
        self._bytes += size
        self._lines += data.count(b"\n")
        source = memoryview(data)
        offset = 0
        while offset < size:
            if self._view is None:
                self._take_buffer()
            assert self._view is not None
            room = self.part_size - self._filled
            step = min(room, size - offset)
            self._view[self._filled : self._filled + step] = source[offset : offset + step]
            self._filled += step
            offset += step
            if self._filled == self.part_size:
                self._upload_part()

    def _take_buffer(self) -> None:
        self._buffer = self._free.pop() if self._free else bytearray(self.part_size)
        self._view = memoryview(self._buffer)
        self._filled = 0

    def _upload_part(self) -> None:
        """Send the buffer being filled as the next part (a full one, or the last)."""
        s3 = clients.s3()
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=self.max_in_flight, thread_name_prefix=_THREAD_PREFIX)
        while len(self._in_flight) >= self.max_in_flight:
            self._wait_oldest()
        assert self._buffer is not None and self._view is not None and self._uploader is not None
        buffer, filled = self._buffer, self._filled
        self._view.release()
        self._buffer, self._view, self._filled = None, None, 0
        # A full part goes as the buffer itself (no copy); only a short last part is copied out.
        body: bytes | bytearray = buffer if filled == len(buffer) else bytes(memoryview(buffer)[:filled])
        number = len(self._parts) + 1
        self._parts.append({"PartNumber": number})
        future = self._uploader.submit(self._send_part, s3, number, body)
        self._in_flight.append((future, buffer))

    def _send_part(self, s3: Any, number: int, body: bytes | bytearray) -> None:
        etag = s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )["ETag"]
        self._parts[number - 1]["ETag"] = etag

    def _wait_oldest(self) -> None:
        future, buffer = self._in_flight.popleft()
        try:
            future.result()
        finally:
            self._free.append(buffer)

    def _wait_all(self) -> None:
        while self._in_flight:
            self._wait_oldest()

    def _flush_last_part(self) -> None:
        if self._filled:
            self._upload_part()

    def close(self) -> WrittenObject:
        """Complete the object (idempotent)."""
        if not self._closed:
            s3 = clients.s3()
            if self._upload_id is None:
                body = bytes(self._view[: self._filled]) if self._view is not None else b""
                s3.put_object(Bucket=self.bucket, Key=self.key, Body=body, ContentType=self.content_type)
            else:
                self._flush_last_part()
                self._wait_all()
                s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
            self._closed = True
            self._release_buffers()
            self._stop_uploader(wait=not self._on_upload_thread())
        return WrittenObject(
            key=self.key, bytes=self._bytes, lines=self._lines,
            sha256=self._hash.hexdigest() if self._hash is not None else None,
        )

    def close_in_background(self) -> Future[WrittenObject]:
        """Complete the object on an upload thread; the caller goes on and waits later."""
        if self._upload_id is None or self._closed:
            done: Future[WrittenObject] = Future()
            done.set_result(self.close())
            return done
        self._flush_last_part()
        parts = [future for future, _ in self._in_flight]
        self._in_flight.clear()
        self._free.clear()
        assert self._uploader is not None
        # Submitted after every part: a worker takes it only once each part has started.
        return self._uploader.submit(self._complete_after_parts, parts)

    def _complete_after_parts(self, parts: list[Future[None]]) -> WrittenObject:
        wait(parts)
        for part in parts:
            part.result()   # a failed part fails the object
        return self.close()

    def abort(self) -> None:
        """Drop what was uploaded; the bucket's lifecycle rule also cleans stale uploads."""
        if not self._closed:
            # Best effort: the error that made us abort matters more than these.
            with contextlib.suppress(Exception):
                wait([future for future, _ in self._in_flight])
            if self._upload_id is not None:
                with contextlib.suppress(Exception):
                    clients.s3().abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        self._closed = True
        self._in_flight.clear()
        self._release_buffers()
        self._stop_uploader()

    def _release_buffers(self) -> None:
        if self._view is not None:
            self._view.release()
        self._buffer, self._view, self._filled = None, None, 0
        self._free.clear()

    def _stop_uploader(self, *, wait: bool = True) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=wait)
            self._uploader = None

    @staticmethod
    def _on_upload_thread() -> bool:
        return threading.current_thread().name.startswith(_THREAD_PREFIX)

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
