"""Create the stack's resources on an AWS emulator (moto) from the same constants the CDK
stack uses, and return the environment the functions read."""

from __future__ import annotations

import json
from typing import Any

import boto3

from batchrelay import constants as c
from batchrelay_tools.local.config import MIN_API_KEY_LENGTH


def create_resources(*, prefix: str = "batchrelay", region: str = "us-east-1") -> dict[str, str]:
    """Table, bucket, queues (with DLQs and redrive), topic, the webhooks subscription and the
    KMS key that encrypts signing secrets.

    Returns environment variables for the functions (TABLE_NAME, BUCKET_NAME, ...).
    """
    dynamodb = boto3.client("dynamodb", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)

    table_name = f"{prefix}-table"
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": c.PK, "AttributeType": "S"},
            {"AttributeName": c.SK, "AttributeType": "S"},
            {"AttributeName": c.TENANT_JOBS_PK, "AttributeType": "S"},
            {"AttributeName": c.TENANT_JOBS_SK, "AttributeType": "S"},
            {"AttributeName": c.DUE_CHUNKS_PK, "AttributeType": "S"},
            {"AttributeName": c.DUE_CHUNKS_SK, "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": c.PK, "KeyType": "HASH"}, {"AttributeName": c.SK, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": c.TENANT_JOBS_INDEX,
                "KeySchema": [
                    {"AttributeName": c.TENANT_JOBS_PK, "KeyType": "HASH"},
                    {"AttributeName": c.TENANT_JOBS_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": c.DUE_CHUNKS_INDEX,
                "KeySchema": [
                    {"AttributeName": c.DUE_CHUNKS_PK, "KeyType": "HASH"},
                    {"AttributeName": c.DUE_CHUNKS_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )

    bucket = f"{prefix}-data"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    env: dict[str, str] = {c.ENV_TABLE_NAME: table_name, c.ENV_BUCKET_NAME: bucket}
    queue_env = {
        c.JOBS_QUEUE: c.ENV_JOBS_QUEUE_URL,
        c.COLLECT_QUEUE: c.ENV_COLLECT_QUEUE_URL,
        c.WEBHOOKS_QUEUE: c.ENV_WEBHOOKS_QUEUE_URL,
    }
    queue_arns: dict[str, str] = {}
    for queue, env_name in queue_env.items():
        dlq_url = sqs.create_queue(QueueName=f"{prefix}-{queue}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(
            QueueName=f"{prefix}-{queue}",
            Attributes={
                "VisibilityTimeout": str(c.visibility_timeout_seconds(queue)),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(c.MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        queue_arns[queue] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        env[env_name] = url

    topic_arn = sns.create_topic(Name=f"{prefix}-{c.EVENTS_TOPIC}")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arns[c.WEBHOOKS_QUEUE],
        Attributes={"RawMessageDelivery": "true"},
    )
    env[c.ENV_EVENTS_TOPIC_ARN] = topic_arn

    kms = boto3.client("kms", region_name=region)
    key = kms.create_key(Description=f"{prefix}: encrypts webhook signing secrets")["KeyMetadata"]
    env[c.ENV_SECRETS_KEY_ID] = key["KeyId"]
    return env


def queue_urls(env: dict[str, str]) -> dict[str, Any]:
    return {
        c.JOBS_QUEUE: env[c.ENV_JOBS_QUEUE_URL],
        c.COLLECT_QUEUE: env[c.ENV_COLLECT_QUEUE_URL],
        c.WEBHOOKS_QUEUE: env[c.ENV_WEBHOOKS_QUEUE_URL],
    }


def register_api_keys(api_keys: dict[str, str], *, region: str = "us-east-1") -> None:
    """Create the API keys (value -> id) on the emulator's API Gateway, where the authorizer
    finds them (apigateway:GET /apikeys), each under the id local mode gives it. The emulator
    runs in this process, so its id manager takes the ids (moto's custom ids)."""
    from moto.apigateway.utils import ApigwApiKeyIdentifier
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.utilities.id_generator import moto_id_manager

    apigateway = boto3.client("apigateway", region_name=region)
    for value, key_id in api_keys.items():
        if len(value) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"an API key has at least {MIN_API_KEY_LENGTH} characters (API Gateway's rule); "
                f"{key_id}'s has {len(value)}"
            )
        moto_id_manager.set_custom_id(ApigwApiKeyIdentifier(DEFAULT_ACCOUNT_ID, region, value), key_id)
        apigateway.create_api_key(name=key_id, value=value, enabled=True)
