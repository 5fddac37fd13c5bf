"""Lambda entry point of the `jobs` queue: plan jobs, create chunk batches, cancel jobs."""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.lifecycle.submitter import handle_jobs_message
from handlers.utils.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    message = orjson.loads(record.body)
    outcome = handle_jobs_message(message)
    logger.info("jobs message handled", extra={"jobs_message": message, "outcome": outcome})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
