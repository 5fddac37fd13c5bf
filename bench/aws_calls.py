"""AWS calls counted on the emulator's side: a WSGI wrapper around moto's server app.

Each request is attributed to an origin by its User-Agent: a function's child process sets
``AWS_SDK_UA_APP_ID=batchrelay-<function>`` (botocore adds ``app/<id>``); botocore calls
without it come from local mode's stand-in for Lambda's SQS pollers and schedule
(``runtime``); anything else (presigned S3 uploads over plain HTTP) is the ``client``.

For DynamoDB the request and answer bodies are kept in summary (the capacity units a call
costs follow from the item sizes; see ``bench/aws_bill.py``); for SQS receives, whether any
message came back (Lambda's pollers' empty long polls are a fixed cost, not a per-job one).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

_APP_ID = re.compile(r"\bapp/([\w.-]+)")
_SCOPE = re.compile(r"Credential=[^/]+/\d+/[\w-]+/([\w-]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"X-Amz-Credential=[^&]*?%2F([\w-]+)%2Faws4_request")


@dataclass
class DynamoCall:
    """What a DynamoDB call's cost depends on."""

    action: str
    request: dict[str, Any]
    answer: dict[str, Any]


@dataclass
class CallLog:
    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)   # (origin, service, action)
    dynamo: list[DynamoCall] = field(default_factory=list)
    empty_receives: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_service(self, *, origins: Iterable[str] | None = None) -> Counter[str]:
        wanted = set(origins) if origins is not None else None
        out: Counter[str] = Counter()
        for (origin, service, _), count in self.calls.items():
            if wanted is None or origin in wanted:
                out[service] += count
        return out

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.dynamo.clear()
            self.empty_receives = 0


def origin_of(environ: dict[str, Any]) -> str:
    agent = environ.get("HTTP_USER_AGENT", "")
    match = _APP_ID.search(agent)
    if match:
        return match.group(1).removeprefix("batchrelay-")
    return "runtime" if "botocore" in agent or "Boto3" in agent else "client"


def service_of(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB"):
        return "dynamodb"
    if target.startswith("AmazonSQS"):
        return "sqs"
    if target.startswith("TrentService"):
        return "kms"
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _QUERY_SCOPE.search(
        environ.get("QUERY_STRING", ""))
    return match.group(1) if match else "s3"


def s3_action(environ: dict[str, Any]) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" in environ:
        return "UploadPartCopy" if "partNumber" in query else "CopyObject"
    if method == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "DeleteObjects" if "delete" in query else "PostObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "HEAD":
        return "HeadObject"
    path = environ.get("PATH_INFO", "/").strip("/")   # path-style: bucket/key
    if "uploadId" in query:
        return "ListParts"
    return "GetObject" if "/" in path else "ListObjects"

class CountingApp:
    """Wraps the emulator's WSGI app; every request is counted into ``log``."""

    def __init__(self, app: Callable[..., Any], log: CallLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service = service_of(environ)
        origin = origin_of(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        keep_body = service in ("dynamodb", "sqs") or service == "sns"
        request_body = b""
        if keep_body:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            request_body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(request_body)
        if target:
            action = target.split(".", 1)[1]
        elif service == "s3":
            action = s3_action(environ)
        else:
            action = parse_qs(request_body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        with self.log.lock:
            self.log.calls[(origin, service, action)] += 1
        answer = self.app(environ, start_response)
        if service == "dynamodb" or (service == "sqs" and action == "ReceiveMessage"):
            body = b"".join(answer)
            if service == "dynamodb":
                call = DynamoCall(action, _json(request_body), _json(body))
                with self.log.lock:
                    self.log.dynamo.append(call)
            elif b'"Messages"' not in body and b"<Message>" not in body:
                with self.log.lock:
                    self.log.empty_receives += 1
                    self.log.calls[(origin, service, action)] -= 1
                    self.log.calls[(origin, service, "ReceiveMessage (empty)")] += 1
            return [body]
        return answer


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def counting_moto_server(log: CallLog) -> type:
    """A ThreadedMotoServer whose app counts into ``log`` (install before the stack starts)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class CountingMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = CountingApp(DomainDispatcherApplication(create_backend_app), log)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return CountingMotoServer
