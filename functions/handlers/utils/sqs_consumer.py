"""The one shape of every lifecycle queue consumer: Powertools' BatchProcessor parses each
record into the queue's message model (``batchrelay.models.messages``) and calls a domain
function with it; partial batch failures mean one bad record never fails or repeats the
others. A record that does not parse fails alone and goes to the dead-letter queue after
its retries, with the parse error in the log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from batchrelay.models.messages import CollectQueueMessage, JobsQueueMessage
from handlers.utils.observability import logger


class JobsQueueRecord(SqsRecordModel):
    body: Json[JobsQueueMessage]  # type: ignore[assignment]


class CollectQueueRecord(SqsRecordModel):
    body: Json[CollectQueueMessage]  # type: ignore[assignment]


def queue_processor(record_model: type[SqsRecordModel]) -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, model=record_model)


def message_handler(handle: Callable[[Any], str], queue: str) -> Callable[[SqsRecordModel], str]:
    """A BatchProcessor record handler that calls ``handle`` with the parsed message."""

    def record_handler(record: SqsRecordModel) -> str:
        outcome = handle(record.body)
        logger.info(
            f"{queue} message handled",
            extra={"queue_message": record.body.model_dump(), "message_id": record.messageId, "outcome": outcome},
        )
        return outcome

    return record_handler
