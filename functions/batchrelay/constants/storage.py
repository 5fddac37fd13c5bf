"""The bucket's prefixes: what the stack grants on and the lifecycle rule expires.

The keys under them are built in one place: ``batchrelay.aws.s3_keys``.
"""

from __future__ import annotations

INPUTS_PREFIX = "inputs/"
UPLOADS_PREFIX = "uploads/"
CHUNKS_PREFIX = "chunks/"
RAW_PREFIX = "raw/"
RESULTS_PREFIX = "results/"
