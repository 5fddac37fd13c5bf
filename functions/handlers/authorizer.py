"""The `authorizer` function: API Gateway's Lambda authorizer (REQUEST type) for every keyed route.

Finds the API key in the route family's header (x-api-key; Authorization: Bearer on the OpenAI
surface) and hands it back as the usage identifier; unknown or disabled keys get 401.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.api.key_authorizer import Unauthorized, authorize
from batchrelay.aws.api_keys import key_directory
from handlers.utils.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return authorize(event, key_directory())
    except Unauthorized:
        # Never log the value: it is a credential.
        logger.info("refused a request without a known key", extra={"path": event.get("path")})
        raise
