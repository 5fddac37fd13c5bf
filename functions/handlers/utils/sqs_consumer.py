"""The one shape of every queue consumer: a JSON message per record, a domain function per
message, partial batch failures so one bad record never fails or repeats the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from handlers.utils.observability import logger


def json_record_handler(handle: Callable[[dict[str, Any]], str], queue: str) -> Callable[[SQSRecord], str]:
    """A BatchProcessor record handler that parses the body and calls ``handle`` with it."""

    def record_handler(record: SQSRecord) -> str:
        message = orjson.loads(record.body)
        outcome = handle(message)
        logger.info(f"{queue} message handled", extra={"queue_message": message, "outcome": outcome})
        return outcome

    return record_handler
