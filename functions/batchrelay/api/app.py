"""The API resolver: routers, error mapping, OpenAPI. The `api` handler only calls resolve()."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from batchrelay import __version__
from batchrelay import constants as c
from batchrelay.api import job_routes
from batchrelay.api.anthropic_compat import routes as anthropic_routes
from batchrelay.api.anthropic_compat.errors import anthropic_error
from batchrelay.api.error_shapes import error_body, error_text, register_shape
from batchrelay.api.openai_compat import routes as openai_routes
from batchrelay.api.openai_compat.errors import openai_error
from batchrelay.api.schemas import job_event_schema, with_event_webhook
from batchrelay.errors import BatchRelayError
from batchrelay.models.api import Health
from batchrelay.validation.writable_json import loads_marking_non_finite

logger = Logger(child=True)



def read_request_json(text: str) -> Any:
    """The request body: Python's json (it reads what orjson would refuse without saying
    where, so validation can name the field), with NaN, Infinity and 1e400 kept as markers
    (validation.writable_json.NonFiniteNumber) instead of floats that would be written as null.
    Input that nests too deeply or holds an integer of thousands of digits is not valid
    JSON here (a 400), where Python's parser would raise something else (a 500)."""
    try:
        return loads_marking_non_finite(text)
    except json.JSONDecodeError:
        raise
    except RecursionError as exc:
        raise json.JSONDecodeError("it nests too deeply to be read", text, 0) from exc
    except ValueError as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from exc


app = APIGatewayRestResolver(
    enable_validation=True,
    serializer=lambda obj: orjson.dumps(obj).decode(),
    json_body_deserializer=read_request_json,
)


app.include_router(job_routes.router)
try:
    from batchrelay.api import webhook_routes

    app.include_router(webhook_routes.router)
except ImportError:  # pragma: no cover - the notification routes ship with the webhooks package
    webhook_routes = None
# The drop-in surfaces: OpenAI's Files, Uploads and Batches API and Anthropic's Message
# Batches, each with its provider's error shape.
app.include_router(openai_routes.router, prefix=c.OPENAI_PREFIX)
register_shape(c.OPENAI_SURFACE, openai_error)
app.include_router(anthropic_routes.router, prefix=c.ANTHROPIC_PREFIX)
register_shape(c.ANTHROPIC_SURFACE, anthropic_error)


def _error(status: int, code: str, message: str, field: str | None = None, line: int | None = None) -> Response:
    """An error answer in the shape of the surface the request came to (api.error_shapes)."""
    body = error_body(app.current_event.path, status, code, message, field, line)
    return Response(status_code=status, content_type="application/json", body=error_text(body))


def _field_path(loc: tuple | list) -> tuple[str | None, int | None]:
    """("body", "requests", 3, "custom_id") -> ("requests[3].custom_id", 4)."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "header", "path"):
        parts = parts[1:]
    path = ""
    line = None
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
            if line is None:
                line = part + 1
        else:
            path += f".{part}" if path else str(part)
    return path or None, line


@app.exception_handler(RequestValidationError)
def handle_validation(exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field, line = _field_path(first.get("loc", ()))
    message = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error")
        message = f"request body is not valid JSON: {reason}" if reason else "request body is not valid JSON"
        field, line = "body", None
    elif field:
        message = f"{field}: {message}"
    return _error(400, "invalid_request", message, field, line)


@app.exception_handler(BatchRelayError)
def handle_domain_error(exc: BatchRelayError) -> Response:
    if exc.http_status >= 500:
        logger.exception("request failed")
    return _error(exc.http_status, exc.code, exc.message, exc.field, exc.line)


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception) -> Response:
    # Never a stack trace to the client; the log has it.
    logger.exception("unexpected error")
    return _error(500, "internal_error", "internal error; the request id is in the logs")


@app.not_found
def handle_not_found(exc: Exception) -> Response:
    return _error(404, "route_not_found", f"no route {app.current_event.http_method} {app.current_event.path}")


@app.get("/v1/health", summary="Liveness", tags=["meta"])
def health() -> Health:
    return Health(version=__version__)


@app.get("/v1/openapi.json", summary="This API's OpenAPI description", tags=["meta"], include_in_schema=False)
def openapi():
    return Response(
        status_code=200,
        content_type="application/json",
        body=with_event_webhook(app.get_openapi_json_schema(title="batchrelay", version=__version__)),
    )


@app.get("/v1/schemas/job-event.json", summary="The JSON Schema of the job event", tags=["meta"],
         include_in_schema=False)
def job_event_json_schema():
    body = orjson.dumps(job_event_schema()).decode()
    return Response(status_code=200, content_type="application/schema+json", body=body)


def _accepts_multipart(path: str) -> bool:
    if c.surface_of(path) != c.OPENAI_SURFACE:
        return False
    route = path[len(c.OPENAI_PREFIX):]
    return any(re.match(pattern, route) for pattern in openai_routes.MULTIPART_ROUTES)


def _unsupported_media_type(event: dict) -> dict | None:
    """A body in another format (curl -d sends form encoding) gets a clear 415, not a
    confusing "field required" from the validator parsing it as a form. The OpenAI
    surface's file routes take multipart/form-data, as OpenAI's do."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if not event.get("body") or not content_type or content_type == "application/json":
        return None
    if content_type.endswith("+json"):
        return None
    path = event.get("path") or ""
    if content_type == "multipart/form-data" and _accepts_multipart(path):
        return None
    body = error_body(path, 415, "unsupported_media_type",
                      f"send JSON with content-type: application/json, not {content_type}", "content-type")
    return {
        "statusCode": 415,
        "headers": {"Content-Type": "application/json"},
        "body": error_text(body),
        "isBase64Encoded": False,
    }


def handle(event: dict, context: object) -> dict:
    """Resolve one API Gateway proxy event."""
    return _unsupported_media_type(event) or app.resolve(event, context)
