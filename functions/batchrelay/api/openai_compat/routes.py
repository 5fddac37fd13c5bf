"""The OpenAI surface's routes, under ``/openai/v1`` (the api resolver includes them with that prefix).

Answers are OpenAI's objects (models.openai_compat); errors OpenAI's shape (api.error_shapes).
A file's content is answered with a redirect to a presigned S3 URL: S3 streams it (the SDKs
follow redirects and drop the Authorization header on the way).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from batchrelay import constants as c
from batchrelay.api.openai_compat.multipart import FormField, parse_form, raw_body
from batchrelay.api.tenancy import tenant_id_of
from batchrelay.errors import ValidationFailed
from batchrelay.jobs import openai_batches, openai_files
from batchrelay.models.openai_compat import (
    CompleteUploadIn,
    CreateBatchIn,
    CreateUploadIn,
    ExpiresAfter,
    OpenAIBatch,
    OpenAIBatchList,
    OpenAIFile,
    OpenAIFileDeleted,
    OpenAIFileList,
    OpenAIUpload,
    OpenAIUploadPart,
)

router = Router()
# Paths (under the prefix) whose bodies are multipart/form-data, not JSON.
MULTIPART_ROUTES = (r"^/files$", r"^/uploads/[^/]+/parts$")


def _tenant() -> str:
    return tenant_id_of(router.current_event.raw_event)


def _form() -> dict[str, FormField]:
    event = router.current_event
    content_type = next((v for k, v in (event.headers or {}).items() if k.lower() == "content-type"), "")
    return parse_form(content_type, raw_body(event.raw_event))


def _required(form: dict[str, FormField], name: str) -> FormField:
    if name not in form:
        raise ValidationFailed(f"Missing required parameter: '{name}'.", field=name, code="missing_required_parameter")
    return form[name]


def _expires_after(form: dict[str, FormField]) -> ExpiresAfter | None:
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    try:
        return ExpiresAfter(anchor=anchor.text() if anchor else "", seconds=int(seconds.text()) if seconds else 0)
    except ValueError as exc:
        raise ValidationFailed("expires_after needs anchor 'created_at' and seconds from 3600 to 2592000",
                               field="expires_after", code="invalid_value") from exc


# --- files ---


@router.post("/files", include_in_schema=False)
def create_file() -> OpenAIFile:
    form = _form()
    file = _required(form, "file")
    return openai_files.create_file(
        _tenant(), filename=file.filename or "file.jsonl", content=file.value,
        purpose=_required(form, "purpose").text(), expires_after=_expires_after(form),
    )


@router.get("/files", include_in_schema=False)
def list_files(
    purpose: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query()] = 10_000,
    order: Annotated[str, Query()] = "desc",
    after: Annotated[str | None, Query()] = None,
) -> OpenAIFileList:
    return openai_files.list_files(_tenant(), limit=limit, order=order, after=after, purpose=purpose)


@router.get("/files/<file_id>", include_in_schema=False)
def retrieve_file(file_id: str) -> OpenAIFile:
    return openai_files.get_file(_tenant(), file_id)


@router.get("/files/<file_id>/content", include_in_schema=False)
def file_content(file_id: str) -> Response[None]:
    url = openai_files.file_content_url(_tenant(), file_id)
    return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@router.delete("/files/<file_id>", include_in_schema=False)
def delete_file(file_id: str) -> OpenAIFileDeleted:
    openai_files.delete_file(_tenant(), file_id)
    return OpenAIFileDeleted(id=file_id)


# --- uploads ---


@router.post("/uploads", include_in_schema=False)
def create_upload(request: CreateUploadIn) -> OpenAIUpload:
    return openai_files.create_upload(_tenant(), request)


@router.post("/uploads/<upload_id>/parts", include_in_schema=False)
def add_upload_part(upload_id: str) -> OpenAIUploadPart:
    return openai_files.add_part(_tenant(), upload_id, _required(_form(), "data").value)


@router.post("/uploads/<upload_id>/complete", include_in_schema=False)
def complete_upload(upload_id: str, request: CompleteUploadIn) -> OpenAIUpload:
    return openai_files.complete_upload(_tenant(), upload_id, request.part_ids, request.md5)


@router.post("/uploads/<upload_id>/cancel", include_in_schema=False)
def cancel_upload(upload_id: str) -> OpenAIUpload:
    return openai_files.cancel_upload(_tenant(), upload_id)


# --- batches ---


@router.post("/batches", include_in_schema=False)
def create_batch(
    request: CreateBatchIn,
    provider: Annotated[str | None, Header(alias=c.PROVIDER_HEADER)] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> OpenAIBatch:
    return openai_batches.create_batch(_tenant(), request, provider_header=provider, idempotency_key=idempotency_key)


@router.get("/batches", include_in_schema=False)
def list_batches(
    after: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query()] = 20,
) -> OpenAIBatchList:
    return openai_batches.list_batches(_tenant(), after=after, limit=limit)


@router.get("/batches/<batch_id>", include_in_schema=False)
def retrieve_batch(batch_id: str) -> OpenAIBatch:
    return openai_batches.get_batch(_tenant(), batch_id)


@router.post("/batches/<batch_id>/cancel", include_in_schema=False)
def cancel_batch(batch_id: str) -> OpenAIBatch:
    return openai_batches.cancel_batch(_tenant(), batch_id)
