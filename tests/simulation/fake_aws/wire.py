"""The fakes behind botocore: a ``before-send`` handler answers every AWS call in process.

botocore builds, signs and serializes each request as it would for AWS, then emits
``before-send``; the first handler that returns a response stops the HTTP send. Answering
there keeps boto3's real serialization, retries and error parsing (ClientError codes,
CancellationReasons), for clients and resources alike. Handlers are registered on boto3's
default session, so only clients created afterwards see them: callers reset the cached
clients (``reset_container_caches``) after installing.

The services the fakes play are not signed (a ``choose-signer`` answer of UNSIGNED): no
fake checks a signature, and SigV4 was a tenth of a seed's time. Bedrock, which the
provider simulator plays over loopback and which checks that a request is signed, keeps
its signer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.awsrequest import AWSResponse

from tests.simulation.fake_aws.dynamodb import DynamoError, FakeDynamoDB
from tests.simulation.fake_aws.kms import FakeKMS, KmsError
from tests.simulation.fake_aws.s3 import FakeS3, S3Error, error_xml
from tests.simulation.fake_aws.sns import FakeSNS, SnsError
from tests.simulation.fake_aws.sqs import FakeSQS, SqsError


class RawBody(io.BytesIO):
    """What botocore reads a response body from (``stream`` for content, ``read`` for streaming bodies)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        while data:
            yield data
            data = self.read()


def aws_response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    return AWSResponse(url, status, {"x-amzn-RequestId": "fake", **headers}, RawBody(body))


def split_event_name(event_name: str) -> tuple[str, str]:
    """``before-send.dynamodb.PutItem`` -> ("dynamodb", "PutItem")."""
    _, service, operation = event_name.split(".", 2)
    return service, operation


class FakeAWS:
    """DynamoDB, S3, SQS, SNS and KMS in memory, sharing one clock."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.dynamodb = FakeDynamoDB()
        self.s3 = FakeS3(clock)
        self.sqs = FakeSQS(clock)
        self.sns = FakeSNS()
        self.kms = FakeKMS()

    def respond(self, event_name: str, request: Any) -> AWSResponse:
        service, operation = split_event_name(event_name)
        url = request.url
        if service == "dynamodb":
            try:
                payload = self.dynamodb.handle(operation, json.loads(_body(request) or b"{}"))
                return aws_response(url, 200, {"Content-Type": "application/x-amz-json-1.0"},
                                    json.dumps(payload).encode())
            except DynamoError as exc:
                body = {"__type": f"com.amazonaws.dynamodb.v20120810#{exc.code}", "message": exc.message,
                        **exc.extra}
                return aws_response(url, exc.status, {"Content-Type": "application/x-amz-json-1.0"},
                                    json.dumps(body).encode())
        if service == "sqs":
            try:
                payload = self.sqs.handle(operation, json.loads(_body(request) or b"{}"))
                return aws_response(url, 200, {"Content-Type": "application/x-amz-json-1.0"},
                                    json.dumps(payload).encode())
            except SqsError as exc:
                body = {"__type": f"com.amazonaws.sqs#{exc.code}", "message": exc.message}
                return aws_response(url, exc.status, {"Content-Type": "application/x-amz-json-1.0",
                                                      "x-amzn-query-error": f"{exc.code};Sender"},
                                    json.dumps(body).encode())
        if service == "s3":
            try:
                status, headers, body = self.s3.handle(operation, request.method, url, request.headers, request.body)
                return aws_response(url, status, headers, b"" if request.method == "HEAD" else body)
            except S3Error as exc:
                body = b"" if request.method == "HEAD" else error_xml(exc)
                return aws_response(url, exc.status, {"Content-Type": "application/xml"}, body)
        if service == "kms":
            try:
                payload = self.kms.handle(operation, json.loads(_body(request) or b"{}"))
                return aws_response(url, 200, {"Content-Type": "application/x-amz-json-1.1"},
                                    json.dumps(payload).encode())
            except KmsError as exc:
                return aws_response(url, exc.status, {"Content-Type": "application/x-amz-json-1.1"},
                                    json.dumps({"__type": exc.code, "message": exc.message}).encode())
        if service == "sns":
            try:
                return aws_response(url, 200, {"Content-Type": "text/xml"}, self.sns.handle(operation, _body(request)))
            except SnsError as exc:
                xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{exc.code}</Code>"
                       f"<Message>{exc.message}</Message></Error></ErrorResponse>").encode()
                return aws_response(url, exc.status, {"Content-Type": "text/xml"}, xml)
        raise RuntimeError(f"the simulation has no fake for AWS service {service!r} ({operation})")


def _body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return body.read()


HANDLER_ID = "batchrelay-simulation-fake-aws"
FAKED_SERVICES = ("dynamodb", "s3", "sqs", "sns", "kms")


def _unsigned(**_: Any) -> Any:
    return UNSIGNED


def install(handler: Callable[..., AWSResponse | None]) -> None:
    """Answer every AWS call of clients created from now on with ``handler(request, event_name)``."""
    events = boto3._get_default_session().events
    events.register("before-send", handler, unique_id=HANDLER_ID)
    for service in FAKED_SERVICES:
        events.register(f"choose-signer.{service}", _unsigned, unique_id=f"{HANDLER_ID}-unsigned-{service}")


def uninstall() -> None:
    events = boto3._get_default_session().events
    events.unregister("before-send", unique_id=HANDLER_ID)
    for service in FAKED_SERVICES:
        events.unregister(f"choose-signer.{service}", unique_id=f"{HANDLER_ID}-unsigned-{service}")
