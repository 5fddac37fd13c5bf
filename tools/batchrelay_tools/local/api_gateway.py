"""API Gateway's part in local mode: HTTP requests in, REST proxy events (format 1.0) out.

The key check mirrors a REST API with ``apiKeyRequired``: a missing or unknown
``x-api-key`` gets 403 ``{"message": "Forbidden"}`` before any function runs, and the
accepted key's id reaches the function as ``requestContext.identity.apiKeyId`` (the tenant).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from batchrelay import constants as c
from batchrelay_tools.local.background_server import BackgroundServer
from batchrelay_tools.local.lambda_context import LOCAL_ACCOUNT, context_for

# Not under "batchrelay": that is the Powertools logger (JSON) of the functions.
log = logging.getLogger("local." + __name__.rsplit(".", 1)[-1])

STAGE = "local"
# API Gateway's payload limit.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# Routes that carry no API key: liveness, and OpenAI's signed webhook (the function checks it).
PUBLIC_ROUTES = {("GET", c.HEALTH_PATH): c.FUNCTION_API, ("POST", c.OPENAI_WEBHOOK_PATH): c.FUNCTION_OPENAI_WEBHOOK}

Invoke = Callable[[str, dict[str, Any], Any], Any]


def api_key_id(api_key: str) -> str:
    """A stable id for a key (what API Gateway calls the key's id; our tenant id)."""
    return "local-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:8]


@dataclass
class Route:
    function: str
    needs_key: bool


def route_for(method: str, path: str) -> Route:
    public = PUBLIC_ROUTES.get((method.upper(), path.rstrip("/") or "/"))
    if public:
        return Route(function=public, needs_key=False)
    return Route(function=c.FUNCTION_API, needs_key=True)


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's single-value (last one wins) and multi-value maps; None when empty."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def build_proxy_event(
    *,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    api_key: str | None = None,
    request_id: str | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A REST API proxy integration event (payload format 1.0) for one HTTP request."""
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    query, multi_query = _multi(parse_qsl(parts.query, keep_blank_values=True))
    single_headers, multi_headers = _multi(headers)
    request_id = request_id or str(uuid.uuid4())
    if body:
        try:
            text, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
    else:
        text, is_base64 = None, False
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or {},
        "multiValueHeaders": multi_headers or {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainName": "127.0.0.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "apiKey": api_key,
                "apiKeyId": api_key_id(api_key) if api_key else None,
                "sourceIp": source_ip,
                "userAgent": (single_headers or {}).get("User-Agent") or (single_headers or {}).get("user-agent"),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# API Gateway's own error answers (gateway responses) and the type header it sends with them.
_GATEWAY_ERROR_TYPES = {403: "ForbiddenException", 413: "RequestTooLarge", 502: "InternalServerErrorException"}


def _json_answer(status: int, payload: Mapping[str, Any], request_id: str) -> HttpAnswer:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if status in _GATEWAY_ERROR_TYPES:
        headers.append(("x-amzn-ErrorType", _GATEWAY_ERROR_TYPES[status]))
    return HttpAnswer(status, headers, json.dumps(payload).encode())


def answer_from_result(result: Any, request_id: str) -> HttpAnswer:
    """What API Gateway sends back for a proxy integration's return value."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        log.error("malformed Lambda proxy response: %r", result)
        return _json_answer(502, {"message": "Internal server error"}, request_id)
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, values in (result.get("multiValueHeaders") or {}).items():
        seen.add(name.lower())
        headers.extend((name, str(v)) for v in values)
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in seen:
            headers.append((name, str(value)))
    headers.append(("x-amzn-RequestId", request_id))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return HttpAnswer(int(result["statusCode"]), headers, body)


class ApiGateway:
    """Checks keys, builds events, invokes the functions; independent of the HTTP server."""

    def __init__(self, api_keys: list[str], invoke: Invoke, region: str = "us-east-1") -> None:
        self.api_keys = set(api_keys)
        self.invoke = invoke
        self.region = region

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpAnswer:
        request_id = str(uuid.uuid4())
        route = route_for(method, urlsplit(raw_path).path)
        key = next((v for k, v in headers if k.lower() == "x-api-key"), None)
        if route.needs_key and key not in self.api_keys:
            return _json_answer(403, {"message": "Forbidden"}, request_id)
        if len(body) > MAX_PAYLOAD_BYTES:
            return _json_answer(413, {"message": "Request Too Long"}, request_id)
        event = build_proxy_event(
            method=method,
            raw_path=raw_path,
            headers=headers,
            body=body,
            source_ip=source_ip,
            api_key=key if key in self.api_keys else None,
            request_id=request_id,
            region=self.region,
        )
        try:
            result = self.invoke(route.function, event, context_for(route.function, self.region))
        except Exception:
            log.exception("function %s failed", route.function)
            return _json_answer(502, {"message": "Internal server error"}, request_id)
        return answer_from_result(result, request_id)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _ApiHttpServer
    protocol_version = "HTTP/1.1"

    def _read_body(self) -> bytes | None:
        """The request body; None when it is over the payload limit."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, size = [], 0
            while True:
                chunk_size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if chunk_size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(parts)
                size += chunk_size
                if size > MAX_PAYLOAD_BYTES:
                    return None
                parts.append(self.rfile.read(chunk_size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            answer = _json_answer(413, {"message": "Request Too Long"}, str(uuid.uuid4()))
            self.close_connection = True
        else:
            headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
            answer = self.server.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        self.send_response(answer.status)
        names = {name.lower() for name, _ in answer.headers}
        for name, value in answer.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


class _ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: ApiGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler)


class ApiServer(BackgroundServer):
    """The API on http://127.0.0.1:<port>, served from a background thread."""

    def __init__(self, gateway: ApiGateway, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_ApiHttpServer((host, port), gateway), name="api-gateway")

    @property
    def url(self) -> str:
        return self.base_url
