"""The ``job-events`` SNS topic and its fan-out to the webhook queue."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batchrelay import constants as c


class JobEvents(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, webhooks_queue: sqs.IQueue, deletion_protection: bool
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key: the AWS-managed SNS key cannot be granted to other
        # principals (CloudWatch alarms publish to a topic under this key too).
        self.key = kms.Key(
            self,
            "Key",
            description=f"{c.SERVICE_NAME}: encrypts the {c.EVENTS_TOPIC} and alarm topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if deletion_protection else RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{c.SERVICE_NAME} {c.EVENTS_TOPIC}",
            master_key=self.key,
            enforce_ssl=True,
        )
        # Raw delivery: the webhook function reads the event JSON as the SQS body, with the
        # SNS message attributes as SQS message attributes, no SNS envelope to unwrap.
        self.topic.add_subscription(subscriptions.SqsSubscription(webhooks_queue, raw_message_delivery=True))
