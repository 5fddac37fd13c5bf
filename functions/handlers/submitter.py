"""Lambda entry point of the `jobs` queue: plan jobs, create chunk batches, cancel jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.lifecycle.submitter import handle_jobs_message
from handlers.utils.observability import logger, metrics, tracer
from handlers.utils.sqs_consumer import JobsQueueRecord, message_handler, queue_processor

processor = queue_processor(JobsQueueRecord)
record_handler = message_handler(handle_jobs_message, "jobs")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
