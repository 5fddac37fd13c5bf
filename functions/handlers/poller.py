"""Lambda entry point of the every-minute schedule: check the chunks due for a check."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay import constants as c
from batchrelay.lifecycle.poller import run_poll
from handlers.utils.observability import logger, metrics, tracer

# Stop starting new work this long before Lambda's timeout: writes in flight must finish.
DEADLINE_MARGIN_S = 10.0


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = time.time()
    deadline = now + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_S
    summary = run_poll(now=now, deadline=deadline)
    logger.info("poll run", extra={"summary": summary})
    for provider, age_s in summary["oldest_pending_s"].items():
        # A batch the provider keeps pending is never given up on: its age is what shows it.
        with single_metric(name=c.METRIC_OLDEST_PENDING_BATCH_AGE, unit=MetricUnit.Seconds, value=age_s,
                           namespace=c.METRICS_NAMESPACE, default_dimensions={"service": c.SERVICE_NAME}) as metric:
            metric.add_dimension(name="provider", value=provider)
    return summary
