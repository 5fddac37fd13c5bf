"""The batchrelay stack: composes one construct per concern and exports what users need."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from batchrelay import constants as c
from batchrelay import registry
from infra.api import BatchRelayApi
from infra.bucket import ResultsBucket
from infra.database import JobsTable
from infra.events import JobEvents
from infra.functions import BatchRelayFunctions, FunctionResources
from infra.monitoring import Monitoring
from infra.nag_suppressions import add_nag_suppressions
from infra.queues import WorkQueues
from infra.schedule import PollerSchedule
from infra.secrets import ProviderSecrets, provider_construct_id
from infra.settings import StackSettings
from infra.signing_key import SigningKey


class BatchRelayStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.table = JobsTable(self, "Table", deletion_protection=settings.deletion_protection)
        self.bucket = ResultsBucket(
            self,
            "Bucket",
            retention_days=settings.retention_days,
            cors_origins=settings.upload_cors_origins,
            deletion_protection=settings.deletion_protection,
        )
        self.queues = WorkQueues(self, "Queues")
        self.events = JobEvents(
            self,
            "JobEvents",
            webhooks_queue=self.queues.webhooks.queue,
            deletion_protection=settings.deletion_protection,
        )
        self.secrets = ProviderSecrets(self, "Secrets", name_prefix=settings.stack_name)
        self.signing_key = SigningKey(self, "SigningKey", deletion_protection=settings.deletion_protection)
        self.functions = BatchRelayFunctions(
            self,
            "Functions",
            settings=settings,
            resources=FunctionResources(
                table=self.table.table,
                bucket=self.bucket.bucket,
                queues=self.queues,
                topic=self.events.topic,
                secrets=self.secrets,
                signing_key=self.signing_key,
            ),
        )
        self.api = BatchRelayApi(
            self,
            "Api",
            settings=settings,
            api_function=self.functions.api,
            openai_webhook_function=self.functions.openai_webhook,
            authorizer_function=self.functions.authorizer,
        )
        self.schedule = PollerSchedule(
            self, "PollerSchedule", poller=self.functions.poller, rate_minutes=settings.poll_rate_minutes
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=settings.stack_name,
            key=self.events.key,
            queues=self.queues,
            functions=self.functions.functions,
            rest_api=self.api.rest_api,
        )
        self._add_outputs()
        add_nag_suppressions(self)

    def _add_outputs(self) -> None:
        outputs = {
            "ApiUrl": (self.api.url, "Base URL of the HTTP API (routes under /v1)"),
            "OpenAiBaseUrl": (
                self.api.rest_api.url_for_path(c.OPENAI_PREFIX),
                "base_url for the openai SDK (the API key as its api_key)",
            ),
            "AnthropicBaseUrl": (
                self.api.rest_api.url_for_path("/anthropic"),
                "base_url for the anthropic SDK (the API key as its api_key)",
            ),
            "OpenAiWebhookUrl": (
                self.api.rest_api.url_for_path(c.OPENAI_WEBHOOK_PATH),
                "Register this URL as a webhook endpoint in the OpenAI dashboard",
            ),
            "ApiKeyId": (
                self.api.api_key.key_id,
                "The first tenant's API key id; its value: aws apigateway get-api-key "
                "--include-value --query value --output text --api-key <this id>",
            ),
            "BucketName": (self.bucket.bucket.bucket_name, "S3 bucket of inputs and results"),
            "TableName": (self.table.table.table_name, "DynamoDB table"),
            "EventsTopicArn": (self.events.topic.topic_arn, "Subscribe here to job events"),
            "AlarmTopicArn": (self.monitoring.alarm_topic.topic_arn, "Subscribe here to alarms"),
            "SigningKeyArn": (
                self.signing_key.key.key_arn,
                "KMS key that encrypts webhook signing secrets (only the api and webhook functions use it)",
            ),
            "OpenAiWebhookSecretArn": (
                self.secrets.openai_webhook_secret.secret_arn,
                "Put the OpenAI webhook signing secret here",
            ),
        }
        for provider, secret in self.secrets.api_keys.items():
            outputs[f"{provider_construct_id(provider)}SecretArn"] = (
                secret.secret_arn, f"Put the {registry.spec(provider).title} API key here"
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
