"""Read and write the bucket's objects by key: lines streamed, small JSON objects whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from batchrelay.aws import clients
from batchrelay.aws.s3_objects import iter_object_blocks
from batchrelay.results.lines import iter_lines
from batchrelay.settings import get_settings


def _bucket() -> str:
    return get_settings().bucket_name


def object_blocks(key: str) -> Iterator[bytes]:
    return iter_object_blocks(_bucket(), key)


def object_lines(key: str) -> Iterator[bytes]:
    return iter_lines(iter_object_blocks(_bucket(), key))


def put_json(key: str, value: Any) -> None:
    clients.s3().put_object(
        Bucket=_bucket(), Key=key, Body=orjson.dumps(value, option=orjson.OPT_INDENT_2), ContentType="application/json"
    )


def get_json(key: str) -> Any:
    """Small objects only (summaries, manifests)."""
    return orjson.loads(clients.s3().get_object(Bucket=_bucket(), Key=key)["Body"].read())


def download_to_file(key: str, path: str) -> None:
    clients.s3().download_file(_bucket(), key, path)
