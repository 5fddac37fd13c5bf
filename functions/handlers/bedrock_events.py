"""The `bedrock_events` function: Amazon Bedrock's "Batch Inference Job State Change" events,
delivered by the stack's EventBridge rule (this account's jobs that ended).

A fast path beside polling (lifecycle/bedrock_fast_path.py). An event it cannot act on is
acknowledged; an error (DynamoDB, SQS) fails the invocation, and EventBridge's asynchronous
invoke retries it; the poller hands the chunk over in any case.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.lifecycle.bedrock_fast_path import handle_bedrock_event
from handlers.utils.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    outcome = handle_bedrock_event(event.raw_event)
    logger.info("bedrock event", extra={"outcome": outcome.__dict__})
    return outcome.__dict__
