"""OpenAI's own webhooks: verified with the SDK, the chunk handed to `collect` once."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import boto3
import pytest
from standardwebhooks import Webhook

from batchrelay.constants import OPENAI_WEBHOOK_PATH
from batchrelay.lifecycle import provider_lookup
from batchrelay.models.job import Chunk, ChunkStatus
from batchrelay.providers.base import BatchInfo, ProviderError
from batchrelay.store import chunk_store
from batchrelay.webhooks.signing import new_secret
from tests.support.lambda_events import FakeLambdaContext, api_event

SECRET = new_secret()
BATCH_ID = "batch_abc123"


class FakeOpenAI:
    """Stands in for the OpenAI adapter: reports the batch as OpenAI would after it ended."""

    name = "openai"

    def __init__(self, status: str = "completed") -> None:
        self.status = status
        self.retrieved: list[str] = []

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        self.retrieved.append(batch_id)
        if self.status == "unreachable":
            raise ProviderError("connection reset", retryable=True)
        ended = self.status in ("completed", "failed", "expired", "cancelled")
        return BatchInfo(
            batch_id=batch_id,
            provider_status=self.status,
            state="ended" if ended else "running",
            created_at=time.time() - 60,
            end_reason=self.status if ended else None,  # type: ignore[arg-type]
            total=2,
            completed=2 if ended else 1,
        )


@pytest.fixture
def provider(monkeypatch) -> FakeOpenAI:
    fake = FakeOpenAI()
    monkeypatch.setattr(provider_lookup, "provider_for", lambda name: fake)
    return fake


@pytest.fixture
def openai_env(aws, monkeypatch, provider) -> dict[str, str]:
    monkeypatch.setenv("OPENAI_WEBHOOK_SECRET", SECRET)
    return aws


def submitted_chunk(batch_id: str = BATCH_ID) -> Chunk:
    """A chunk waiting on an OpenAI batch, with the batch's claim item (as the submitter leaves it)."""
    chunk, _ = chunk_store.put_chunk(
        Chunk(
            job_id="job_01",
            chunk_id="c00001",
            provider="openai",
            endpoint="/v1/chat/completions",
            status=ChunkStatus.CREATING,
            request_count=2,
            input_key="chunks/job_01/c00001/input.jsonl",
            tenant_id="tenant-a",
        )
    )
    now = time.time()
    return chunk_store.record_batch(chunk, batch_id=batch_id, batch_created_at=now, due_at=int(now) + 60)


def openai_event(event_type: str = "batch.completed", batch_id: str = BATCH_ID) -> str:
    return json.dumps(
        {"id": "evt_685343a1381c819085d44c354e1b330e", "object": "event", "created_at": int(time.time()),
         "type": event_type, "data": {"id": batch_id}}
    )


def signed_headers(body: str, *, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    msg_id = "wh_685342e6c53c8190a1be43f081506c52"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def post_webhook(body: str, headers: dict[str, str]) -> tuple[int, dict]:
    from handlers.openai_webhook import handler

    event = api_event("POST", OPENAI_WEBHOOK_PATH, body, api_key_id=None, headers=headers)
    answer = handler(event, FakeLambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def collect_messages(env: dict[str, str]) -> list[dict]:
    sqs = boto3.client("sqs")
    out = sqs.receive_message(QueueUrl=env["COLLECT_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def table_items(env: dict[str, str]) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=env["TABLE_NAME"])["Items"]


def test_a_verified_batch_completed_hands_the_chunk_to_collect(openai_env):
    # Given a chunk waiting on a batch
    submitted_chunk()
    # When OpenAI says the batch completed
    body = openai_event()
    status, answer = post_webhook(body, signed_headers(body))
    # Then the webhook is acknowledged and the chunk is on its way to the collector
    assert status == 200 and answer == {"received": True, "handed_off": True}
    chunk = chunk_store.get_chunk("job_01", "c00001")
    assert chunk.status == ChunkStatus.ENDED and chunk.end_reason == "completed"
    assert collect_messages(openai_env) == [{"kind": "collect", "job_id": "job_01", "chunk_id": "c00001"}]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, h: (body.replace("batch.completed", "batch.expired"), h),
        lambda body, h: (body, signed_headers(body, secret=new_secret())),
        lambda body, h: (body, signed_headers(body, at=datetime.fromtimestamp(time.time() - 3600, UTC))),
        lambda body, h: (body, {k: v for k, v in h.items() if k != "webhook-signature"}),
        lambda body, h: (body, {}),
    ],
    ids=["tampered-body", "wrong-secret", "stale", "no-signature", "no-headers"],
)
def test_a_bad_signature_is_refused_with_400_and_changes_nothing(openai_env, provider, tamper):
    # Given a chunk waiting on a batch, and the table as it is
    submitted_chunk()
    before = table_items(openai_env)
    # When a webhook arrives whose signature does not verify
    body = openai_event()
    bad_body, bad_headers = tamper(body, signed_headers(body))
    status, answer = post_webhook(bad_body, bad_headers)
    # Then it is refused and nothing changed or was sent, not even a provider call
    assert status == 400 and answer["error"]["code"] == "invalid_signature"
    assert table_items(openai_env) == before
    assert collect_messages(openai_env) == []
    assert provider.retrieved == []


def test_an_unknown_batch_or_other_event_is_acknowledged_and_ignored(openai_env, provider):
    submitted_chunk()
    for body in (openai_event(batch_id="batch_not_ours"), openai_event("response.completed")):
        status, answer = post_webhook(body, signed_headers(body))
        assert status == 200 and answer["handed_off"] is False
    assert chunk_store.get_chunk("job_01", "c00001").status == ChunkStatus.SUBMITTED
    assert collect_messages(openai_env) == []
    assert provider.retrieved == []


def test_an_event_about_an_older_batch_of_the_chunk_changes_nothing(openai_env, provider):
    # Given a chunk whose first batch was replaced (its claim item still points at the chunk)
    chunk = submitted_chunk("batch_old")
    chunk_store.transition_chunk("job_01", "c00001", "openai", ChunkStatus.SUBMITTED, ChunkStatus.HELD)
    chunk = chunk_store.transition_chunk(
        "job_01", "c00001", "openai", ChunkStatus.HELD, ChunkStatus.CREATING, create_seq=chunk.create_seq + 1
    )
    chunk_store.record_batch(chunk, batch_id="batch_new", batch_created_at=time.time(), due_at=int(time.time()) + 60)
    # When a late event about the old batch arrives
    body = openai_event("batch.failed", batch_id="batch_old")
    status, answer = post_webhook(body, signed_headers(body))
    # Then the chunk keeps waiting on its current batch
    assert status == 200 and answer["handed_off"] is False
    assert chunk_store.get_chunk("job_01", "c00001").batch_id == "batch_new"
    assert collect_messages(openai_env) == []


@pytest.mark.parametrize("status", ["in_progress", "unreachable"])
def test_when_the_provider_does_not_confirm_the_end_the_poller_is_left_to_it(openai_env, provider, status):
    submitted_chunk()
    provider.status = status
    body = openai_event()
    code, answer = post_webhook(body, signed_headers(body))
    assert code == 200 and answer["handed_off"] is False
    assert chunk_store.get_chunk("job_01", "c00001").status == ChunkStatus.SUBMITTED


def _poll_once() -> bool:
    """What the poller does for a due chunk whose batch it found ended."""
    from batchrelay.lifecycle.poller import PollSummary, apply_batch_info

    chunk = chunk_store.get_chunk("job_01", "c00001")
    if chunk.status != ChunkStatus.SUBMITTED:
        return False
    summary = PollSummary()
    apply_batch_info(chunk, FakeOpenAI().retrieve_batch(BATCH_ID), now=time.time(), summary=summary)
    return summary.handed_to_collect == 1


@pytest.fixture
def atomic_dynamodb():
    """DynamoDB checks a condition and writes in one atomic step; moto in-process does not
    lock between the two, so threads get the per-item atomicity of the real service here."""
    from batchrelay_tools.local.atomic_dynamodb import serialize_dynamodb_writes

    undo = serialize_dynamodb_writes()
    yield
    undo()


@pytest.mark.parametrize("order", ["webhook-first", "poller-first", "together"])
def test_fast_path_and_poller_racing_on_one_chunk_collect_it_once(openai_env, atomic_dynamodb, order):
    # Given a chunk whose batch just ended
    submitted_chunk()
    body = openai_event()
    results: dict[str, object] = {}

    def webhook() -> None:
        results["webhook"] = post_webhook(body, signed_headers(body))[1]["handed_off"]

    def poller() -> None:
        results["poller"] = _poll_once()

    # When the webhook and the poller both see it
    if order == "webhook-first":
        webhook(), poller()
    elif order == "poller-first":
        poller(), webhook()
    else:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=lambda f=f: (barrier.wait(), f())) for f in (webhook, poller)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Then exactly one of them handed it over, and `collect` got one message
    assert sorted(results.values()) == [False, True]
    assert collect_messages(openai_env) == [{"kind": "collect", "job_id": "job_01", "chunk_id": "c00001"}]
    assert chunk_store.get_chunk("job_01", "c00001").status == ChunkStatus.ENDED


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(openai_env):
    import base64

    from handlers.openai_webhook import handler

    submitted_chunk()
    body = openai_event()
    event = api_event("POST", OPENAI_WEBHOOK_PATH, None, api_key_id=None, headers=signed_headers(body))
    event.update(body=base64.b64encode(body.encode()).decode(), isBase64Encoded=True)
    answer = handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["handed_off"] is True
