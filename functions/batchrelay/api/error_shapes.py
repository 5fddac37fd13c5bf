"""Error answers in the shape of the surface a request came to: OpenAI's on ``/openai/v1``,
Anthropic's on ``/anthropic/v1``, batchrelay's own everywhere else.

Domain errors carry a status, a code, a message and, where it helps, the field and the line;
each shape says as much of that as it can (see ``openai_compat.errors``, ``anthropic_compat.errors``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from batchrelay import constants as c

# surface -> (status, code, message, field, line) -> body
ErrorShape = Callable[[int, str, str, str | None, int | None], dict[str, Any]]
_SHAPES: dict[str, ErrorShape] = {}


def register_shape(surface: str, shape: ErrorShape) -> None:
    _SHAPES[surface] = shape


def batchrelay_error(status: int, code: str, message: str, field: str | None, line: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if line is not None:
        body["line"] = line
    return {"error": body}


def error_body(path: str, status: int, code: str, message: str, field: str | None = None,
               line: int | None = None) -> dict[str, Any]:
    surface = c.surface_of(path or "")
    shape = _SHAPES.get(surface or "", batchrelay_error)
    return shape(status, code, message, field, line)


def error_text(body: dict[str, Any]) -> str:
    try:
        return orjson.dumps(body).decode()
    except TypeError:  # a lone surrogate from the input in a message: escaped, never a 500
        return json.dumps(body)
