"""Files and uploads of the OpenAI surface as stored (store.file_store)."""

from __future__ import annotations

from typing import Literal

from batchrelay.models.base import Model

UploadStatus = Literal["pending", "completed", "cancelled", "expired"]


class StoredFile(Model):
    """A file: a batch input the tenant sent, or a batch's output or error file."""

    file_id: str
    tenant_id: str
    filename: str
    bytes: int
    purpose: str               # "batch" (an input) | "batch_output" (a batch's output or errors)
    created_at: int            # epoch seconds
    expires_at: int | None     # epoch seconds: gone from then on
    key: str                   # its S3 object
    job_id: str | None = None  # the batch an output or error file belongs to

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class StoredUpload(Model):
    """An upload of OpenAI's Uploads API: parts sent one request each, then completed into a file."""

    upload_id: str
    tenant_id: str
    filename: str
    bytes: int
    purpose: str
    mime_type: str
    status: UploadStatus       # as stored: pending, completed or cancelled (expired is read from the time)
    created_at: int
    expires_at: int
    file_lifetime: int | None = None   # seconds the completed file lives (its expires_after)
    file_id: str | None = None

    def status_at(self, now: float) -> UploadStatus:
        return "expired" if self.status == "pending" and now >= self.expires_at else self.status
