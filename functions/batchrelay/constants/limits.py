"""What one request, one job and one upload may hold, and the job defaults."""

from __future__ import annotations

# API Gateway rejects payloads over 10 MB; inline jobs stay well under it.
MAX_INLINE_BODY_BYTES = 9 * 1024 * 1024
MAX_INLINE_REQUESTS = 10_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024 * 1024
MAX_CUSTOM_ID_LENGTH = 256
# One request as written ({"custom_id", "body"} in JSON), inline or uploaded.
MAX_REQUEST_LINE_BYTES = 1024 * 1024
# orjson (3.13) reads 1024 levels of nesting but writes only 254; every body is written
# inside an object or two of ours (input, chunk and provider lines, the idempotency hash),
# so bodies may nest 250 levels. tests/unit/jobs/test_writable_json.py pins both figures.
ORJSON_MAX_WRITE_DEPTH = 254
MAX_BODY_DEPTH = 250
MAX_MODEL_LENGTH = 256
# Distinct body.model values in one job: providers that take one model per batch get at
# least one batch per model, and planning makes one pass over the input per
# MAX_OPEN_CHUNK_WRITERS models (lifecycle/chunk_planner.py).
MAX_MODELS_PER_JOB = 32
MAX_OPEN_CHUNK_WRITERS = 8
DEFAULT_CHUNK_SIZE = 5_000
# A job's chunk_size is at least this, or its request count when that is smaller.
MIN_CHUNK_SIZE = 100
# No provider takes more in one batch (Anthropic: 100,000); chunks are capped by each
# provider's own limit as well.
MAX_CHUNK_SIZE = 100_000
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10
