"""The Lambda functions, their environment, their queue triggers and their grants.

Each function gets only the environment variables and permissions its job needs, as the
table in ``infra/permissions.py`` specifies (the tests hold the template to it). Grant
helpers where one fits; hand-written statements where none can say it: DynamoDB access
narrowed to partition keys (``dynamodb:LeadingKeys``), S3 access to exact actions on
prefixes, and the signing key (its key policy, ``infra/signing_key.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from batchrelay import constants as c
from batchrelay import registry
from infra import permissions as p
from infra.bundling import function_code
from infra.queues import WorkQueues
from infra.secrets import ProviderSecrets
from infra.settings import StackSettings
from infra.signing_key import SigningKey

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

MEMORY_MB = c.FUNCTION_MEMORY_MB
DESCRIPTIONS = {
    c.FUNCTION_API: "HTTP API: jobs, uploads, results, webhook endpoints",
    c.FUNCTION_SUBMITTER: "Splits jobs into chunks and creates provider batches",
    c.FUNCTION_POLLER: "Checks due chunks with the providers, hands ended ones to collect",
    c.FUNCTION_COLLECTOR: "Normalizes provider output into S3 results, finalizes jobs",
    c.FUNCTION_WEBHOOK: "Delivers signed webhooks for job events",
    c.FUNCTION_OPENAI_WEBHOOK: "Receives OpenAI batch webhooks (fast path beside polling)",
    c.FUNCTION_AUTHORIZER: "Finds the API key of a request (x-api-key or Authorization: Bearer) for API Gateway",
}
ALL_FUNCTIONS = tuple(MEMORY_MB)

# The resource names each function is told about (batchrelay.constants.FUNCTION_ENVIRONMENT,
# which the functions also check at first use); it matches its grants (below).
RESOURCE_ENV = c.FUNCTION_ENVIRONMENT
# The functions that check webhook URLs: at registration (api) and at every attempt (webhook).
URL_CHECKERS = (c.FUNCTION_API, c.FUNCTION_WEBHOOK)


@dataclass(frozen=True)
class FunctionResources:
    """What the functions work with; built by the other constructs of the stack."""

    table: dynamodb.ITable
    bucket: s3.IBucket
    queues: WorkQueues
    topic: sns.ITopic
    secrets: ProviderSecrets
    signing_key: SigningKey


def handler_path(function_name: str) -> str:
    return f"handlers.{function_name}.handler"


class BatchRelayFunctions(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, resources: FunctionResources
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._resources = resources
        code = function_code(bundle=settings.bundle)
        self.functions: dict[str, lambda_.Function] = {name: self._function(name, code) for name in ALL_FUNCTIONS}
        self._connect_queues()
        self._grant()

    @property
    def api(self) -> lambda_.Function:
        return self.functions[c.FUNCTION_API]

    @property
    def openai_webhook(self) -> lambda_.Function:
        return self.functions[c.FUNCTION_OPENAI_WEBHOOK]

    @property
    def authorizer(self) -> lambda_.Function:
        return self.functions[c.FUNCTION_AUTHORIZER]

    @property
    def poller(self) -> lambda_.Function:
        return self.functions[c.FUNCTION_POLLER]

    def _function(self, name: str, code: lambda_.Code) -> lambda_.Function:
        construct_id = name.title().replace("_", "")
        log_group = logs.LogGroup(self, f"{construct_id}Logs", retention=self._settings.log_retention)
        return lambda_.Function(
            self,
            construct_id,
            description=f"{c.SERVICE_NAME}: {DESCRIPTIONS[name]}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler_path(name),
            timeout=Duration.seconds(c.FUNCTION_TIMEOUTS[name]),
            memory_size=MEMORY_MB[name],
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=self._environment(name),
        )

    # --- environment ---

    def _environment(self, name: str) -> dict[str, str]:
        r = self._resources
        s = self._settings
        resource_env = {
            c.ENV_TABLE_NAME: r.table.table_name,
            c.ENV_BUCKET_NAME: r.bucket.bucket_name,
            c.ENV_JOBS_QUEUE_URL: r.queues.jobs.queue.queue_url,
            c.ENV_COLLECT_QUEUE_URL: r.queues.collect.queue.queue_url,
            c.ENV_WEBHOOKS_QUEUE_URL: r.queues.webhooks.queue.queue_url,
            c.ENV_EVENTS_TOPIC_ARN: r.topic.topic_arn,
            c.ENV_OPENAI_WEBHOOK_SECRET_ARN: r.secrets.openai_webhook_secret.secret_arn,
            c.ENV_SECRETS_KEY_ID: r.signing_key.key.key_arn,
        }
        environment = {
            c.ENV_POWERTOOLS_SERVICE_NAME: c.SERVICE_NAME,
            c.ENV_POWERTOOLS_METRICS_NAMESPACE: c.METRICS_NAMESPACE,
            c.ENV_POWERTOOLS_LOG_LEVEL: s.log_level,
            c.ENV_DEFAULT_CHUNK_SIZE: str(s.default_chunk_size),
            c.ENV_DEFAULT_MAX_ATTEMPTS: str(s.default_max_attempts),
            c.ENV_RETENTION_DAYS: str(s.retention_days),
            c.ENV_PRESIGN_EXPIRY_SECONDS: str(s.presign_expiry_seconds),
            # A batch is never checked more often than the poller runs.
            c.ENV_POLL_MIN_DELAY_SECONDS: str(s.poll_rate_minutes * 60),
            # No pydantic plugins are used: skip the scan of every installed package's
            # entry points that the first model class would otherwise make at init.
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
        environment.update({key: resource_env[key] for key in RESOURCE_ENV[name]})
        environment[c.ENV_FUNCTION] = name
        if name in c.PROVIDER_CALLERS:
            for spec in registry.specs():
                limits = s.provider_limits[spec.name]
                environment[spec.max_requests_env] = str(limits.max_requests)
                environment[spec.max_bytes_env] = str(limits.max_bytes)
                if spec.name in r.secrets.api_keys and self._calls_provider(name, spec.name):
                    environment[spec.secret_arn_env] = r.secrets.api_keys[spec.name].secret_arn
        if name in URL_CHECKERS:
            environment[c.ENV_WEBHOOK_ALLOWED_DESTINATIONS] = ",".join(s.webhook_allowed_destinations)
        return environment

    @staticmethod
    def _calls_provider(function: str, provider: str) -> bool:
        # The OpenAI fast path reads back OpenAI's batches only.
        return function != c.FUNCTION_OPENAI_WEBHOOK or provider == "openai"

    # --- triggers ---

    def _connect_queues(self) -> None:
        for queue_name, consumer in c.QUEUE_CONSUMERS.items():
            # ReportBatchItemFailures: one failing record is retried alone, not the batch.
            # MaximumConcurrency bounds the consumer's concurrent invocations for all
            # tenants together; messages beyond it wait in the queue (no throttling, no
            # receive counted), so a large job cannot fan out without limit.
            self.functions[consumer].add_event_source(
                event_sources.SqsEventSource(
                    self._resources.queues.by_name(queue_name).queue,
                    batch_size=c.QUEUE_BATCH_SIZES[queue_name],
                    report_batch_item_failures=True,
                    max_concurrency=self._settings.max_concurrency(queue_name),
                )
            )

    # --- grants: least privilege, one method per function (the table: infra/permissions.py) ---
    #
    # No grant_* helper can narrow DynamoDB access to partition keys or S3 access to exact
    # object actions, so each function's table and bucket statements are written out in its
    # method. LeadingKeys matches the partition key only: within JOB#<id> a function that
    # may write chunks may also write the job's other items; index queries cannot be narrowed
    # by it, so they are granted on the one index a function reads. No function may Scan.

    def _grant(self) -> None:
        self._grant_api(self.functions[c.FUNCTION_API])
        self._grant_submitter(self.functions[c.FUNCTION_SUBMITTER])
        self._grant_poller(self.functions[c.FUNCTION_POLLER])
        self._grant_collector(self.functions[c.FUNCTION_COLLECTOR])
        self._grant_webhook(self.functions[c.FUNCTION_WEBHOOK])
        self._grant_openai_webhook(self.functions[c.FUNCTION_OPENAI_WEBHOOK])
        self._grant_authorizer(self.functions[c.FUNCTION_AUTHORIZER])

    def _grant_api(self, fn: lambda_.Function) -> None:
        r = self._resources
        self._add_statements(
            fn,
            self._items(
                ("GetItem", "PutItem"),
                (p.JOB_ITEMS, p.IDEMPOTENCY_ITEMS, p.UPLOAD_ITEMS, p.TENANT_ITEMS, p.FILES_ITEMS),
            ),
            self._items(("UpdateItem",), (p.JOB_ITEMS, p.FILES_ITEMS)),
            self._items(("DeleteItem",), (p.TENANT_ITEMS, p.FILES_ITEMS, *p.JOB_DATA_ITEMS)),
            self._items(("Query",), (p.JOB_ITEMS, p.TENANT_ITEMS, p.FILES_ITEMS)),
            self._index_query(c.TENANT_JOBS_INDEX),
            # Inline inputs are written here. Presigned upload URLs (a PUT, or the parts of a
            # multipart upload) and result links act with this role, so it signs with
            # PutObject / GetObject; PutObject also starts and completes multipart uploads.
            # An upload's body is never read here: a HEAD (GetObject) checks its size.
            self._objects(("PutObject", "DeleteObject"), c.INPUTS_PREFIX),
            # The OpenAI surface's files and their parts are uploads too: it joins parts
            # (multipart, aborted on failure) and deletes parts and deleted files.
            self._objects(("GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"), c.UPLOADS_PREFIX),
            self._objects(("GetObject", "DeleteObject"), c.RESULTS_PREFIX),
            # DELETE /v1/jobs/{id} deletes a small job's data in the request (lifecycle/job_deletion.py).
            self._objects(("DeleteObject",), c.CHUNKS_PREFIX, c.RAW_PREFIX),
            self._list_job_data(),
        )
        r.queues.jobs.queue.grant_send_messages(fn)
        # A deletion the request does not finish goes on behind the collect queue.
        r.queues.collect.queue.grant_send_messages(fn)
        role = self._role(fn)
        # It seals every new secret; it opens only endpoint secrets (the test event).
        r.signing_key.allow_encrypt(
            role, (c.SECRET_PURPOSE_ENDPOINT, c.SECRET_PURPOSE_TENANT), sid="ApiSealsSigningSecrets"
        )
        r.signing_key.allow_decrypt(role, (c.SECRET_PURPOSE_ENDPOINT,), sid="ApiOpensEndpointSecretsToTest")

    def _grant_submitter(self, fn: lambda_.Function) -> None:
        r = self._resources
        self._add_statements(
            fn,
            self._items(("GetItem", "PutItem"), (p.JOB_ITEMS, p.BATCH_CLAIMS)),
            self._items(("UpdateItem", "Query"), (p.JOB_ITEMS,)),
            # Validation copies an upload into the job's input (in parts when large) and
            # writes its id-hash runs beside it; planning streams the input.
            self._objects(("GetObject", "PutObject", "AbortMultipartUpload"), c.INPUTS_PREFIX, c.CHUNKS_PREFIX),
            self._objects(("GetObject",), c.UPLOADS_PREFIX),
        )
        r.queues.jobs.queue.grant_send_messages(fn)
        r.queues.collect.queue.grant_send_messages(fn)
        self._grant_provider_keys(fn)

    def _grant_poller(self, fn: lambda_.Function) -> None:
        r = self._resources
        self._add_statements(
            fn,
            self._items(("GetItem", "UpdateItem"), (p.JOB_ITEMS,)),
            self._index_query(c.DUE_CHUNKS_INDEX),
        )
        r.queues.jobs.queue.grant_send_messages(fn)
        r.queues.collect.queue.grant_send_messages(fn)
        self._grant_provider_keys(fn)

    def _grant_collector(self, fn: lambda_.Function) -> None:
        r = self._resources
        self._add_statements(
            fn,
            self._items(("GetItem", "PutItem", "UpdateItem", "Query"), (p.JOB_ITEMS,)),
            # A final job's items get their TTL, and a job's data is deleted on request,
            # in steps behind the collect queue (item_expiry.py, job_deletion.py).
            self._items(("UpdateItem", "DeleteItem"), p.JOB_DATA_ITEMS),
            # A finalized OpenAI-surface batch's output and error files are files of its tenant,
            # and go when its data is deleted.
            self._items(("PutItem", "DeleteItem"), (p.FILES_ITEMS,)),
            self._objects(
                ("GetObject", "PutObject", "AbortMultipartUpload", "DeleteObject"), c.CHUNKS_PREFIX, c.RESULTS_PREFIX
            ),
            self._objects(("PutObject", "AbortMultipartUpload", "DeleteObject"), c.RAW_PREFIX),
            self._objects(("DeleteObject",), c.INPUTS_PREFIX),
            self._list_job_data(),
        )
        # jobs: retryable failures become new chunks. collect: the next TTL or deletion step
        # (finalizing runs in the same invocation as the last chunk's collection).
        r.queues.jobs.queue.grant_send_messages(fn)
        r.queues.collect.queue.grant_send_messages(fn)
        r.topic.grant_publish(fn)
        self._grant_provider_keys(fn)

    def _grant_webhook(self, fn: lambda_.Function) -> None:
        r = self._resources
        self._add_statements(
            fn,
            self._items(("GetItem", "UpdateItem"), (p.JOB_ITEMS, p.TENANT_ITEMS)),
            self._items(("PutItem",), (p.JOB_ITEMS,)),
            self._items(("Query",), (p.TENANT_ITEMS,)),
        )
        # Consuming is granted by the event source; sending re-queues a delivery for retry.
        r.queues.webhooks.queue.grant_send_messages(fn)
        # It signs with every kind of secret and creates none: decrypt only.
        r.signing_key.allow_decrypt(
            self._role(fn),
            (c.SECRET_PURPOSE_ENDPOINT, c.SECRET_PURPOSE_TENANT),
            sid="WebhookOpensSigningSecrets",
        )

    def _grant_openai_webhook(self, fn: lambda_.Function) -> None:
        r = self._resources
        # Unauthenticated route: it reads only OpenAI batch claims and the chunk they name.
        self._add_statements(
            fn,
            self._items(("GetItem",), (p.OPENAI_BATCH_CLAIMS, p.JOB_ITEMS)),
            self._items(("UpdateItem",), (p.JOB_ITEMS,)),
        )
        r.queues.collect.queue.grant_send_messages(fn)
        r.secrets.openai_webhook_secret.grant_read(fn)
        # A verified event is confirmed by reading the batch back from OpenAI.
        r.secrets.api_keys["openai"].grant_read(fn)

    def _grant_authorizer(self, fn: lambda_.Function) -> None:
        # Reading the keys with their values: the one way to find a key sent as a bearer token.
        self._add_statements(
            fn,
            iam.PolicyStatement(
                actions=["apigateway:GET"],
                resources=[Stack.of(self).format_arn(service="apigateway", account="", resource="/apikeys",
                                                     arn_format=ArnFormat.NO_RESOURCE_NAME)],
            ),
        )

    def _grant_provider_keys(self, fn: lambda_.Function) -> None:
        for secret in self._resources.secrets.provider_api_keys:
            secret.grant_read(fn)

    # --- hand-written statements ---

    @staticmethod
    def _add_statements(fn: lambda_.Function, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            fn.add_to_role_policy(statement)

    @staticmethod
    def _role(fn: lambda_.Function) -> iam.IRole:
        assert fn.role is not None
        return fn.role

    def _items(self, actions: tuple[str, ...], keys: tuple[str, ...]) -> iam.PolicyStatement:
        """Item actions on the table, only for items whose partition key matches ``keys``.

        ForAllValues holds for a request that names no key at all, so only actions that
        always name one (item reads and writes, Query) may ever be listed here.
        """
        return iam.PolicyStatement(
            actions=[f"dynamodb:{action}" for action in actions],
            resources=[self._resources.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(keys)}},
        )

    def _index_query(self, index_name: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[f"{self._resources.table.table_arn}/index/{index_name}"]
        )

    def _list_job_data(self) -> iam.PolicyStatement:
        """Listing keys, only under the prefixes that hold jobs' data (the code lists one job's)."""
        return iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[self._resources.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": list(p.JOB_DATA_PREFIXES)}},
        )

    def _objects(self, actions: tuple[str, ...], *prefixes: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=[f"s3:{action}" for action in actions],
            resources=[self._resources.bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
        )
