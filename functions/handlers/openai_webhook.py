"""The `openai_webhook` function: POST /v1/providers/openai/webhook, signed by OpenAI.

Its own function so the api function never imports the openai SDK. The route takes no
API key: the Standard Webhooks signature is the authentication. A bad signature is a 400
and changes nothing; everything verified is answered 200 quickly.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrelay.constants import OPENAI_WEBHOOK_PATH
from batchrelay.errors import BatchRelayError
from batchrelay.lifecycle.openai_fast_path import handle_openai_webhook
from handlers.utils.observability import logger, metrics, tracer

app = APIGatewayRestResolver()


@app.post(OPENAI_WEBHOOK_PATH)
def receive_openai_webhook() -> dict[str, Any]:
    event = app.current_event
    body = event.decoded_body or ""
    outcome = handle_openai_webhook(body, dict(event.headers or {}))
    logger.info("openai webhook", extra={"outcome": outcome.__dict__})
    return {"received": True, "handed_off": outcome.handed_off}


@app.exception_handler(BatchRelayError)
def domain_error(exc: BatchRelayError) -> Response:
    if exc.http_status >= 500:
        logger.exception("openai webhook failed")
    else:
        logger.warning("openai webhook refused", extra={"error": exc.to_dict()})
    return Response(
        status_code=exc.http_status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": exc.to_dict()},
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
