"""An in-memory SNS for the query wire protocol: topics, subscriptions, and every
published message kept for the world to read (CreateTopic, Subscribe, Publish)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

_XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"


class SnsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Published:
    topic_arn: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)


class FakeSNS:
    def __init__(self) -> None:
        self.topics: dict[str, list[dict[str, str]]] = {}
        self.published: list[Published] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def handle(self, operation: str, body: bytes) -> bytes:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            raise SnsError("InvalidAction", f"{operation} is not supported by the fake")
        with self.lock:
            result = method(params)
        return (f'<{operation}Response xmlns="{_XMLNS}"><{operation}Result>{result}</{operation}Result>'
                f"<ResponseMetadata><RequestId>req-{next(self._ids)}</RequestId></ResponseMetadata>"
                f"</{operation}Response>").encode()

    def create_topic(self, name: str) -> str:
        arn = f"arn:aws:sns:us-east-1:123456789012:{name}"
        self.topics.setdefault(arn, [])
        return arn

    def op_CreateTopic(self, params: dict[str, str]) -> str:
        return f"<TopicArn>{escape(self.create_topic(params['Name']))}</TopicArn>"

    def op_Subscribe(self, params: dict[str, str]) -> str:
        arn = params["TopicArn"]
        if arn not in self.topics:
            raise SnsError("NotFound", "Topic does not exist", 404)
        subscription = f"{arn}:sub-{next(self._ids)}"
        self.topics[arn].append({"arn": subscription, "protocol": params.get("Protocol", ""),
                                 "endpoint": params.get("Endpoint", "")})
        return f"<SubscriptionArn>{escape(subscription)}</SubscriptionArn>"

    def op_Publish(self, params: dict[str, str]) -> str:
        arn = params["TopicArn"]
        if arn not in self.topics:
            raise SnsError("NotFound", "Topic does not exist", 404)
        attributes: dict[str, str] = {}
        for key, value in params.items():
            if key.startswith("MessageAttributes.entry.") and key.endswith(".Name"):
                prefix = key[: -len(".Name")]
                attributes[value] = params.get(f"{prefix}.Value.StringValue", "")
        self.published.append(Published(arn, params["Message"], attributes))
        return f"<MessageId>sns-{next(self._ids):08d}</MessageId>"

    def messages(self) -> list[Any]:
        with self.lock:
            return list(self.published)
