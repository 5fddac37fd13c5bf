"""What one request, one job and one upload may hold, and the job defaults."""

from __future__ import annotations

# API Gateway rejects payloads over 10 MB; inline jobs stay well under it.
MAX_INLINE_BODY_BYTES = 9 * 1024 * 1024
MAX_INLINE_REQUESTS = 10_000
# The upload limit, the one place it is set: what a job created from an upload may hold.
# The size is checked when the job is created (HEAD of the upload), the request count while
# the upload is validated. Beyond S3's 5 GiB for one PUT, uploads go in parts (multipart).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024 * 1024
MAX_JOB_REQUESTS = 20_000_000
MAX_CUSTOM_ID_LENGTH = 256
# One request as written ({"custom_id", "body"} in JSON), inline or uploaded.
MAX_REQUEST_LINE_BYTES = 1024 * 1024
# orjson (3.13) reads 1024 levels of nesting but writes only 254; every body is written
# inside an object or two of ours (input, chunk and provider lines, the idempotency hash),
# so bodies may nest 250 levels. tests/unit/validation/test_writable_json.py pins both figures.
ORJSON_MAX_WRITE_DEPTH = 254
MAX_BODY_DEPTH = 250
MAX_MODEL_LENGTH = 256
# Distinct body.model values in one job: providers that take one model per batch get at
# least one batch per model, and planning makes one pass over the input per model
# (lifecycle/chunk_planner.py).
MAX_MODELS_PER_JOB = 32
DEFAULT_CHUNK_SIZE = 5_000
# A job's chunk_size is at least this, or its request count when that is smaller.
MIN_CHUNK_SIZE = 100
# No provider takes more in one batch (Anthropic: 100,000); chunks are capped by each
# provider's own limit as well.
MAX_CHUNK_SIZE = 100_000
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10

# --- S3's own limits, which shape uploads and copies ---
S3_MAX_PUT_BYTES = 5 * 1024 * 1024 * 1024      # one PutObject or CopyObject
S3_MIN_PART_BYTES = 5 * 1024 * 1024            # every part of a multipart upload but the last
S3_MAX_PART_BYTES = 5 * 1024 * 1024 * 1024
S3_MAX_PARTS = 10_000
# Parts of a multipart upload unless the client asks for another size (10 GiB: 160 parts).
DEFAULT_UPLOAD_PART_BYTES = 64 * 1024 * 1024
# The background validation copies an upload into the job's input server side, in parts of
# this size (UploadPartCopy, several at once) when it is larger than one part.
INPUT_COPY_PART_BYTES = 512 * 1024 * 1024

# A job's max_batch_age_seconds: from an hour (a batch needs time to run) to 30 days.
MIN_BATCH_AGE_SECONDS = 3600
MAX_BATCH_AGE_SECONDS = 30 * 86400
