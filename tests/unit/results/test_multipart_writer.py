"""MultipartWriter against a recording S3 stand-in: exact parts, bounded buffers, completion."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from batchrelay.results import multipart_writer
from batchrelay.results.multipart_writer import MIN_PART_BYTES, MultipartWriter


class RecordingS3:
    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.parts: dict[int, bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.uploading = 0
        self.max_uploading = 0
        self.aborted = False
        self._lock = threading.Lock()

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        return {"UploadId": "u1"}

    def upload_part(self, *, PartNumber: int, Body: bytes | bytearray, **kwargs: Any) -> dict[str, str]:
        with self._lock:
            self.uploading += 1
            self.max_uploading = max(self.max_uploading, self.uploading)
        time.sleep(self.delay)
        self.parts[PartNumber] = bytes(Body)
        with self._lock:
            self.uploading -= 1
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, *, Key: str, MultipartUpload: dict[str, Any], **kwargs: Any) -> None:
        numbers = [p["PartNumber"] for p in MultipartUpload["Parts"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(p["ETag"] == f"e{p['PartNumber']}" for p in MultipartUpload["Parts"])
        self.objects[Key] = b"".join(self.parts[n] for n in numbers)

    def put_object(self, *, Key: str, Body: bytes, **kwargs: Any) -> None:
        self.objects[Key] = bytes(Body)

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        self.aborted = True


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> RecordingS3:
    fake = RecordingS3(delay=0.02)
    monkeypatch.setattr(multipart_writer.clients, "s3", lambda: fake)
    return fake


def _data(size: int) -> bytes:
    line = b'{"x": "' + b"abcdefgh" * 50 + b'"}\n'
    return (line * (size // len(line) + 1))[:size]


def test_parts_are_exactly_part_size_and_memory_is_bounded(s3, monkeypatch):
    allocated = []
    original = MultipartWriter._take_buffer

    def counting(self):
        before = len(self._free)
        original(self)
        if not before:
            allocated.append(1)

    monkeypatch.setattr(MultipartWriter, "_take_buffer", counting)
    data = _data(9 * MIN_PART_BYTES + 12345)
    writer = MultipartWriter("k", bucket="b", max_in_flight=2)
    for start in range(0, len(data), 300_000):   # writes that straddle part boundaries
        writer.write(data[start : start + 300_000])
    written = writer.close()

    assert s3.objects["k"] == data
    assert [len(s3.parts[n]) for n in sorted(s3.parts)] == [MIN_PART_BYTES] * 9 + [12345]
    assert written.bytes == len(data) and written.lines == data.count(b"\n")
    assert s3.max_uploading <= 2
    assert len(allocated) <= 3   # max_in_flight + the one being filled, reused for all 10 parts


def test_one_write_larger_than_several_parts(s3):
    data = _data(3 * MIN_PART_BYTES + 1)
    with MultipartWriter("k", bucket="b", sha256=True) as writer:
        writer.write(data)
    assert s3.objects["k"] == data


def test_small_objects_are_one_put_and_empty_writes_are_ignored(s3):
    with MultipartWriter("small", bucket="b") as writer:
        writer.write(b"")
        writer.write(b"one\n")
    with MultipartWriter("empty", bucket="b"):
        pass
    assert s3.objects == {"small": b"one\n", "empty": b""} and not s3.parts


def test_close_in_background_completes_after_every_part(s3):
    data = _data(4 * MIN_PART_BYTES + 7)
    writer = MultipartWriter("bg", bucket="b", max_in_flight=3)
    writer.write(data)
    assert writer.close_in_background().result().bytes == len(data)
    assert s3.objects["bg"] == data


def test_a_failed_part_fails_the_writer_and_abort_drops_the_upload(s3):
    def failing(**kwargs):
        raise RuntimeError("part refused")

    s3.upload_part = failing
    with pytest.raises(RuntimeError, match="part refused"), MultipartWriter("bad", bucket="b") as writer:
        writer.write(_data(4 * MIN_PART_BYTES))
    assert s3.aborted and "bad" not in s3.objects
