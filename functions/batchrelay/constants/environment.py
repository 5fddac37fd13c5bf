"""Environment variables the functions read (see batchrelay.settings), with their defaults."""

from __future__ import annotations

# Which function a process is (the stack sets it): settings then require that function's
# variables (service.FUNCTION_ENVIRONMENT) and fail naming any that are missing.
ENV_FUNCTION = "BATCHRELAY_FUNCTION"
ENV_TABLE_NAME = "TABLE_NAME"
ENV_BUCKET_NAME = "BUCKET_NAME"
ENV_JOBS_QUEUE_URL = "JOBS_QUEUE_URL"
ENV_COLLECT_QUEUE_URL = "COLLECT_QUEUE_URL"
ENV_WEBHOOKS_QUEUE_URL = "WEBHOOKS_QUEUE_URL"
ENV_EVENTS_TOPIC_ARN = "EVENTS_TOPIC_ARN"
ENV_OPENAI_WEBHOOK_SECRET_ARN = "OPENAI_WEBHOOK_SECRET_ARN"
# Local mode and tests put the OpenAI webhook secret straight in the environment.
ENV_OPENAI_WEBHOOK_SECRET = "OPENAI_WEBHOOK_SECRET"
# Each provider's own variables (<NAME>_API_KEY, <NAME>_SECRET_ARN, <NAME>_BASE_URL,
# <NAME>_MAX_REQUESTS_PER_BATCH, <NAME>_MAX_BYTES_PER_BATCH, <NAME>_MIN_REQUESTS_PER_BATCH,
# <NAME>_ALLOWED_MODELS, <NAME>_MAX_BATCH_AGE_SECONDS, <NAME>_API_VERSION) are named by its
# registry entry.
# OpenAI-compatible batch servers configured by name (JSON list; see registry.py): every process
# that reads the registry registers them at import (the stack gives it to every function).
ENV_OPENAI_COMPATIBLE_PROVIDERS = "OPENAI_COMPATIBLE_PROVIDERS"

ENV_DEFAULT_CHUNK_SIZE = "DEFAULT_CHUNK_SIZE"
ENV_DEFAULT_MAX_ATTEMPTS = "DEFAULT_MAX_ATTEMPTS"
ENV_RETENTION_DAYS = "RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
ENV_PRESIGN_EXPIRY_SECONDS = "PRESIGN_EXPIRY_SECONDS"
DEFAULT_PRESIGN_EXPIRY_SECONDS = 900
ENV_WEBHOOK_ALLOW_HTTP = "WEBHOOK_ALLOW_HTTP"
ENV_WEBHOOK_ALLOW_LOOPBACK = "WEBHOOK_ALLOW_LOOPBACK"
# Webhook destinations allowed besides https on port 443: "host:port" or "*:port", comma-separated.
ENV_WEBHOOK_ALLOWED_DESTINATIONS = "WEBHOOK_ALLOWED_DESTINATIONS"
# The KMS key (id or ARN) that encrypts webhook signing secrets before they are stored.
ENV_SECRETS_KEY_ID = "SECRETS_KEY_ID"
ENV_PRICES_FILE = "PRICES_FILE"
# The shortest wait between two status checks of a batch (deployed: the schedule period).
ENV_POLL_MIN_DELAY_SECONDS = "POLL_MIN_DELAY_SECONDS"
DEFAULT_POLL_MIN_DELAY_SECONDS = 60
# How long a batch creation that was started may still be running somewhere: a second
# delivery of the same chunk message within it backs off instead of creating a batch.
# Default: the submitter's timeout and a margin (service.DEFAULT_CREATION_LEASE_SECONDS).
ENV_CREATION_LEASE_SECONDS = "CREATION_LEASE_SECONDS"
# How much of an upload one background validation step checks (the submitter's memory and
# time per step): at most this many bytes and this many requests.
ENV_VALIDATION_STEP_BYTES = "VALIDATION_STEP_BYTES"
DEFAULT_VALIDATION_STEP_BYTES = 256 * 1024 * 1024
ENV_VALIDATION_STEP_REQUESTS = "VALIDATION_STEP_REQUESTS"
DEFAULT_VALIDATION_STEP_REQUESTS = 1_000_000
# Amazon Bedrock (no API key: the functions' IAM role). The service role Bedrock assumes to
# read chunk files and write its output, the job timeout, and whether records below
# Bedrock's per-job minimum that cannot be gathered into a batch run through on-demand
# InvokeModel (at the synchronous price) or end errored. (The models a job may name:
# BEDROCK_ALLOWED_MODELS, the registry's <NAME>_ALLOWED_MODELS.)
ENV_BEDROCK_ROLE_ARN = "BEDROCK_ROLE_ARN"
ENV_BEDROCK_TIMEOUT_HOURS = "BEDROCK_TIMEOUT_HOURS"
DEFAULT_BEDROCK_TIMEOUT_HOURS = 24
ENV_BEDROCK_ON_DEMAND = "BEDROCK_ON_DEMAND"
ENV_BEDROCK_ON_DEMAND_CONCURRENCY = "BEDROCK_ON_DEMAND_CONCURRENCY"
DEFAULT_BEDROCK_ON_DEMAND_CONCURRENCY = 8
# How long a provider may refuse the API key (401/403) before held chunks fail.
ENV_CREDENTIALS_MAX_HOLD_SECONDS = "CREDENTIALS_MAX_HOLD_SECONDS"
DEFAULT_CREDENTIALS_MAX_HOLD_SECONDS = 24 * 3600

# Environment variables of the Powertools utilities (read by the library itself).
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
