"""The `authorizer` function: API Gateway's Lambda authorizer (REQUEST type) for every keyed route.

Finds the API key in the route family's headers (x-api-key; Authorization: Bearer) and hands it
back as the usage identifier; a request without a known, enabled key is denied (a 401).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.api.key_authorizer import UNKNOWN_PRINCIPAL, authorize
from batchrelay.aws.api_keys import key_directory
from handlers.utils.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = authorize(event, key_directory())
    if answer["principalId"] == UNKNOWN_PRINCIPAL:
        # Never log the value: it is a credential.
        logger.info("denied a request without a known key", extra={"path": event.get("path")})
    return answer
