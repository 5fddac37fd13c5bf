"""The S3 streaming helpers on moto: multipart writing, raw copies byte for byte."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from batchrelay.aws.s3_objects import object_blocks, object_lines
from batchrelay.jsonl import iter_lines
from batchrelay.results.multipart_writer import MIN_PART_BYTES, MultipartWriter
from tests.support.stored_jobs import read_bytes


def test_a_large_object_is_written_in_parts_and_read_back_line_by_line(aws):
    line = b'{"x": "' + b"a\r" * 500 + b'"}\n'
    count = (2 * MIN_PART_BYTES) // len(line) + 10   # a bit over two parts
    digest = hashlib.sha256()

    with MultipartWriter("t/big.jsonl", sha256=True) as writer:
        for _ in range(count):
            writer.write(line)
            digest.update(line)
        assert writer._upload_id is not None   # went multipart
    written = writer.close()

    assert written.lines == count and written.bytes == count * len(line)
    assert written.sha256 == digest.hexdigest()
    assert hashlib.sha256(b"".join(object_blocks("t/big.jsonl"))).hexdigest() == written.sha256
    assert sum(1 for _ in object_lines("t/big.jsonl")) == count


def test_a_small_object_is_one_put_and_close_in_background_completes(aws):
    with MultipartWriter("t/small.jsonl") as writer:
        writer.write(b"one\ntwo\n")
    assert read_bytes("t/small.jsonl") == b"one\ntwo\n"

    writer = MultipartWriter("t/bg.jsonl")
    writer.write(b"z" * (MIN_PART_BYTES + 3))
    assert writer.close_in_background().result().bytes == MIN_PART_BYTES + 3
    assert len(read_bytes("t/bg.jsonl")) == MIN_PART_BYTES + 3


def test_an_aborted_writer_leaves_no_object(aws):
    from botocore.exceptions import ClientError

    with pytest.raises(RuntimeError), MultipartWriter("t/aborted.jsonl") as writer:
        writer.write(b"y" * (MIN_PART_BYTES + 1))
        raise RuntimeError("boom")

    with pytest.raises(ClientError):
        read_bytes("t/aborted.jsonl")


def test_the_raw_copy_is_the_providers_output_byte_for_byte_gzipped(fake, driver):
    from tests.support.stored_jobs import chat_requests, submit_job

    fake.raw_carriage_return = True
    job = submit_job(chat_requests(50))
    job = driver.run_until_final(job.job_id)

    batch_id = next(iter(fake.batches))
    info = fake.retrieve_batch(batch_id)
    expected = b"".join(b"".join(f.blocks) for f in fake.raw_result_files(info))
    stored = read_bytes(f"raw/{job.job_id}/c00001/{batch_id}/output.jsonl.gz")
    raw = gzip.decompress(stored)
    assert raw == expected
    assert len(stored) < len(raw) / 2  # kept compressed
    assert len(list(iter_lines([raw]))) == 50
