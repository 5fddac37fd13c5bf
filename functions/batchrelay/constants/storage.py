"""The bucket's prefixes: what the stack grants on and the lifecycle rule expires.

The keys under them are built in one place: ``batchrelay.aws.s3_keys``.
"""

from __future__ import annotations

INPUTS_PREFIX = "inputs/"
UPLOADS_PREFIX = "uploads/"
CHUNKS_PREFIX = "chunks/"
RAW_PREFIX = "raw/"
RESULTS_PREFIX = "results/"
# Where Amazon Bedrock writes its batch output (the one prefix its service role may write),
# and where on-demand runs below Bedrock's record minimum keep their answers.
BEDROCK_OUTPUT_PREFIX = "bedrock-output/"
