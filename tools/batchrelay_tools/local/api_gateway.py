"""API Gateway's part in local mode: HTTP requests in, REST proxy events (format 1.0) out.

It does what the deployed REST API does (infra/api.py), in the same order:

1. routes: ``/v1/...``, ``/openai/v1/...``, ``/anthropic/v1/...`` go to the api function (the
   liveness check and the OpenAI webhook need no key); any other path gets the
   MISSING_AUTHENTICATION_TOKEN gateway response;
2. a body over 10 MB gets REQUEST_TOO_LARGE;
3. the API key comes from the Lambda authorizer of the route family (API key source
   AUTHORIZER): a family of one header (``x-api-key`` on ``/v1``, ``Authorization`` on
   ``/openai/v1``) has a cached authorizer, so that header must be there (401 before the
   authorizer runs) and an answer is kept per header value (``AUTHORIZER_CACHE_SECONDS``); a
   family of two (``/anthropic/v1``) has an uncached one, run for every request. The real
   ``authorizer`` function is invoked; it finds the key among the emulator's API Gateway keys
   (``resources.register_api_keys``), 401 when it raises;
4. the usage plan: the key it returns must be one of this gateway's keys (403 otherwise), and
   its id becomes ``requestContext.identity.apiKeyId`` (the tenant), the principal
   ``requestContext.authorizer.principalId``;
5. the function is invoked with the event; an event over Lambda's 6 MB gets REQUEST_TOO_LARGE
   (multipart bodies are base64-encoded, a binary media type of the API).

API Gateway's own answers carry the bodies of ``constants.GATEWAY_RESPONSES``, as deployed.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import threading
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
MAX_PAYLOAD_BYTES = c.API_GATEWAY_MAX_BODY_BYTES
# Routes that carry no API key: liveness, and OpenAI's signed webhook (the function checks it).
PUBLIC_ROUTES = {("GET", c.HEALTH_PATH): c.FUNCTION_API, ("POST", c.OPENAI_WEBHOOK_PATH): c.FUNCTION_OPENAI_WEBHOOK}
LOCAL_API_ID = "local"

Invoke = Callable[[str, dict[str, Any], Any], Any]


def api_key_id(api_key: str) -> str:
    """A stable id for a key (what API Gateway calls the key's id; our tenant id)."""
    return "local-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:8]


@dataclass
class Route:
    function: str | None                  # None: no route (API Gateway answers itself)
    key_headers: tuple[str, ...] | None   # the headers the family's authorizer reads; None: no key

    @property
    def cached(self) -> bool:
        """A family of one header has a cached authorizer (its header is its identity source)."""
        return self.key_headers is not None and len(self.key_headers) == 1


def route_for(method: str, path: str) -> Route:
    public = PUBLIC_ROUTES.get((method.upper(), path.rstrip("/") or "/"))
    if public:
        return Route(function=public, key_headers=None)
    headers = c.key_headers_for(path)
    return Route(function=c.FUNCTION_API if headers else None, key_headers=headers)


def method_arn(method: str, path: str, region: str = "us-east-1") -> str:
    return f"arn:aws:execute-api:{region}:{LOCAL_ACCOUNT}:{LOCAL_API_ID}/{STAGE}/{method.upper()}{path}"


def authorizer_event(
    *, method: str, raw_path: str, headers: list[tuple[str, str]], request_id: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """The event of a REQUEST authorizer, as API Gateway sends it."""
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    query, multi_query = _multi(parse_qsl(parts.query, keep_blank_values=True))
    single_headers, multi_headers = _multi(headers)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path, region),
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or {},
        "multiValueHeaders": multi_headers or {},
        "queryStringParameters": query or {},
        "multiValueQueryStringParameters": multi_query or {},
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": {},
        "requestContext": {"accountId": LOCAL_ACCOUNT, "apiId": LOCAL_API_ID, "stage": STAGE,
                           "requestId": request_id, "httpMethod": method.upper(), "path": path},
    }


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
    principal_id: str | None = None,
    request_id: str | None = None,
    region: str = "us-east-1",
    port: int | None = None,
) -> dict[str, Any]:
    """A REST API proxy integration event (payload format 1.0) for one HTTP request.

    As API Gateway: X-Forwarded-* headers added, binary media types base64-encoded, and
    ``requestContext.path`` the path as the client called it (here: no stage in the URL)."""
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    query, multi_query = _multi(parse_qsl(parts.query, keep_blank_values=True))
    forwarded = [("X-Forwarded-For", source_ip), ("X-Forwarded-Proto", "http")]
    if port:
        forwarded.append(("X-Forwarded-Port", str(port)))
    present = {name.lower() for name, _ in headers}
    headers = [*headers, *((name, value) for name, value in forwarded if name.lower() not in present)]
    single_headers, multi_headers = _multi(headers)
    request_id = request_id or str(uuid.uuid4())
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    binary = content_type.split(";")[0].strip().lower() in c.BINARY_MEDIA_TYPES
    if body:
        try:
            if binary:
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "a binary media type")
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
            "path": path,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainName": next((v for k, v in headers if k.lower() == "host"), "127.0.0.1"),
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
            **({"authorizer": {"principalId": principal_id, "tenantId": principal_id, "integrationLatency": 0}}
               if principal_id else {}),
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
_GATEWAY_ERROR_TYPES = {
    401: "UnauthorizedException", 403: "ForbiddenException", 404: "MissingAuthenticationTokenException",
    413: "RequestTooLarge", 502: "InternalServerErrorException",
}


def _json_answer(status: int, payload: Mapping[str, Any], request_id: str) -> HttpAnswer:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if status in _GATEWAY_ERROR_TYPES:
        headers.append(("x-amzn-ErrorType", _GATEWAY_ERROR_TYPES[status]))
    return HttpAnswer(status, headers, json.dumps(payload).encode())


def gateway_answer(response_type: str, request_id: str) -> HttpAnswer:
    """One of API Gateway's own answers, with the body the deployed API gives it."""
    status = c.GATEWAY_RESPONSES[response_type][0]
    return _json_answer(status, c.gateway_error_body(response_type), request_id)


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


Authorize = Callable[[dict[str, Any]], Mapping[str, Any]]


@dataclass
class _CachedAnswer:
    answer: Mapping[str, Any]
    until: float


class ApiGateway:
    """Routes, authorizes, builds events, invokes the functions; independent of the HTTP server.

    ``api_keys``: the keys of the usage plan (values); their ids are ``api_key_id(value)``, as
    registered on the emulator. ``authorize``: the REQUEST authorizer (default: invoke the
    ``authorizer`` function, as deployed)."""

    def __init__(
        self, api_keys: list[str], invoke: Invoke, region: str = "us-east-1", authorize: Authorize | None = None
    ) -> None:
        self.api_keys = set(api_keys)
        self.invoke = invoke
        self.region = region
        self.authorize = authorize or self._invoke_authorizer
        self._cache: dict[tuple[str, str], _CachedAnswer] = {}
        self._cache_lock = threading.Lock()
        self.port: int | None = None

    def _invoke_authorizer(self, event: dict[str, Any]) -> Mapping[str, Any]:
        return self.invoke(c.FUNCTION_AUTHORIZER, event, context_for(c.FUNCTION_AUTHORIZER, self.region))

    def _authorized(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], cache_key: tuple[str, str] | None,
        request_id: str,
    ) -> Mapping[str, Any] | None:
        """The authorizer's answer (cached per identity value when ``cache_key``), or None when it refused."""
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(cache_key) if cache_key else None
        if cached and cached.until > now:
            return cached.answer
        event = authorizer_event(method=method, raw_path=raw_path, headers=headers, request_id=request_id,
                                 region=self.region)
        try:
            answer = self.authorize(event)
        except Exception as exc:
            log.info("authorizer refused the request: %s", exc)
            return None
        if cache_key:
            with self._cache_lock:
                self._cache[cache_key] = _CachedAnswer(answer, now + c.AUTHORIZER_CACHE_SECONDS)
        return answer

    @staticmethod
    def _allows(answer: Mapping[str, Any], arn: str) -> bool:
        statements = (answer.get("policyDocument") or {}).get("Statement") or []
        allowed = denied = False
        for statement in statements:
            resources = statement.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            if any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources):
                if statement.get("Effect") == "Deny":
                    denied = True
                elif statement.get("Effect") == "Allow":
                    allowed = True
        return allowed and not denied

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpAnswer:
        request_id = str(uuid.uuid4())
        path = urlsplit(raw_path).path or "/"
        route = route_for(method, path)
        if route.function is None:
            return gateway_answer("MISSING_AUTHENTICATION_TOKEN", request_id)
        if len(body) > MAX_PAYLOAD_BYTES:
            return gateway_answer("REQUEST_TOO_LARGE", request_id)
        api_key = principal = None
        if route.key_headers is not None:
            cache_key = None
            if route.cached:
                header = route.key_headers[0]
                value = next((v for k, v in headers if k.lower() == header.lower()), "")
                if not value.strip():
                    return gateway_answer("UNAUTHORIZED", request_id)   # the authorizer never runs
                cache_key = (header.lower(), value)
            answer = self._authorized(method, raw_path, headers, cache_key, request_id)
            if answer is None:
                return gateway_answer("UNAUTHORIZED", request_id)
            if not self._allows(answer, method_arn(method, path, self.region)):
                return gateway_answer("ACCESS_DENIED", request_id)
            api_key = answer.get("usageIdentifierKey")
            if api_key not in self.api_keys:
                return gateway_answer("INVALID_API_KEY", request_id)   # not a key of the usage plan
            principal = str(answer.get("principalId") or "")
        event = build_proxy_event(
            method=method,
            raw_path=raw_path,
            headers=headers,
            body=body,
            source_ip=source_ip,
            api_key=api_key,
            principal_id=principal,
            request_id=request_id,
            region=self.region,
            port=self.port,
        )
        if len(json.dumps(event)) > c.LAMBDA_MAX_INVOKE_BYTES:
            return gateway_answer("REQUEST_TOO_LARGE", request_id)   # Lambda refuses the invocation
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
            answer = gateway_answer("REQUEST_TOO_LARGE", str(uuid.uuid4()))
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
        gateway.port = self.port

    @property
    def url(self) -> str:
        return self.base_url
