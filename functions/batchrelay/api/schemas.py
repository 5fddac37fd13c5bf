"""The published descriptions: the API's OpenAPI document, with the job event as a webhook.

The event (SNS message and webhook body) is described by ``models.events.JobEvent``; it is
added to the OpenAPI document's ``webhooks`` section (OpenAPI 3.1) and served on its own
as a JSON Schema, so subscribers can validate or generate code from either.
"""

from __future__ import annotations

from typing import Any

import orjson

from batchrelay.models.events import JobEvent

_REF = "#/components/schemas/{model}"


def job_event_schema() -> dict[str, Any]:
    """The event's JSON Schema (draft 2020-12), self-contained."""
    schema = JobEvent.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "JobEvent", **schema}


def with_event_webhook(openapi_json: str) -> str:
    """The OpenAPI document with the job event under ``webhooks`` and its schemas in components."""
    document = orjson.loads(openapi_json)
    schema = JobEvent.model_json_schema(ref_template=_REF)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["JobEvent"] = schema
    document["webhooks"] = {
        "job-event": {
            "post": {
                "summary": "A job reached a final state (also published to the SNS topic)",
                "description": "Signed per the Standard Webhooks specification (webhook-id, "
                "webhook-timestamp, webhook-signature); deduplicate on the event id.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF.format(
                    model="JobEvent")}}}},
                "responses": {"2XX": {"description": "received; any other answer is retried"}},
            }
        }
    }
    return orjson.dumps(document).decode()
