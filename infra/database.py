"""The single DynamoDB table: jobs, chunks, deliveries, idempotency keys, uploads."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from batchrelay import constants as c

_STRING = dynamodb.AttributeType.STRING


class JobsTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=c.PK, type=_STRING),
            sort_key=dynamodb.Attribute(name=c.SK, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=deletion_protection,
            time_to_live_attribute=c.TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN if deletion_protection else RemovalPolicy.DESTROY,
        )
        # A tenant's jobs, newest first.
        self.table.add_global_secondary_index(
            index_name=c.TENANT_JOBS_INDEX,
            partition_key=dynamodb.Attribute(name=c.TENANT_JOBS_PK, type=_STRING),
            sort_key=dynamodb.Attribute(name=c.TENANT_JOBS_SK, type=_STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Sparse: only chunks waiting on a provider carry due_pk / due_at, so the poller's
        # query reads just those.
        self.table.add_global_secondary_index(
            index_name=c.DUE_CHUNKS_INDEX,
            partition_key=dynamodb.Attribute(name=c.DUE_CHUNKS_PK, type=_STRING),
            sort_key=dynamodb.Attribute(name=c.DUE_CHUNKS_SK, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )
