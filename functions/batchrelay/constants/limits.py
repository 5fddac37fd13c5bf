"""What one request, one job and one upload may hold, and the job defaults."""

from __future__ import annotations

# API Gateway rejects payloads over 10 MB; inline jobs stay well under it.
MAX_INLINE_BODY_BYTES = 9 * 1024 * 1024
MAX_INLINE_REQUESTS = 10_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024 * 1024
MAX_CUSTOM_ID_LENGTH = 256
MAX_REQUEST_LINE_BYTES = 1024 * 1024
DEFAULT_CHUNK_SIZE = 5_000
# No provider takes more in one batch (Anthropic: 100,000); chunks are capped by each
# provider's own limit as well.
MAX_CHUNK_SIZE = 100_000
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10
