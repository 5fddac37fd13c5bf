"""The OpenAI surface's routes on moto: Files, Uploads and Batches as OpenAI's API has them,
OpenAI's error shape, one tenant's objects out of another's reach. Every answer is checked
against OpenAI's published schema (tests/support/openai_surface.py)."""

from __future__ import annotations

import hashlib

import boto3
import pytest

from batchrelay import constants as c
from batchrelay.store import job_store
from tests.support.api_client import ApiClient
from tests.support.openai_surface import batch_line, jsonl, openai_call, upload_file

CONTENT = jsonl([batch_line(f"r{i}") for i in range(5)])


@pytest.fixture
def file(aws) -> dict:
    return upload_file(CONTENT)


def _create_batch(file_id: str, headers: dict[str, str] | None = None, **extra) -> dict:
    body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", **extra}
    answer = openai_call("POST", "/batches", body, headers=headers)
    assert answer.status == 200, answer.body
    return answer.body


# --- files ---


def test_a_file_sent_in_one_request_is_kept_byte_for_byte_and_listed(aws, file):
    assert file["object"] == "file" and file["purpose"] == "batch" and file["bytes"] == len(CONTENT)
    assert file["id"].startswith("file-") and file["filename"] == "input.jsonl"
    assert file["expires_at"] > file["created_at"]
    assert openai_call("GET", f"/files/{file['id']}").body == file
    listed = openai_call("GET", "/files").body
    assert [f["id"] for f in listed["data"]] == [file["id"]] and listed["has_more"] is False
    # The content is served by S3: a redirect to a presigned URL, which has the same bytes
    content = openai_call("GET", f"/files/{file['id']}/content")
    assert content.status == 307
    key = content.headers["Location"].split("?")[0].split(aws[c.ENV_BUCKET_NAME] + "/", 1)[1]
    assert boto3.client("s3").get_object(Bucket=aws[c.ENV_BUCKET_NAME], Key=key)["Body"].read() == CONTENT


def test_files_list_newest_first_in_pages(aws):
    ids = [upload_file(CONTENT, filename=f"f{i}.jsonl")["id"] for i in range(3)]
    first = openai_call("GET", "/files", query={"limit": "2"}).body
    assert [f["id"] for f in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    rest = openai_call("GET", "/files", query={"limit": "2", "after": first["last_id"]}).body
    assert [f["id"] for f in rest["data"]] == [ids[0]] and rest["has_more"] is False
    oldest_first = openai_call("GET", "/files", query={"order": "asc"}).body
    assert [f["id"] for f in oldest_first["data"]] == ids
    assert openai_call("GET", "/files", query={"purpose": "batch_output"}).body["data"] == []


def test_a_deleted_file_is_gone(aws, file):
    deleted = openai_call("DELETE", f"/files/{file['id']}")
    assert deleted.body == {"id": file["id"], "object": "file", "deleted": True}
    assert openai_call("GET", f"/files/{file['id']}").status == 404
    assert openai_call("GET", f"/files/{file['id']}/content").status == 404
    assert openai_call("DELETE", f"/files/{file['id']}").status == 404


def test_only_batch_files_are_kept(aws):
    answer = openai_call("POST", "/files", files={"file": ("x.jsonl", CONTENT)}, data={"purpose": "fine-tune"})
    assert answer.status == 400
    assert answer.body["error"]["param"] == "purpose" and answer.body["error"]["type"] == "invalid_request_error"
    missing = openai_call("POST", "/files", files={"file": ("x.jsonl", CONTENT)})
    assert missing.status == 400 and missing.body["error"]["param"] == "purpose"


# --- uploads ---


def test_an_upload_in_parts_becomes_one_file(aws):
    parts = [CONTENT[:100], CONTENT[100:250], CONTENT[250:]]
    upload = openai_call("POST", "/uploads", {"bytes": len(CONTENT), "filename": "big.jsonl",
                                              "mime_type": "text/jsonl", "purpose": "batch"}).body
    assert upload["status"] == "pending" and upload["file"] is None and upload["object"] == "upload"
    part_ids = [openai_call("POST", f"/uploads/{upload['id']}/parts", files={"data": ("blob", p)}).body["id"]
                for p in parts]
    # Completed in the order given, with the md5 checked
    md5 = hashlib.md5(CONTENT).hexdigest()
    done = openai_call("POST", f"/uploads/{upload['id']}/complete", {"part_ids": part_ids, "md5": md5}).body
    assert done["status"] == "completed" and done["file"]["bytes"] == len(CONTENT)
    assert done["file"]["filename"] == "big.jsonl" and done["file"]["purpose"] == "batch"
    # A repeat answers the same file; the parts are gone, the file is whole
    assert openai_call("POST", f"/uploads/{upload['id']}/complete", {"part_ids": part_ids}).body == done
    location = openai_call("GET", f"/files/{done['file']['id']}/content").headers["Location"]
    key = location.split("?")[0].split(aws[c.ENV_BUCKET_NAME] + "/", 1)[1]
    assert boto3.client("s3").get_object(Bucket=aws[c.ENV_BUCKET_NAME], Key=key)["Body"].read() == CONTENT
    parts_left = boto3.client("s3").list_objects_v2(Bucket=aws[c.ENV_BUCKET_NAME],
                                                    Prefix=f"uploads/tenant-a/{upload['id']}/")
    assert parts_left.get("KeyCount", 0) == 0


def test_an_upload_refuses_wrong_sizes_parts_and_late_parts(aws):
    upload = openai_call("POST", "/uploads", {"bytes": 10, "filename": "x.jsonl", "mime_type": "text/jsonl",
                                              "purpose": "batch"}).body
    part = openai_call("POST", f"/uploads/{upload['id']}/parts", files={"data": ("blob", b"12345")}).body
    short = openai_call("POST", f"/uploads/{upload['id']}/complete", {"part_ids": [part["id"]]})
    assert short.status == 400 and "does not match" in short.body["error"]["message"]
    bogus = openai_call("POST", f"/uploads/{upload['id']}/complete", {"part_ids": ["part_" + "0" * 26]})
    assert bogus.status == 400 and bogus.body["error"]["param"] == "part_ids"
    cancelled = openai_call("POST", f"/uploads/{upload['id']}/cancel").body
    assert cancelled["status"] == "cancelled"
    late = openai_call("POST", f"/uploads/{upload['id']}/parts", files={"data": ("blob", b"67890")})
    assert late.status == 409 and late.body["error"]["code"] == "upload_not_pending"
    too_big = openai_call("POST", "/uploads", {"bytes": 10**12, "filename": "x.jsonl", "mime_type": "text/jsonl",
                                               "purpose": "batch"})
    assert too_big.status == 413 and "POST /v1/uploads" in too_big.body["error"]["message"]


# --- batches ---


def test_a_batch_is_a_job_validating_its_file(aws, file):
    batch = _create_batch(file["id"], metadata={"team": "search"})
    assert batch["object"] == "batch" and batch["status"] == "validating"
    assert batch["input_file_id"] == file["id"] and batch["endpoint"] == "/v1/chat/completions"
    assert batch["completion_window"] == "24h" and batch["metadata"] == {"team": "search"}
    assert batch["output_file_id"] is None and batch["errors"] is None
    # Underneath: a batchrelay job with the same id, created from the file
    job = ApiClient().call("GET", f"/v1/jobs/{batch['id']}").body
    assert job["status"] == "validating" and job["provider"] == "openai" and job["metadata"] == {"team": "search"}
    assert openai_call("GET", f"/batches/{batch['id']}").body["id"] == batch["id"]


def test_batches_list_newest_first_with_after_and_limit(aws, file):
    ids = [_create_batch(file["id"])["id"] for _ in range(3)]
    ApiClient().call("POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions",
                                          "requests": [{"custom_id": "a", "body": batch_line("a")["body"]}]})
    page = openai_call("GET", "/batches", query={"limit": "2"}).body
    assert [b["id"] for b in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    rest = openai_call("GET", "/batches", query={"after": page["last_id"]}).body
    # Native jobs are not batches of this surface
    assert [b["id"] for b in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_a_cancelled_batch_is_cancelling_and_a_final_one_cannot_be(aws, file):
    batch = _create_batch(file["id"])
    cancelling = openai_call("POST", f"/batches/{batch['id']}/cancel").body
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] >= batch["created_at"]
    job_store.update_job_fields(batch["id"], status="cancelled", finished_at="2030-01-01T00:00:00.000Z")
    again = openai_call("POST", f"/batches/{batch['id']}/cancel")
    assert again.status == 409 and again.body["error"]["message"] == "Cannot cancel a batch with status 'cancelled'."
    assert openai_call("GET", f"/batches/{batch['id']}").body["cancelled_at"] == 1893456000


def test_the_provider_is_openai_unless_a_header_or_metadata_names_another_of_its_format(aws, file):
    assert ApiClient().call("GET", f"/v1/jobs/{_create_batch(file['id'])['id']}").body["provider"] == "openai"
    by_header = _create_batch(file["id"], headers={c.PROVIDER_HEADER: "openai"})
    assert ApiClient().call("GET", f"/v1/jobs/{by_header['id']}").body["provider"] == "openai"
    body = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    for headers, metadata, param in (
        ({c.PROVIDER_HEADER: "anthropic"}, None, c.PROVIDER_HEADER),         # another request format
        ({c.PROVIDER_HEADER: "nope"}, None, c.PROVIDER_HEADER),              # not registered
        (None, {c.PROVIDER_METADATA_KEY: "nope"}, f"metadata.{c.PROVIDER_METADATA_KEY}"),
    ):
        answer = openai_call("POST", "/batches", {**body, **({"metadata": metadata} if metadata else {})},
                             headers=headers)
        assert answer.status == 400, answer.body
        assert answer.body["error"]["code"] == "invalid_provider" and answer.body["error"]["param"] == param


def test_bad_batch_requests_get_openai_errors(aws, file):
    base = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    cases = [
        ({**base, "completion_window": "48h"}, 400, "completion_window"),
        ({**base, "endpoint": "/v1/images/generations"}, 400, "endpoint"),
        ({**base, "input_file_id": "file-nope"}, 404, "input_file_id"),
        ({**base, "surprise": 1}, 400, "surprise"),
        ({k: v for k, v in base.items() if k != "endpoint"}, 400, "endpoint"),
    ]
    for body, status, param in cases:
        answer = openai_call("POST", "/batches", body)
        assert answer.status == status, (body, answer.body)
        assert set(answer.body["error"]) == {"message", "type", "param", "code"}
        assert answer.body["error"]["param"] == param


def test_another_tenants_files_and_batches_are_not_found(aws, file):
    batch = _create_batch(file["id"])
    for method, path in (("GET", f"/files/{file['id']}"), ("GET", f"/files/{file['id']}/content"),
                         ("DELETE", f"/files/{file['id']}"), ("GET", f"/batches/{batch['id']}"),
                         ("POST", f"/batches/{batch['id']}/cancel")):
        answer = openai_call(method, path, tenant="tenant-b")
        assert answer.status == 404, (method, path)
        assert answer.body["error"]["type"] == "invalid_request_error"
    other = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    assert openai_call("POST", "/batches", other, tenant="tenant-b").status == 404
    assert openai_call("GET", "/batches", tenant="tenant-b").body["data"] == []
    assert openai_call("GET", "/files", tenant="tenant-b").body["data"] == []
    # A native job id is not a batch of this surface either
    assert openai_call("GET", "/batches/job_nope").status == 404


def test_errors_take_openais_shape_here_and_batchrelays_elsewhere(aws):
    surface = openai_call("GET", "/nowhere")
    assert surface.status == 404 and surface.body["error"]["type"] == "invalid_request_error"
    assert ApiClient().call("GET", "/v1/nowhere").body["error"]["code"] == "route_not_found"
    assert "type" not in ApiClient().call("GET", "/v1/nowhere").body["error"]
    wrong_type = openai_call("POST", "/batches", "purpose=batch", headers={"content-type": "text/plain"})
    assert wrong_type.status == 415 and wrong_type.body["error"]["code"] == "unsupported_media_type"


def test_the_provider_header_is_read_whatever_its_case(aws, file):
    answer = openai_call("POST", "/batches", {"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                                              "completion_window": "24h"}, headers={"X-BatchRelay-Provider": "nope"})
    assert answer.status == 400 and answer.body["error"]["code"] == "invalid_provider"


def test_an_idempotency_key_makes_a_repeated_create_answer_the_same_batch(aws, file):
    body = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    first = openai_call("POST", "/batches", body, headers={"Idempotency-Key": "k-1"}).body
    again = openai_call("POST", "/batches", body, headers={"Idempotency-Key": "k-1"}).body
    assert again["id"] == first["id"]
    assert len(openai_call("GET", "/batches").body["data"]) == 1
