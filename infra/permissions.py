"""What each function may do: the reviewed table of its permissions, one row per resource.

This is the specification; ``infra/functions.py`` implements it (grant helpers where they
fit, hand-written statements where none does) and ``infra/signing_key.py`` holds the key
policy of the signing key. ``tests/infrastructure/test_permissions.py`` checks the
synthesized template against this table in both directions (an action the template grants
that is not here fails, and so does one listed here that the template lacks), a local-mode
run of the real handlers checks every AWS call they make against it
(``tests/integration/security``), and the README's security
section is generated from it (``python -m infra.permissions`` rewrites it; a test fails
when it is stale).

Resources are named symbolically: ``table`` (items, narrowed by ``dynamodb:LeadingKeys``
partition key patterns), ``index/<name>``, ``bucket`` (listing, narrowed by ``s3:prefix``
patterns), ``bucket/<prefix>*`` (objects), ``queue/<name>``, ``topic/<name>``, ``key/<name>``
(KMS), ``secret/<name>`` (Secrets Manager), ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchrelay import constants as c
from batchrelay import registry

# --- partition key patterns of the table's items (layout in batchrelay/constants.py) ---
JOB_ITEMS = "JOB#*"                  # a job, its chunks and its webhook deliveries
IDEMPOTENCY_ITEMS = "IDEMPOTENCY#*"
UPLOAD_ITEMS = "UPLOAD#*"
BATCH_CLAIMS = "BATCH#*"             # provider batch id -> chunk
OPENAI_BATCH_CLAIMS = "BATCH#openai#*"
TENANT_ITEMS = "TENANT#*"            # webhook endpoints and the tenant's signing secret
FILES_ITEMS = "FILES#*"              # the OpenAI surface's files and uploads

# --- symbolic resources ---
TABLE = "table"
TENANT_JOBS_INDEX = f"index/{c.TENANT_JOBS_INDEX}"
DUE_CHUNKS_INDEX = f"index/{c.DUE_CHUNKS_INDEX}"
BUCKET = "bucket"                    # the bucket itself: listing keys under a prefix
INPUTS = f"bucket/{c.INPUTS_PREFIX}*"
UPLOADS = f"bucket/{c.UPLOADS_PREFIX}*"
CHUNKS = f"bucket/{c.CHUNKS_PREFIX}*"
RAW = f"bucket/{c.RAW_PREFIX}*"
RESULTS = f"bucket/{c.RESULTS_PREFIX}*"
JOBS_QUEUE = f"queue/{c.JOBS_QUEUE}"
COLLECT_QUEUE = f"queue/{c.COLLECT_QUEUE}"
WEBHOOKS_QUEUE = f"queue/{c.WEBHOOKS_QUEUE}"
EVENTS_TOPIC = f"topic/{c.EVENTS_TOPIC}"
EVENTS_KEY = "key/events"            # the customer-managed key of the job-events topic
SIGNING_KEY = "key/signing"          # encrypts webhook signing secrets (key policy grants)
API_KEYS = "apigateway/apikeys"      # the account's API Gateway API keys (arn:aws:apigateway:<region>::/apikeys)


def provider_api_key(provider: str) -> str:
    """The symbol of a registered provider's API-key secret."""
    return f"secret/{provider.replace('_', '-')}-api-key"


OPENAI_API_KEY = provider_api_key("openai")
OPENAI_WEBHOOK_SECRET = "secret/openai-webhook-secret"
ANY = "*"

# --- action sets that CDK helpers grant (kept as they are: read-only extras, see why) ---
XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SQS_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)
SQS_SEND = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
SECRET_READ = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
TOPIC_KEY_USE = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True)
class Allow:
    """``actions`` on ``resource``; on the table only for items whose partition key matches
    one of ``keys``; on the signing key only for the encryption-context ``purposes``; on the
    bucket (listing) only under the key ``prefixes``."""

    resource: str
    actions: tuple[str, ...]
    why: str
    keys: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def grants(self) -> set[tuple[str, str, str]]:
        """(action, resource, key pattern, purpose or prefix) triples: the unit the tests compare."""
        scopes = self.keys or self.purposes or self.prefixes or ("",)
        return {(action, self.resource, scope) for action in self.actions for scope in scopes}


def _items(actions: tuple[str, ...], keys: tuple[str, ...], why: str) -> Allow:
    return Allow(TABLE, tuple(f"dynamodb:{a}" for a in actions), why, keys=keys)


def _objects(resource: str, actions: tuple[str, ...], why: str) -> Allow:
    return Allow(resource, tuple(f"s3:{a}" for a in actions), why)


_TRACING = Allow(ANY, XRAY, "X-Ray trace segments (tracing is active); the actions take no resource")

# A job's data: the items it owns or names, and the prefixes its objects live under.
JOB_DATA_ITEMS = (JOB_ITEMS, BATCH_CLAIMS, IDEMPOTENCY_ITEMS)
JOB_DATA_PREFIXES = tuple(f"{prefix}*" for prefix in (c.INPUTS_PREFIX, c.CHUNKS_PREFIX, c.RAW_PREFIX,
                                                      c.RESULTS_PREFIX))
_LIST_JOB_DATA = Allow(BUCKET, ("s3:ListBucket",),
                       "find a job's objects to delete them (under the job's own prefixes)",
                       prefixes=JOB_DATA_PREFIXES)


def _provider_keys() -> tuple[Allow, ...]:
    """Each registered provider's API key (read when asked: a provider may be registered later)."""
    return tuple(
        Allow(provider_api_key(spec.name), SECRET_READ, f"the {spec.title} API key (through Powertools parameters)")
        for spec in registry.specs()
        if spec.needs_api_key
    )


def permissions() -> dict[str, tuple[Allow, ...]]:
    """What each function may do: the table the template and the handlers are held to."""
    return {
        c.FUNCTION_API: (
            _items(("GetItem",), (JOB_ITEMS, IDEMPOTENCY_ITEMS, UPLOAD_ITEMS, TENANT_ITEMS, FILES_ITEMS),
                   "read a job, an Idempotency-Key, an upload, an endpoint (to test it), "
                   "the tenant secret's existence; an OpenAI-surface file or upload"),
            _items(("PutItem",), (JOB_ITEMS, IDEMPOTENCY_ITEMS, UPLOAD_ITEMS, TENANT_ITEMS, FILES_ITEMS),
                   "create a job with its Idempotency-Key (one transaction), an upload, an endpoint, a tenant "
                   "secret; an OpenAI-surface file or upload"),
            _items(("UpdateItem",), (JOB_ITEMS, FILES_ITEMS),
                   "cancel a job; start and step a deletion; give a final job of the previous version its TTL; "
                   "complete or cancel an OpenAI-surface upload"),
            _items(("DeleteItem",), (TENANT_ITEMS, FILES_ITEMS),
                   "remove a webhook endpoint; delete an OpenAI-surface file (and a deleted job's output files)"),
            _items(("DeleteItem",), JOB_DATA_ITEMS,
                   "delete a small job's items on request (job, chunks, deliveries, batch claims, idempotency key)"),
            _items(("Query",), (JOB_ITEMS, TENANT_ITEMS, FILES_ITEMS),
                   "a job's chunks and deliveries; a tenant's endpoints; a tenant's OpenAI-surface files"),
            Allow(TENANT_JOBS_INDEX, ("dynamodb:Query",), "list a tenant's jobs (and surface batches), newest first"),
            _LIST_JOB_DATA,
            _objects(INPUTS, ("PutObject", "DeleteObject"),
                     "write an inline input, drop it if the job is not stored; delete it with the job"),
            _objects(UPLOADS, ("GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"),
                     "check an upload's size (HEAD, never its body); start and complete multipart uploads; sign "
                     "presigned PUT and part URLs (they act with this role); store OpenAI-surface files and parts, "
                     "join parts into a file (reading them; multipart), delete parts and deleted files"),
            _objects(CHUNKS, ("DeleteObject",), "delete a small job's chunk files on request"),
            _objects(RAW, ("DeleteObject",), "delete a small job's raw provider files on request"),
            _objects(RESULTS, ("GetObject", "DeleteObject"),
                     "sign presigned GET URLs of results, manifests and surface result files; delete a small "
                     "job's results on request"),
            Allow(JOBS_QUEUE, SQS_SEND, "queue a new job (or its validation) or a cancel for the submitter"),
            Allow(COLLECT_QUEUE, SQS_SEND,
                  "hand a deletion the request did not finish to the collector; start a previous version's "
                  "job's TTL steps"),
            Allow(SIGNING_KEY, ("kms:Encrypt",), "seal new endpoint secrets and tenant secrets",
                  purposes=(c.SECRET_PURPOSE_ENDPOINT, c.SECRET_PURPOSE_TENANT)),
            Allow(SIGNING_KEY, ("kms:Decrypt",), "open an endpoint's secret to sign a test event",
                  purposes=(c.SECRET_PURPOSE_ENDPOINT,)),
            _TRACING,
        ),
        c.FUNCTION_SUBMITTER: (
            _items(("GetItem",), (JOB_ITEMS, BATCH_CLAIMS), "read jobs and chunks; who owns a batch found by search"),
            _items(("PutItem",), (JOB_ITEMS, BATCH_CLAIMS),
                   "store planned chunks; claim a created batch for its chunk"),
            _items(("UpdateItem",), (JOB_ITEMS,), "job and chunk transitions, chunk counters"),
            _items(("Query",), (JOB_ITEMS,), "a job's chunks"),
            _objects(INPUTS, ("GetObject", "PutObject", "AbortMultipartUpload"),
                     "copy an upload into the job's input (in parts when large), validate it in steps and write "
                     "the steps' id hashes beside it; stream the input while planning"),
            _objects(UPLOADS, ("GetObject",), "the source of that copy (pinned to the ETag the API saw)"),
            _objects(CHUNKS, ("GetObject", "PutObject", "AbortMultipartUpload"),
                     "write each chunk's files (multipart), read one back to create its batch"),
            Allow(JOBS_QUEUE, SQS_CONSUME, "its trigger (event source mapping)"),
            Allow(JOBS_QUEUE, SQS_SEND, "one creation message per chunk; the next validation step; planning"),
            Allow(COLLECT_QUEUE, SQS_SEND, "hand ended chunks to the collector; ask it to finalize"),
            *_provider_keys(),
            _TRACING,
        ),
        c.FUNCTION_POLLER: (
            _items(("GetItem",), (JOB_ITEMS,), "read a chunk (capacity hold, refused transitions)"),
            _items(("UpdateItem",), (JOB_ITEMS,),
                   "reschedule, end or hold chunks; postpone the resend of a stalled job or chunk"),
            Allow(DUE_CHUNKS_INDEX, ("dynamodb:Query",),
                  "chunks due for a check; jobs and chunks whose queue message was lost"),
            Allow(JOBS_QUEUE, SQS_SEND, "re-send lost job and chunk messages"),
            Allow(COLLECT_QUEUE, SQS_SEND,
                  "hand ended chunks to the collector; re-send lost provider-file cleanups, TTL and deletion steps"),
            *_provider_keys(),
            _TRACING,
        ),
        c.FUNCTION_COLLECTOR: (
            _items(("GetItem",), (JOB_ITEMS,), "read jobs and chunks"),
            _items(("PutItem",), (JOB_ITEMS,), "store a retry chunk"),
            _items(("UpdateItem",), (JOB_ITEMS,),
                   "mark chunks collected and count them; finalize the job; step a deletion"),
            _items(("UpdateItem",), JOB_DATA_ITEMS,
                   "give a final job's items their TTL (its chunks, deliveries, batch claims, idempotency key)"),
            _items(("DeleteItem",), JOB_DATA_ITEMS,
                   "delete a job's items on request (job, chunks, deliveries, batch claims, idempotency key)"),
            _items(("PutItem",), (FILES_ITEMS,), "register an OpenAI-surface batch's output and error files"),
            _items(("DeleteItem",), (FILES_ITEMS,), "delete them with the batch's data on request"),
            _items(("Query",), (JOB_ITEMS,), "a job's chunks; a job's items, a page at a time"),
            _LIST_JOB_DATA,
            _objects(INPUTS, ("DeleteObject",), "delete a job's input on request"),
            _objects(CHUNKS, ("GetObject", "PutObject", "AbortMultipartUpload", "DeleteObject"),
                     "read a chunk's input; write a retry chunk's input; delete them on request"),
            _objects(RAW, ("PutObject", "AbortMultipartUpload", "DeleteObject"),
                     "keep the provider's raw files (gzip); delete them on request"),
            _objects(RESULTS, ("GetObject", "PutObject", "AbortMultipartUpload", "DeleteObject"),
                     "write parts and their summaries, results.jsonl and manifest.json; read parts back; "
                     "sign the results link of the event; rewrite results.jsonl in a drop-in surface's shape; "
                     "delete them on request"),
            Allow(COLLECT_QUEUE, SQS_CONSUME, "its trigger (event source mapping)"),
            Allow(COLLECT_QUEUE, SQS_SEND, "queue a job's next TTL or deletion step"),
            Allow(JOBS_QUEUE, SQS_SEND, "queue the creation of a retry chunk"),
            Allow(EVENTS_TOPIC, ("sns:Publish",), "publish the job's final event"),
            Allow(EVENTS_KEY, TOPIC_KEY_USE, "publish to the KMS-encrypted topic"),
            *_provider_keys(),
            _TRACING,
        ),
        c.FUNCTION_WEBHOOK: (
            _items(("GetItem",), (JOB_ITEMS, TENANT_ITEMS),
                   "read a delivery; an endpoint and its secret, the tenant secret"),
            _items(("PutItem",), (JOB_ITEMS,), "create a delivery record"),
            _items(("UpdateItem",), (JOB_ITEMS, TENANT_ITEMS),
                   "claim and record delivery attempts; disable an endpoint that answered 410"),
            _items(("Query",), (TENANT_ITEMS,), "the tenant's endpoints matching an event"),
            Allow(WEBHOOKS_QUEUE, SQS_CONSUME, "its trigger (event source mapping)"),
            Allow(WEBHOOKS_QUEUE, SQS_SEND, "schedule the next attempt of a delivery"),
            Allow(SIGNING_KEY, ("kms:Decrypt",), "open endpoint and tenant secrets to sign deliveries",
                  purposes=(c.SECRET_PURPOSE_ENDPOINT, c.SECRET_PURPOSE_TENANT)),
            _TRACING,
        ),
        c.FUNCTION_OPENAI_WEBHOOK: (
            _items(("GetItem",), (OPENAI_BATCH_CLAIMS, JOB_ITEMS), "which chunk owns the batch; read that chunk"),
            _items(("UpdateItem",), (JOB_ITEMS,), "end (or hold) the chunk"),
            Allow(COLLECT_QUEUE, SQS_SEND, "hand the ended chunk to the collector"),
            Allow(OPENAI_WEBHOOK_SECRET, SECRET_READ, "verify OpenAI's webhook signature"),
            Allow(OPENAI_API_KEY, SECRET_READ, "read the batch back from OpenAI before handing it over"),
            _TRACING,
        ),
        c.FUNCTION_AUTHORIZER: (
            Allow(API_KEYS, ("apigateway:GET",),
                  "read the account's API keys with their values (GetApiKeys), to find the key a request carries"),
            _TRACING,
        ),
    }

# Every role also has the AWS managed AWSLambdaBasicExecutionRole (its own log streams).
MANAGED_POLICY = "AWSLambdaBasicExecutionRole"


def grants(function_name: str) -> set[tuple[str, str, str]]:
    return set().union(*(allow.grants() for allow in permissions()[function_name]))


# --- the README's security section (a generated block: batchrelay_tools.readme) ---


def _scope(allow: Allow) -> str:
    if allow.keys:
        return "items " + ", ".join(f"`{k}`" for k in allow.keys)
    if allow.purposes:
        return "purpose " + ", ".join(f"`{p}`" for p in allow.purposes)
    if allow.prefixes:
        return "prefix " + ", ".join(f"`{p}`" for p in allow.prefixes)
    return ""


def render_markdown() -> str:
    lines: list[str] = []
    for function_name, allows in permissions().items():
        lines += [f"**`{function_name}`**", "", "| resource | actions | only for | why |", "| --- | --- | --- | --- |"]
        for allow in allows:
            actions = ", ".join(f"`{a}`" for a in allow.actions)
            lines.append(f"| `{allow.resource}` | {actions} | {_scope(allow)} | {allow.why} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
