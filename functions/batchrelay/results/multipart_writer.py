"""Write an S3 object of unknown size as a stream, with bounded memory.

Parts are uploaded once ``part_size`` bytes are buffered (S3 needs >= 5 MiB for every
part but the last), on a background thread so that producing the next part overlaps the
upload of the previous one; at most one upload is in flight, so a writer holds at most
two parts. An object that never fills one part is written with one PutObject.
The writer also counts bytes and lines and, when asked, computes the SHA-256.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from batchrelay.aws import clients
from batchrelay.settings import get_settings

MIN_PART_BYTES = 5 * 1024 * 1024
DEFAULT_PART_BYTES = MIN_PART_BYTES
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
    ):
        if part_size < MIN_PART_BYTES:
            raise ValueError("S3 parts other than the last must be at least 5 MiB")
        self.key = key
        self.bucket = bucket or get_settings().bucket_name
        self.part_size = part_size
        self.content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._hash = hashlib.sha256() if sha256 else None
        self._bytes = 0
        self._lines = 0
        self._closed = False
        self._uploader: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        if self._hash is not None:
            self._hash.update(data)
        self._bytes += len(data)
        self._lines += data.count(b"\n")
        if len(self._buffer) >= self.part_size:
            self._upload_part()

    def _upload_part(self) -> None:
        s3 = clients.s3()
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_THREAD_PREFIX)
        self._wait_in_flight()
        number = len(self._parts) + 1
        # The full buffer goes to the uploader as is (no copy); writing continues in a new one.
        body, self._buffer = self._buffer, bytearray()
        self._parts.append({"PartNumber": number})
        assert self._uploader is not None
        self._in_flight = self._uploader.submit(self._send_part, s3, number, body)

    def _send_part(self, s3: Any, number: int, body: bytearray) -> None:
        etag = s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )["ETag"]
        self._parts[number - 1]["ETag"] = etag

    def _wait_in_flight(self) -> None:
        if self._in_flight is not None:
            future, self._in_flight = self._in_flight, None
            future.result()

    def close(self) -> WrittenObject:
        """Complete the object (idempotent)."""
        if not self._closed:
            s3 = clients.s3()
            if self._upload_id is None:
                s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType=self.content_type
                )
            else:
                if self._buffer:
                    self._upload_part()
                self._wait_in_flight()
                s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
            self._buffer = bytearray()
            self._closed = True
            self._stop_uploader(wait=not self._on_upload_thread())
        return WrittenObject(
            key=self.key, bytes=self._bytes, lines=self._lines,
            sha256=self._hash.hexdigest() if self._hash is not None else None,
        )

    def close_in_background(self) -> Future[WrittenObject]:
        """Complete the object on the upload thread; the caller goes on and waits later."""
        if self._upload_id is None or self._closed:
            done: Future[WrittenObject] = Future()
            done.set_result(self.close())
            return done
        if self._buffer:
            self._upload_part()
        assert self._uploader is not None
        return self._uploader.submit(self._complete_after_parts)

    def _complete_after_parts(self) -> WrittenObject:
        # Runs on the single upload thread, after every part submitted before it.
        self._in_flight = None
        return self.close()

    def abort(self) -> None:
        """Drop what was uploaded; the bucket's lifecycle rule also cleans stale uploads."""
        if not self._closed:
            # Best effort: the error that made us abort matters more than these.
            with contextlib.suppress(Exception):
                self._wait_in_flight()
            if self._upload_id is not None:
                with contextlib.suppress(Exception):
                    clients.s3().abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        self._closed = True
        self._buffer = bytearray()
        self._stop_uploader()

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
