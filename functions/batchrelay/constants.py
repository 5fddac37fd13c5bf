"""Names shared by the functions, the CDK stack, the local stack and the tests.

One source of truth: the CDK constructs create resources with these logical names and
pass the physical names to the functions through the environment variables below; the
local stack creates the same resources on the emulator under the same names.
"""

from __future__ import annotations

SERVICE_NAME = "batchrelay"
METRICS_NAMESPACE = "batchrelay"

# --- environment variables read by the functions (see batchrelay.settings) ---
ENV_TABLE_NAME = "TABLE_NAME"
ENV_BUCKET_NAME = "BUCKET_NAME"
ENV_JOBS_QUEUE_URL = "JOBS_QUEUE_URL"
ENV_COLLECT_QUEUE_URL = "COLLECT_QUEUE_URL"
ENV_WEBHOOKS_QUEUE_URL = "WEBHOOKS_QUEUE_URL"
ENV_EVENTS_TOPIC_ARN = "EVENTS_TOPIC_ARN"
ENV_OPENAI_SECRET_ARN = "OPENAI_SECRET_ARN"
ENV_ANTHROPIC_SECRET_ARN = "ANTHROPIC_SECRET_ARN"
ENV_OPENAI_WEBHOOK_SECRET_ARN = "OPENAI_WEBHOOK_SECRET_ARN"
ENV_DEFAULT_CHUNK_SIZE = "DEFAULT_CHUNK_SIZE"
ENV_DEFAULT_MAX_ATTEMPTS = "DEFAULT_MAX_ATTEMPTS"
ENV_OPENAI_MAX_REQUESTS = "OPENAI_MAX_REQUESTS_PER_BATCH"
ENV_OPENAI_MAX_BYTES = "OPENAI_MAX_BYTES_PER_BATCH"
ENV_ANTHROPIC_MAX_REQUESTS = "ANTHROPIC_MAX_REQUESTS_PER_BATCH"
ENV_ANTHROPIC_MAX_BYTES = "ANTHROPIC_MAX_BYTES_PER_BATCH"
ENV_RETENTION_DAYS = "RETENTION_DAYS"
ENV_PRESIGN_EXPIRY_SECONDS = "PRESIGN_EXPIRY_SECONDS"
ENV_WEBHOOK_ALLOW_HTTP = "WEBHOOK_ALLOW_HTTP"
ENV_WEBHOOK_ALLOW_LOOPBACK = "WEBHOOK_ALLOW_LOOPBACK"
ENV_PRICES_FILE = "PRICES_FILE"
# The shortest wait between two status checks of a batch (deployed: the schedule period).
ENV_POLL_MIN_DELAY_SECONDS = "POLL_MIN_DELAY_SECONDS"
DEFAULT_POLL_MIN_DELAY_SECONDS = 60
# How long a batch creation that was started may still be running somewhere: a second
# delivery of the same chunk message within it backs off instead of creating a batch.
ENV_CREATION_LEASE_SECONDS = "CREATION_LEASE_SECONDS"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"
ENV_ANTHROPIC_BASE_URL = "ANTHROPIC_BASE_URL"
# Local mode and tests put API keys straight in the environment instead of Secrets Manager.
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
ENV_ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
ENV_OPENAI_WEBHOOK_SECRET = "OPENAI_WEBHOOK_SECRET"

# --- DynamoDB single table ---
# Items (pk / sk):
#   job                JOB#<job_id>            / JOB
#   chunk              JOB#<job_id>            / CHUNK#<chunk_id>
#   webhook delivery   JOB#<job_id>            / DELIVERY#<event_id>#<endpoint_id>
#   idempotency key    IDEMPOTENCY#<tenant>#<key> / IDEMPOTENCY
#   upload             UPLOAD#<upload_id>      / UPLOAD
#   provider batch     BATCH#<provider>#<batch_id> / BATCH   (batch id -> chunk; claim)
#   webhook endpoint   TENANT#<tenant_id>      / WEBHOOK#<endpoint_id>
#   tenant secret      TENANT#<tenant_id>      / SIGNING_SECRET
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
# Queued jobs sit in the same index under this partition until the submitter takes them:
# if the API's queue message was lost, the poller sends it again (QUEUED_JOB_RESEND_SECONDS).
QUEUED_JOBS_DUE_PK = "queued-jobs"
QUEUED_JOB_RESEND_SECONDS = 300
TTL_ATTRIBUTE = "expires_at"

# --- S3 key layout ---
INPUTS_PREFIX = "inputs/"        # inputs/<tenant>/<job_id>/input.jsonl
UPLOADS_PREFIX = "uploads/"      # uploads/<tenant>/<upload_id>.jsonl
CHUNKS_PREFIX = "chunks/"        # chunks/<job_id>/<chunk_id>/input.jsonl (+ provider.jsonl)
RAW_PREFIX = "raw/"              # raw/<job_id>/<chunk_id>/<batch_id>/{output,errors}.jsonl
RESULTS_PREFIX = "results/"      # results/<job_id>/parts/<chunk_id>.jsonl, results.jsonl, manifest.json

# --- queues, topic, functions (logical names; the stack and local mode use them) ---
JOBS_QUEUE = "jobs"
COLLECT_QUEUE = "collect"
WEBHOOKS_QUEUE = "webhooks"
EVENTS_TOPIC = "job-events"
FUNCTION_API = "api"
FUNCTION_SUBMITTER = "submitter"
FUNCTION_POLLER = "poller"
FUNCTION_COLLECTOR = "collector"
FUNCTION_WEBHOOK = "webhook"

# Function timeouts (seconds); queue visibility timeouts are six times the consumer's.
FUNCTION_TIMEOUTS = {
    FUNCTION_API: 29,
    FUNCTION_SUBMITTER: 300,
    FUNCTION_POLLER: 55,
    FUNCTION_COLLECTOR: 600,
    FUNCTION_WEBHOOK: 60,
}
QUEUE_CONSUMERS = {
    JOBS_QUEUE: FUNCTION_SUBMITTER,
    COLLECT_QUEUE: FUNCTION_COLLECTOR,
    WEBHOOKS_QUEUE: FUNCTION_WEBHOOK,
}
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT = 5
QUEUE_BATCH_SIZES = {JOBS_QUEUE: 1, COLLECT_QUEUE: 1, WEBHOOKS_QUEUE: 10}


DEFAULT_CREATION_LEASE_SECONDS = FUNCTION_TIMEOUTS[FUNCTION_SUBMITTER] + 60


def visibility_timeout_seconds(queue: str) -> int:
    return FUNCTION_TIMEOUTS[QUEUE_CONSUMERS[queue]] * VISIBILITY_TIMEOUT_FACTOR


# --- limits ---
PROVIDERS = ("openai", "anthropic")
OPENAI_ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/completions",
    "/v1/moderations",
)
ANTHROPIC_ENDPOINTS = ("/v1/messages",)
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
DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10
DEFAULT_RETENTION_DAYS = 30
DEFAULT_PRESIGN_EXPIRY_SECONDS = 900
OPENAI_MAX_REQUESTS_PER_BATCH = 50_000
OPENAI_MAX_BYTES_PER_BATCH = 200 * 1024 * 1024
ANTHROPIC_MAX_REQUESTS_PER_BATCH = 100_000
ANTHROPIC_MAX_BYTES_PER_BATCH = 256 * 1024 * 1024

# --- events ---
EVENT_TYPES = (
    "job.completed",
    "job.completed_with_errors",
    "job.failed",
    "job.cancelled",
    "job.expired",
)
TEST_EVENT_TYPE = "webhook.test"

# --- infra additions (appended by the CDK stack's author) ---
# The OpenAI webhook receiver is its own function so that the api function never
# imports the openai SDK; its route needs no API key (OpenAI signs the request).
FUNCTION_OPENAI_WEBHOOK = "openai_webhook"
FUNCTION_TIMEOUTS[FUNCTION_OPENAI_WEBHOOK] = 29
OPENAI_WEBHOOK_PATH = "/v1/providers/openai/webhook"
HEALTH_PATH = "/v1/health"
# Environment variables of the Powertools utilities (read by the library itself).
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
