"""Small builders for jobs and chunks in tests."""

from __future__ import annotations

from typing import Any

from batchrelay.clock import now_iso
from batchrelay.ids import new_id
from batchrelay.models.job import Job, JobStatus


def make_job(**overrides: Any) -> Job:
    job_id = overrides.pop("job_id", None) or new_id("job")
    fields: dict[str, Any] = {
        "job_id": job_id,
        "tenant_id": "t1",
        "status": JobStatus.QUEUED,
        "provider": "openai",
        "endpoint": "/v1/chat/completions",
        "request_count": 0,
        "input_key": f"inputs/t1/{job_id}/input.jsonl",
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "chunk_size": 5000,
        "max_attempts": 3,
    }
    fields.update(overrides)
    return Job(**fields)
