"""The Anthropic surface's routes, under ``/anthropic/v1`` (the api resolver includes them with
that prefix). Answers are Anthropic's objects (models.anthropic_compat); errors Anthropic's
shape (api.error_shapes). Results are answered with a redirect to a presigned S3 URL: S3
streams them (the SDK follows redirects)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from batchrelay import constants as c
from batchrelay.api.request_urls import public_base_url
from batchrelay.api.tenancy import tenant_id_of
from batchrelay.jobs import anthropic_batches
from batchrelay.models.anthropic_compat import (
    CreateMessageBatchIn,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchList,
)

router = Router()


def _tenant() -> str:
    return tenant_id_of(router.current_event.raw_event)


def _base_url() -> str:
    return public_base_url(router.current_event.raw_event)


@router.post("/messages/batches", include_in_schema=False)
def create_message_batch(
    request: CreateMessageBatchIn,
    provider: Annotated[str | None, Header(alias=c.PROVIDER_HEADER)] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> MessageBatch:
    body_bytes = len((router.current_event.body or "").encode())
    return anthropic_batches.create_batch(_tenant(), request, provider_header=provider, base_url=_base_url(),
                                          body_bytes=body_bytes, idempotency_key=idempotency_key)


@router.get("/messages/batches", include_in_schema=False)
def list_message_batches(
    limit: Annotated[int, Query()] = 20,
    before_id: Annotated[str | None, Query()] = None,
    after_id: Annotated[str | None, Query()] = None,
) -> MessageBatchList:
    return anthropic_batches.list_batches(_tenant(), limit=limit, before_id=before_id, after_id=after_id,
                                          base_url=_base_url())


@router.get("/messages/batches/<batch_id>", include_in_schema=False)
def retrieve_message_batch(batch_id: str) -> MessageBatch:
    return anthropic_batches.get_batch(_tenant(), batch_id, base_url=_base_url())


@router.post("/messages/batches/<batch_id>/cancel", include_in_schema=False)
def cancel_message_batch(batch_id: str) -> MessageBatch:
    return anthropic_batches.cancel_batch(_tenant(), batch_id, base_url=_base_url())


@router.get("/messages/batches/<batch_id>/results", include_in_schema=False)
def message_batch_results(batch_id: str) -> Response[None]:
    url = anthropic_batches.results_location(_tenant(), batch_id)
    return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@router.delete("/messages/batches/<batch_id>", include_in_schema=False)
def delete_message_batch(batch_id: str) -> DeletedMessageBatch:
    return anthropic_batches.delete_batch(_tenant(), batch_id)
