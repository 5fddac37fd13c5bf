"""Upload records (UPLOAD#<upload_id> / UPLOAD): which tenant owns an upload and its S3 key."""

from __future__ import annotations

from typing import Any

from batchrelay import constants as c
from batchrelay.clock import now_iso
from batchrelay.store import keys
from batchrelay.store.table import get, put_if_absent


def put_upload(upload_id: str, *, tenant_id: str, key: str, expires_at: int, **fields: Any) -> None:
    """Store a new upload record (ids are unique: an existing one is a programming error)."""
    item = {**keys.upload_key(upload_id), "tenant_id": tenant_id, "key": key, "created_at": now_iso(),
            c.TTL_ATTRIBUTE: expires_at, **fields}
    if not put_if_absent(item):
        raise RuntimeError(f"upload {upload_id} exists already")


def get_upload(upload_id: str) -> dict[str, Any] | None:
    return get(keys.upload_key(upload_id))
