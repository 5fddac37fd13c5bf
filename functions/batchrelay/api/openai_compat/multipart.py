"""multipart/form-data bodies (``POST /files``, upload parts), read byte for byte.

API Gateway hands the body over base64-encoded (``multipart/form-data`` is a binary media
type of the API), so file bytes arrive exactly as sent.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import Message
from typing import Any

from batchrelay.errors import ValidationFailed


@dataclass(frozen=True)
class FormField:
    name: str
    value: bytes
    filename: str | None = None

    def text(self) -> str:
        try:
            return self.value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"{self.name} is not UTF-8 text", field=self.name) from exc


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")


def _header_params(value: str) -> Message:
    message = Message()
    message["content-disposition"] = value
    return message


def _boundary(content_type: str) -> bytes:
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise ValidationFailed("send the file as multipart/form-data", field="content-type",
                               code="unsupported_media_type")
    return boundary.encode("latin-1")


def parse_form(content_type: str, body: bytes) -> dict[str, FormField]:
    """The form's fields by name (the last one wins)."""
    delimiter = b"--" + _boundary(content_type)
    fields: dict[str, FormField] = {}
    position = body.find(delimiter)
    if position < 0:
        raise ValidationFailed("the multipart body has no part", field="body")
    while True:
        position += len(delimiter)
        if body[position:position + 2] == b"--":
            return fields
        if body[position:position + 2] == b"\r\n":
            position += 2
        headers_end = body.find(b"\r\n\r\n", position)
        next_delimiter = body.find(b"\r\n" + delimiter, headers_end + 4 if headers_end >= 0 else position)
        if headers_end < 0 or next_delimiter < 0:
            raise ValidationFailed("the multipart body is cut short", field="body")
        disposition = None
        for line in body[position:headers_end].split(b"\r\n"):
            try:
                text = line.decode("utf-8")   # RFC 7578: file names may be sent as UTF-8
            except UnicodeDecodeError:
                text = line.decode("latin-1")
            name, _, value = text.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = _header_params(value.strip())
        if disposition is not None:
            name = disposition.get_param("name", header="content-disposition")
            filename = disposition.get_param("filename", header="content-disposition")
            if isinstance(name, str):
                fields[name] = FormField(name, body[headers_end + 4:next_delimiter],
                                         filename if isinstance(filename, str) else None)
        position = next_delimiter + 2
