"""Key builders for every item kind in the table (layout documented in constants.py)."""

from __future__ import annotations


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": "JOB"}


def chunk_key(job_id: str, chunk_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"CHUNK#{chunk_id}"}


def delivery_key(job_id: str, event_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"DELIVERY#{event_id}#{endpoint_id}"}


def idempotency_key(tenant_id: str, key: str) -> dict[str, str]:
    return {"pk": f"IDEMPOTENCY#{tenant_id}#{key}", "sk": "IDEMPOTENCY"}


def upload_key(upload_id: str) -> dict[str, str]:
    return {"pk": f"UPLOAD#{upload_id}", "sk": "UPLOAD"}


def batch_key(provider: str, batch_id: str) -> dict[str, str]:
    return {"pk": f"BATCH#{provider}#{batch_id}", "sk": "BATCH"}


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def webhook_endpoint_key(tenant_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"WEBHOOK#{endpoint_id}"}


def tenant_secret_key(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": "SIGNING_SECRET"}
