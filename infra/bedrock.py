"""Amazon Bedrock: the service role its batch inference jobs run with, what the functions may
call, and the EventBridge rule that sends this account's ended jobs to the fast path.

- **The service role** (``BedrockServiceRole``): trusted by ``bedrock.amazonaws.com`` only for
  this account's batch inference jobs (``aws:SourceAccount``, ``aws:SourceArn``); it may read
  the chunks' request files (``chunks/<job>/<chunk>/provider.jsonl``) and write under one output
  prefix (``bedrock-output/``), and nothing else. The functions pass it to Bedrock with each
  job (``iam:PassRole`` on this role only, to Bedrock only).
- **The models** (``model_arns``): InvokeModel (the on-demand runs below the record minimum)
  is granted on the allowed models (``bedrock_allowed_models``), as foundation models in this
  region or, for a cross-region inference profile (``us.``, ``eu.``...), the profile and its
  model in every region it routes to; without a list, any foundation model and any inference
  profile of the account.
- **The rule** (``BedrockEventsRule``): ``aws.bedrock`` "Batch Inference Job State Change"
  events of this account whose status is an end, to the ``bedrock_events`` function (the
  poller stays the safety net: EventBridge delivers these events best effort).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from batchrelay import constants as c
from batchrelay.providers.bedrock_events import rule_pattern

BEDROCK_SERVICE = "bedrock.amazonaws.com"
# Where a cross-region inference profile id starts (us.anthropic.claude-...): its geography.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.")
# The chunk files a job reads: the provider lines, never our normalized input beside them.
CHUNK_REQUEST_FILES = f"{c.CHUNKS_PREFIX}*/provider.jsonl"


def jobs_arn(scope: Construct) -> str:
    """Every batch inference job of this account and region."""
    return Stack.of(scope).format_arn(service="bedrock", resource="model-invocation-job", resource_name="*")


def model_arns(scope: Construct, allowed: tuple[str, ...]) -> list[str]:
    """What InvokeModel may be called on: the allowed models (ids, inference profile ids or ARNs)."""
    stack = Stack.of(scope)
    partition, region, account = stack.partition, stack.region, stack.account
    if not allowed:
        return [f"arn:{partition}:bedrock:*::foundation-model/*",
                f"arn:{partition}:bedrock:{region}:{account}:inference-profile/*"]
    arns: list[str] = []
    for model in allowed:
        if model.startswith("arn:"):
            arns.append(model)
        elif model.startswith(INFERENCE_PROFILE_PREFIXES):
            # A profile routes to its model in several regions: the profile, and the model anywhere.
            arns.append(f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model}")
            arns.append(f"arn:{partition}:bedrock:*::foundation-model/{model.split('.', 1)[1]}")
        else:
            arns.append(f"arn:{partition}:bedrock:{region}::foundation-model/{model}")
    return arns


class BedrockServiceRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description=f"{c.SERVICE_NAME}: Amazon Bedrock batch inference reads chunk request files and "
                        f"writes its output under {c.BEDROCK_OUTPUT_PREFIX}",
            assumed_by=iam.ServicePrincipal(
                BEDROCK_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": jobs_arn(self)},
                },
            ),
        )
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadChunkRequestFiles", actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(CHUNK_REQUEST_FILES)],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteOutput", actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{c.BEDROCK_OUTPUT_PREFIX}*")],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListInputAndOutput", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{c.CHUNKS_PREFIX}*", f"{c.BEDROCK_OUTPUT_PREFIX}*"]}},
        ))

    def allow_pass(self, grantee: iam.IGrantable) -> None:
        """iam:PassRole on this role only, and only to Bedrock."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": BEDROCK_SERVICE}},
        ))


class BedrockEventsRule(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        pattern = rule_pattern(Stack.of(self).account)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"{c.SERVICE_NAME}: this account's Bedrock batch inference jobs that ended, to the "
                        "bedrock_events function (a fast path beside polling)",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                account=pattern["account"],
                detail=pattern["detail"],
            ),
            # A lost event costs at most a poller period: a few retries within an hour suffice.
            targets=[targets.LambdaFunction(function, retry_attempts=3, max_event_age=Duration.hours(1))],
        )
