"""multipart/form-data bodies read byte for byte, as httpx (the SDKs' client) writes them."""

from __future__ import annotations

import httpx
import pytest

from batchrelay.api.openai_compat.multipart import parse_form
from batchrelay.errors import ValidationFailed


def encode(**kwargs) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x/", **kwargs)
    return request.headers["content-type"], request.read()


def test_fields_and_files_come_back_exactly():
    content = b'{"a": 1}\r\n{"b": "\\u2028 \xe2\x80\xa8"}\n\r\n--not a boundary\n' + bytes(range(256))
    content_type, body = encode(files={"file": ("in put é.jsonl", content)}, data={"purpose": "batch"})
    form = parse_form(content_type, body)
    assert form["file"].value == content and form["file"].filename == "in put é.jsonl"
    assert form["purpose"].text() == "batch" and form["purpose"].filename is None


def test_an_empty_file_and_a_missing_boundary():
    content_type, body = encode(files={"data": ("blob", b"")})
    assert parse_form(content_type, body)["data"].value == b""
    with pytest.raises(ValidationFailed):
        parse_form("multipart/form-data", body)
    with pytest.raises(ValidationFailed):
        parse_form(content_type, body[: len(body) // 2])
