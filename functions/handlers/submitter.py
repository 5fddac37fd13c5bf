"""Lambda entry point of the `jobs` queue: plan jobs, create chunk batches, cancel jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay import constants as c
from batchrelay.lifecycle.batch_creation import HELD_FOR_CREDENTIALS
from batchrelay.lifecycle.submitter import handle_jobs_message
from batchrelay.models.messages import JobsQueueMessage
from handlers.utils.observability import logger, metrics, tracer
from handlers.utils.sqs_consumer import JobsQueueRecord, message_handler, queue_processor

processor = queue_processor(JobsQueueRecord)


def handle(message: JobsQueueMessage) -> str:
    outcome = handle_jobs_message(message)
    if outcome.startswith(HELD_FOR_CREDENTIALS):
        # The alarm on this metric tells the operator to fix a provider's key (infra/monitoring.py).
        metrics.add_metric(name=c.METRIC_PROVIDER_CREDENTIALS_REFUSED, unit=MetricUnit.Count, value=1)
    return outcome


record_handler = message_handler(handle, "jobs")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
