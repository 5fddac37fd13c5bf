"""The `webhook` function: consumes the `webhooks` queue (job events from SNS and follow-up
delivery messages) and makes signed deliveries. One failing record never fails the rest."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.webhooks import fanout
from handlers.utils.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)
_deadline = 0.0


def _time_left() -> float:
    return _deadline - time.monotonic()


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    outcomes = fanout.handle_message(record.body, time_left=_time_left, redelivered=receive_count > 1)
    for outcome in outcomes.values():
        metrics.add_metric(name=f"webhook_{outcome}", unit=MetricUnit.Count, value=1)
    logger.info("webhook message handled", extra={"message_id": record.message_id, "outcomes": outcomes})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _deadline
    _deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
