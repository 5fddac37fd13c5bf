"""Every cdk-nag (AwsSolutions) suppression of the stack, in one place.

Each suppression names the resource it applies to and says why. Wildcard findings
(IAM5) are suppressed only for the exact patterns the stack's grants produce (X-Ray, the
objects under one bucket prefix, the SNS topic key's data keys), so any other wildcard,
such as the whole bucket, still fails the nag test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import BatchRelayStack

# --- wildcard patterns the stack's grants produce ---
XRAY_ANY_RESOURCE = "Resource::*"
# The objects under one prefix of the bucket (inputs/*, chunks/*, ...), never the whole bucket.
BUCKET_PREFIX_OBJECTS = RegexAppliesTo(regex=r"/^Resource::<Bucket[A-Za-z0-9]+\.Arn>\/[a-z]+\/\*$/")
KMS_DATA_KEYS = "Action::kms:GenerateDataKey*"


def add_nag_suppressions(stack: BatchRelayStack) -> None:
    _suppress_functions(stack)
    _suppress_api(stack)
    _suppress(
        stack.bucket.bucket,
        "AwsSolutions-S1",
        "The results bucket is reached only through the functions' roles and short-lived presigned "
        "URLs; API Gateway access logs and CloudTrail record who asked for what. Server access logs "
        "would need a second bucket for no added insight.",
    )
    for secret in stack.secrets.all_secrets:
        _suppress(
            secret,
            "AwsSolutions-SMG4",
            "Provider API keys and the OpenAI webhook secret are issued and rotated at the provider; "
            "the operator puts the new value with put-secret-value. Secrets Manager cannot rotate them.",
        )


def _suppress_functions(stack: BatchRelayStack) -> None:
    for name, fn in stack.functions.functions.items():
        _suppress(
            fn,
            "AwsSolutions-L1",
            f"The {name} function runs on Python 3.13 on purpose: it is the runtime the code, its "
            "dependencies' arm64 wheels and the local mode are tested against.",
        )
        role = fn.role
        assert role is not None
        _suppress(
            role,
            "AwsSolutions-IAM4",
            f"The {name} function's role uses AWSLambdaBasicExecutionRole, which only lets it write "
            "its own CloudWatch logs; this is the CDK default for Lambda.",
            applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        )
        _suppress(
            role,
            "AwsSolutions-IAM5",
            f"The {name} function's wildcards are the narrowest IAM can say: X-Ray trace writes take "
            "no resource ARN; S3 object keys are per job and tenant, so access is granted on the "
            "objects under one prefix (inputs/, chunks/, ...), never the whole bucket; SNS publish to "
            "the KMS-encrypted topic needs kms:GenerateDataKey* (the CDK grant). DynamoDB access is on "
            "the table and named indexes, narrowed to partition keys (see infra/permissions.py).",
            applies_to=[XRAY_ANY_RESOURCE, BUCKET_PREFIX_OBJECTS, KMS_DATA_KEYS],
        )


def _suppress_api(stack: BatchRelayStack) -> None:
    rest_api = stack.api.rest_api
    _suppress(
        rest_api,
        "AwsSolutions-APIG2",
        "The REST API is a Lambda proxy: the api function validates every body and parameter "
        "(pydantic models) and answers with errors that name the field and the line.",
    )
    _suppress(
        rest_api,
        "AwsSolutions-APIG3",
        "No WAF by default: every route but /v1/health and the signed OpenAI webhook needs an API "
        "key, and the usage plan throttles each key. A WAF web ACL can be associated with the stage.",
    )
    _suppress(
        rest_api,
        "AwsSolutions-IAM4",
        "The account-level API Gateway CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, "
        "the policy AWS provides for exactly this purpose.",
        applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"],
    )
    auth_reason = (
        "Clients are programs, not users: a tenant authenticates with its API Gateway API key "
        "(the key id is the tenant id), sent as x-api-key or Authorization: Bearer, found by the "
        "Lambda authorizers and checked against the usage plan by API Gateway on every route "
        "except GET /v1/health (open liveness check) and POST /v1/providers/openai/webhook "
        "(authenticated by OpenAI's Standard Webhooks signature, verified in the openai_webhook "
        "function). No Cognito user pool: there are no users."
    )
    _suppress(rest_api, "AwsSolutions-APIG4", auth_reason)
    _suppress(rest_api, "AwsSolutions-COG4", auth_reason)


def _suppress(
    construct: IConstruct, rule_id: str, reason: str, applies_to: list[str | RegexAppliesTo] | None = None
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule_id, reason=reason, applies_to=applies_to)],
        apply_to_children=True,
    )
