"""An in-memory SQS (standard queues) for the JSON 1.0 wire protocol, with visibility
timeouts, receive counts and redrive to a dead-letter queue after maxReceiveCount.

The functions only send; Lambda's event source mapping (the world) receives through
``receive`` / ``delete`` / ``release`` below, with SQS's semantics: a received message is
invisible for the queue's visibility timeout; the receive that would exceed
maxReceiveCount moves it to the DLQ instead. ``on_send`` lets the world lose or duplicate a
message at send time (at-least-once delivery; a message lost outright stands for one that
went to a DLQ nobody drains).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SqsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Message:
    message_id: str
    body: str
    sent_at: float
    visible_at: float
    receive_count: int = 0
    receipt: str | None = None
    first_received_at: float | None = None


@dataclass
class Queue:
    name: str
    url: str
    arn: str
    attributes: dict[str, str]
    messages: dict[str, Message] = field(default_factory=dict)

    @property
    def visibility_timeout(self) -> float:
        return float(self.attributes.get("VisibilityTimeout", "30"))

    @property
    def redrive(self) -> dict[str, Any] | None:
        raw = self.attributes.get("RedrivePolicy")
        return json.loads(raw) if raw else None


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class FakeSQS:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.queues: dict[str, Queue] = {}          # by url
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        # The world's hook: how many copies of a sent message to keep (0 lost, 2 duplicated).
        self.on_send: Callable[[Queue, str], int] = lambda queue, body: 1
        self.sent = 0

    # ------------------------------------------------------------------ wire
    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            raise SqsError("UnsupportedOperation", f"{operation} is not supported by the fake")
        with self.lock:
            return method(request)

    def _queue(self, url: str) -> Queue:
        queue = self.queues.get(url)
        if queue is None:
            raise SqsError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
        return queue

    def create_queue(self, name: str, attributes: dict[str, str] | None = None) -> Queue:
        with self.lock:
            url = f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
            if url not in self.queues:
                self.queues[url] = Queue(name, url, f"arn:aws:sqs:us-east-1:123456789012:{name}",
                                         dict(attributes or {}))
            return self.queues[url]

    def op_CreateQueue(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"QueueUrl": self.create_queue(request["QueueName"], request.get("Attributes")).url}

    def op_GetQueueUrl(self, request: dict[str, Any]) -> dict[str, Any]:
        for queue in self.queues.values():
            if queue.name == request["QueueName"]:
                return {"QueueUrl": queue.url}
        raise SqsError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")

    def op_GetQueueAttributes(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(request["QueueUrl"])
        now = self.clock()
        attributes = {
            **queue.attributes,
            "QueueArn": queue.arn,
            "ApproximateNumberOfMessages": str(sum(1 for m in queue.messages.values() if m.visible_at <= now)),
            "ApproximateNumberOfMessagesNotVisible": str(
                sum(1 for m in queue.messages.values() if m.visible_at > now)),
        }
        return {"Attributes": attributes}

    def op_SetQueueAttributes(self, request: dict[str, Any]) -> dict[str, Any]:
        self._queue(request["QueueUrl"]).attributes.update(request.get("Attributes", {}))
        return {}

    def op_SendMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(request["QueueUrl"])
        body = request["MessageBody"]
        message_id = self.send(queue, body, delay=float(request.get("DelaySeconds", 0)))
        return {"MessageId": message_id, "MD5OfMessageBody": md5_hex(body)}

    def op_SendMessageBatch(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(request["QueueUrl"])
        successful = []
        for entry in request["Entries"]:
            message_id = self.send(queue, entry["MessageBody"], delay=float(entry.get("DelaySeconds", 0)))
            successful.append({"Id": entry["Id"], "MessageId": message_id,
                               "MD5OfMessageBody": md5_hex(entry["MessageBody"])})
        return {"Successful": successful, "Failed": []}

    def op_ReceiveMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(request["QueueUrl"])
        messages = []
        for _ in range(int(request.get("MaxNumberOfMessages", 1))):
            visible = self.visible(queue)
            if not visible:
                break
            message = self.receive(queue, visible[0])
            if message is None:
                continue
            messages.append({
                "MessageId": message.message_id,
                "ReceiptHandle": message.receipt,
                "MD5OfBody": md5_hex(message.body),
                "Body": message.body,
                "Attributes": {"ApproximateReceiveCount": str(message.receive_count),
                               "SentTimestamp": str(int(message.sent_at * 1000))},
            })
        return {"Messages": messages} if messages else {}

    def op_DeleteMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        self.delete(self._queue(request["QueueUrl"]), request["ReceiptHandle"])
        return {}

    def op_ChangeMessageVisibility(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(request["QueueUrl"])
        self.release(queue, request["ReceiptHandle"], self.clock() + float(request["VisibilityTimeout"]))
        return {}

    def op_PurgeQueue(self, request: dict[str, Any]) -> dict[str, Any]:
        self._queue(request["QueueUrl"]).messages.clear()
        return {}

    # ------------------------------------------------------------------ the event source's side
    def send(self, queue: Queue, body: str, *, delay: float = 0.0) -> str:
        with self.lock:
            first_id = ""
            for _ in range(self.on_send(queue, body)):
                message_id = f"msg-{next(self._ids):08d}"
                first_id = first_id or message_id
                now = self.clock()
                queue.messages[message_id] = Message(message_id, body, now, now + delay)
            self.sent += 1
            return first_id or f"msg-lost-{next(self._ids):08d}"

    def visible(self, queue: Queue) -> list[Message]:
        now = self.clock()
        with self.lock:
            return sorted((m for m in queue.messages.values() if m.visible_at <= now),
                          key=lambda m: (m.visible_at, m.message_id))

    def next_visible_at(self, queue: Queue) -> float | None:
        with self.lock:
            return min((m.visible_at for m in queue.messages.values()), default=None)

    def receive(self, queue: Queue, message: Message) -> Message | None:
        """Receive one message (invisible for the visibility timeout); None if it went to the DLQ."""
        with self.lock:
            now = self.clock()
            redrive = queue.redrive
            if redrive and message.receive_count >= int(redrive["maxReceiveCount"]):
                del queue.messages[message.message_id]
                dlq = next((q for q in self.queues.values() if q.arn == redrive["deadLetterTargetArn"]), None)
                if dlq is not None:
                    dlq.messages[message.message_id] = Message(message.message_id, message.body, message.sent_at,
                                                               float("inf"), message.receive_count)
                return None
            message.receive_count += 1
            message.first_received_at = message.first_received_at or now
            message.visible_at = now + queue.visibility_timeout
            message.receipt = f"{message.message_id}#{message.receive_count}"
            return message

    def delete(self, queue: Queue, receipt: str) -> None:
        with self.lock:
            message_id = receipt.split("#", 1)[0]
            message = queue.messages.get(message_id)
            # A stale receipt (the message was received again since) deletes nothing.
            if message is not None and message.receipt == receipt:
                del queue.messages[message_id]

    def release(self, queue: Queue, receipt: str, visible_at: float) -> None:
        with self.lock:
            message = queue.messages.get(receipt.split("#", 1)[0])
            if message is not None and message.receipt == receipt:
                message.visible_at = visible_at
