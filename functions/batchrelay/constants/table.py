"""The DynamoDB single table: its keys, indexes and item kinds.

Items (pk / sk):
  job                JOB#<job_id>                / JOB
  chunk              JOB#<job_id>                / CHUNK#<chunk_id>
  webhook delivery   JOB#<job_id>                / DELIVERY#<event_id>#<endpoint_id>
  idempotency key    IDEMPOTENCY#<tenant>#<key>  / IDEMPOTENCY
  upload             UPLOAD#<upload_id>          / UPLOAD
  provider batch     BATCH#<provider>#<batch_id> / BATCH   (batch id -> chunk; claim)
  webhook endpoint   TENANT#<tenant_id>          / WEBHOOK#<endpoint_id>
  tenant secret      TENANT#<tenant_id>          / SIGNING_SECRET
  OpenAI file        FILES#<tenant_id>           / FILE#<file_id>     (input, output and error files)
  OpenAI upload      FILES#<tenant_id>           / UPLOAD#<upload_id> (OpenAI's Uploads API, in parts)
(key builders: batchrelay.store.keys)

Expiry (TTL_ATTRIBUTE): a job's own items (job, chunks, deliveries) and the items it
names (batch claims, its idempotency key) expire at the job's final time + retention
days; uploads at their creation + retention days (like the uploaded object); endpoints and
tenant secrets never (they are the tenant's settings, not a job's data).
"""

from __future__ import annotations

TABLE_LOGICAL_NAME = "batchrelay-table"
PK = "pk"
SK = "sk"
# A tenant's jobs, newest first: gsi1pk = TENANT#<tenant>, gsi1sk = <created_at ISO>#<job_id>
TENANT_JOBS_INDEX = "tenant-jobs"
TENANT_JOBS_PK = "gsi1pk"
TENANT_JOBS_SK = "gsi1sk"
# Sparse index of chunks due for a status check: present only while a chunk waits on the
# provider (or is held for capacity). due_pk = <provider>, due_at = epoch seconds (N).
DUE_CHUNKS_INDEX = "due-chunks"
DUE_CHUNKS_PK = "due_pk"
DUE_CHUNKS_SK = "due_at"
# Queued and validating jobs sit in the same index under this partition while a `jobs`
# message should move them on: if it was lost, the poller sends it again, queued jobs
# QUEUED_JOB_RESEND_SECONDS after creation, validating ones VALIDATING_JOB_RESEND_SECONDS
# after their last step (every step pushes the time out; longer than a step can take).
QUEUED_JOBS_DUE_PK = "queued-jobs"
QUEUED_JOB_RESEND_SECONDS = 300
VALIDATING_JOB_RESEND_SECONDS = 600
# Every other status that waits on a message has its safety net too (store.job_store):
# submitting (planning steps), cancelling and finalizing (and a final job whose event is not
# yet published) are resent after 15 minutes; an in-progress job, whose chunks have safety
# nets of their own, is asked to finalize (harmless unless every chunk is final) hourly.
WATCHED_JOB_RESEND_SECONDS = 900
IN_PROGRESS_JOB_RESEND_SECONDS = 3600
# Final jobs with work left behind the queue sit in the same index, under their own
# partition, until it is done; if its message was lost, the poller sends it again:
# giving the job's items their TTL (lifecycle.item_expiry), deleting its data on request
# (lifecycle.job_deletion).
EXPIRING_JOBS_DUE_PK = "expiring-jobs"
DELETING_JOBS_DUE_PK = "deleting-jobs"
# Epoch seconds after which DynamoDB deletes an item (the table's TTL attribute). Set on a
# job's items once the job is final (final time + retention days), never while it runs.
TTL_ATTRIBUTE = "expires_at"
# A FILES# item's TTL is the file's (or upload's) own expires_at, as OpenAI shows it: DynamoDB
# removes expired items within days, so reads also treat an item past it as gone.

# Signing secrets (webhook endpoints, tenants) are stored encrypted with the secrets key under
# an encryption context; its "purpose" tells the two kinds apart, and the key policy grants
# each function the key only for the purposes it needs (webhooks.secret_box).
SECRET_CONTEXT_PURPOSE = "purpose"
SECRET_PURPOSE_ENDPOINT = "webhook-endpoint-secret"
SECRET_PURPOSE_TENANT = "tenant-signing-secret"
# The attributes an endpoint or tenant-secret item stores its secret in: the KMS ciphertext,
# or, in items of the first version, the plain text (read until the secret is replaced).
SECRET_SEALED_ATTRIBUTE = "secret_sealed"
SECRET_PLAIN_ATTRIBUTE = "secret"
SECRET_ATTRIBUTES = (SECRET_SEALED_ATTRIBUTE, SECRET_PLAIN_ATTRIBUTE)
