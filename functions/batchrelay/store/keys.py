"""Key builders for every item kind in the table (layout documented in constants.py)."""

from __future__ import annotations

JOB_SK = "JOB"
CHUNK_SK_PREFIX = "CHUNK#"
DELIVERY_SK_PREFIX = "DELIVERY#"
WEBHOOK_SK_PREFIX = "WEBHOOK#"


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": job_pk(job_id), "sk": JOB_SK}


def chunk_key(job_id: str, chunk_id: str) -> dict[str, str]:
    return {"pk": job_pk(job_id), "sk": f"{CHUNK_SK_PREFIX}{chunk_id}"}


def delivery_key(job_id: str, event_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": job_pk(job_id), "sk": f"{DELIVERY_SK_PREFIX}{event_id}#{endpoint_id}"}


def idempotency_key(tenant_id: str, key: str) -> dict[str, str]:
    return {"pk": f"IDEMPOTENCY#{tenant_id}#{key}", "sk": "IDEMPOTENCY"}


def upload_key(upload_id: str) -> dict[str, str]:
    return {"pk": f"UPLOAD#{upload_id}", "sk": "UPLOAD"}


def batch_key(provider: str, batch_id: str) -> dict[str, str]:
    return {"pk": f"BATCH#{provider}#{batch_id}", "sk": "BATCH"}


def batch_id_of(batch_pk: str) -> str:
    """The provider batch id of a claim item's pk (BATCH#<provider>#<batch_id>)."""
    return batch_pk.split("#", 2)[2]


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def webhook_endpoint_key(tenant_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"{WEBHOOK_SK_PREFIX}{endpoint_id}"}


def tenant_secret_key(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": "SIGNING_SECRET"}


def files_pk(tenant_id: str) -> str:
    return f"FILES#{tenant_id}"


FILE_SK_PREFIX = "FILE#"
OPENAI_UPLOAD_SK_PREFIX = "UPLOAD#"


def file_key(tenant_id: str, file_id: str) -> dict[str, str]:
    return {"pk": files_pk(tenant_id), "sk": f"{FILE_SK_PREFIX}{file_id}"}


def openai_upload_key(tenant_id: str, upload_id: str) -> dict[str, str]:
    return {"pk": files_pk(tenant_id), "sk": f"{OPENAI_UPLOAD_SK_PREFIX}{upload_id}"}
