"""The deployed service: functions, their timeouts and environment, queues, topic, routes."""

from __future__ import annotations

from batchrelay.constants.environment import (
    ENV_BUCKET_NAME,
    ENV_COLLECT_QUEUE_URL,
    ENV_EVENTS_TOPIC_ARN,
    ENV_JOBS_QUEUE_URL,
    ENV_OPENAI_WEBHOOK_SECRET_ARN,
    ENV_SECRETS_KEY_ID,
    ENV_TABLE_NAME,
    ENV_WEBHOOKS_QUEUE_URL,
)

SERVICE_NAME = "batchrelay"
METRICS_NAMESPACE = "batchrelay"
# Emitted by the submitter each time a provider refuses the API key (an alarm watches it).
METRIC_PROVIDER_CREDENTIALS_REFUSED = "ProviderCredentialsRefused"
# Emitted by the poller per provider (dimension ``provider``): how long the oldest batch it saw
# still pending at the provider (accepted, not started) has waited, in seconds.
METRIC_OLDEST_PENDING_BATCH_AGE = "OldestPendingBatchAgeSeconds"

# --- queues and topic (logical names; the stack and local mode use them) ---
JOBS_QUEUE = "jobs"
COLLECT_QUEUE = "collect"
WEBHOOKS_QUEUE = "webhooks"
EVENTS_TOPIC = "job-events"

# --- functions ---
FUNCTION_API = "api"
FUNCTION_SUBMITTER = "submitter"
FUNCTION_POLLER = "poller"
FUNCTION_COLLECTOR = "collector"
FUNCTION_WEBHOOK = "webhook"
# The OpenAI webhook receiver is its own function so that the api function never
# imports the openai SDK; its route needs no API key (OpenAI signs the request).
FUNCTION_OPENAI_WEBHOOK = "openai_webhook"
# The Lambda authorizer of the API: finds the API key a request carries (x-api-key, or
# Authorization: Bearer on the OpenAI surface) and hands it to API Gateway (constants.surfaces).
FUNCTION_AUTHORIZER = "authorizer"
# Amazon Bedrock's EventBridge events (batch inference jobs that ended): a fast path beside
# polling, invoked by the stack's rule.
FUNCTION_BEDROCK_EVENTS = "bedrock_events"

# Function timeouts (seconds); queue visibility timeouts are six times the consumer's.
# Memory (MB): the collector streams provider output into S3 and benefits from a full vCPU
# (Lambda gives CPU in proportion to memory: 1,769 MB is one vCPU).
FUNCTION_MEMORY_MB = {
    FUNCTION_API: 512,
    FUNCTION_SUBMITTER: 1024,
    FUNCTION_POLLER: 512,
    FUNCTION_COLLECTOR: 1769,
    FUNCTION_WEBHOOK: 256,
    FUNCTION_OPENAI_WEBHOOK: 256,
    FUNCTION_AUTHORIZER: 256,
    FUNCTION_BEDROCK_EVENTS: 256,
}
FUNCTION_TIMEOUTS = {
    FUNCTION_API: 29,
    FUNCTION_SUBMITTER: 300,
    FUNCTION_POLLER: 55,
    FUNCTION_COLLECTOR: 600,
    FUNCTION_WEBHOOK: 60,
    FUNCTION_OPENAI_WEBHOOK: 29,
    FUNCTION_AUTHORIZER: 10,
    FUNCTION_BEDROCK_EVENTS: 60,
}
# The resources each function is told about (its grants match them). Functions that call
# providers (PROVIDER_CALLERS) also get each registered provider's key secret.
FUNCTION_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    FUNCTION_API: (
        ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_JOBS_QUEUE_URL, ENV_COLLECT_QUEUE_URL, ENV_SECRETS_KEY_ID,
    ),
    FUNCTION_SUBMITTER: (ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_JOBS_QUEUE_URL, ENV_COLLECT_QUEUE_URL),
    # The poller reads the bucket only for Bedrock's on-demand runs (their state is a manifest).
    FUNCTION_POLLER: (ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_JOBS_QUEUE_URL, ENV_COLLECT_QUEUE_URL),
    FUNCTION_COLLECTOR: (
        ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_JOBS_QUEUE_URL, ENV_COLLECT_QUEUE_URL, ENV_EVENTS_TOPIC_ARN,
    ),
    FUNCTION_WEBHOOK: (ENV_TABLE_NAME, ENV_WEBHOOKS_QUEUE_URL, ENV_SECRETS_KEY_ID),
    FUNCTION_OPENAI_WEBHOOK: (ENV_TABLE_NAME, ENV_COLLECT_QUEUE_URL, ENV_OPENAI_WEBHOOK_SECRET_ARN),
    # It reads the account's API keys (apigateway:GET /apikeys) and nothing of the stack's.
    FUNCTION_AUTHORIZER: (),
    FUNCTION_BEDROCK_EVENTS: (ENV_TABLE_NAME, ENV_COLLECT_QUEUE_URL),
}
PROVIDER_CALLERS = (FUNCTION_SUBMITTER, FUNCTION_POLLER, FUNCTION_COLLECTOR, FUNCTION_OPENAI_WEBHOOK)

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


# --- routes outside the API key (their paths are shared with the stack) ---
OPENAI_WEBHOOK_PATH = "/v1/providers/openai/webhook"
HEALTH_PATH = "/v1/health"
