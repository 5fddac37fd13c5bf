"""Follow-up messages on the `webhooks` queue: one per delivery attempt still to make.

The queue carries two kinds of bodies: the job event itself (from SNS, raw delivery) and
``{"kind": "delivery", ...}`` for an attempt of one (event, endpoint) delivery. SQS delays
a message by at most 15 minutes, so a longer wait is covered by sending the message again
with the remaining delay whenever it arrives before ``not_before``.
"""

from __future__ import annotations

from batchrelay.aws import clients
from batchrelay.models.messages import DeliverWebhook
from batchrelay.settings import get_settings

MAX_SQS_DELAY_SECONDS = 900


def enqueue_delivery(message: DeliverWebhook, *, now: float) -> None:
    """Send the message, delayed until ``not_before`` or by the 15-minute maximum."""
    delay = int(min(MAX_SQS_DELAY_SECONDS, max(0.0, message.not_before - now)))
    clients.sqs().send_message(
        QueueUrl=get_settings().webhooks_queue_url,
        MessageBody=message.model_dump_json(),
        DelaySeconds=delay,
    )
