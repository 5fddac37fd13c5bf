"""One boto3 client per service per container, created lazily on first use."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version=None)


@cache
def client(service: str) -> Any:
    if service == "s3":
        # Virtual-hosted style needs DNS for the bucket name; path style works everywhere,
        # including the emulator on loopback.
        s3_config = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
        return boto3.client("s3", config=CLIENT_CONFIG.merge(s3_config))
    return boto3.client(service, config=CLIENT_CONFIG)


def dynamodb() -> Any:
    return client("dynamodb")


def s3() -> Any:
    return client("s3")


def sqs() -> Any:
    return client("sqs")


def sns() -> Any:
    return client("sns")


def reset_clients() -> None:
    """Forget cached clients (tests and local mode call this after changing the environment)."""
    client.cache_clear()
