"""The KMS key that encrypts webhook signing secrets in the table (``batchrelay.webhooks.secret_box``).

Its key policy is the one place that says who may use it. The account can administer the
key (rotate, describe, change the policy: all logged by CloudTrail) but gets no use of it,
so no IAM policy in the account can grant encrypting or decrypting; only the statements
added with ``allow_encrypt`` / ``allow_decrypt`` do, each for named roles and for named
purposes (the ``purpose`` of the encryption context: endpoint or tenant secrets).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from batchrelay import constants as c

# What the account root keeps: administration, never use (no Encrypt, Decrypt, ReEncrypt,
# GenerateDataKey). PutKeyPolicy stays with the account so the key can never be locked out.
ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
PURPOSE_CONDITION = f"kms:EncryptionContext:{c.SECRET_CONTEXT_PURPOSE}"


class SigningKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, deletion_protection: bool) -> None:
        super().__init__(scope, construct_id)
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersButDoesNotUse",
                    principals=[iam.AccountRootPrincipal()],
                    actions=list(ADMIN_ACTIONS),
                    resources=["*"],
                )
            ]
        )
        self.key = kms.Key(
            self,
            "Key",
            description=f"{c.SERVICE_NAME}: encrypts webhook signing secrets in the table",
            enable_key_rotation=True,
            policy=policy,
            # Losing the key loses every stored secret: it lives as long as the table.
            removal_policy=RemovalPolicy.RETAIN if deletion_protection else RemovalPolicy.DESTROY,
        )

    def allow_encrypt(self, role: iam.IRole, purposes: Sequence[str], *, sid: str) -> None:
        self._allow(role, "kms:Encrypt", purposes, sid=sid)

    def allow_decrypt(self, role: iam.IRole, purposes: Sequence[str], *, sid: str) -> None:
        self._allow(role, "kms:Decrypt", purposes, sid=sid)

    def _allow(self, role: iam.IRole, action: str, purposes: Sequence[str], *, sid: str) -> None:
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ArnPrincipal(role.role_arn)],
                actions=[action],
                resources=["*"],
                conditions={"StringEquals": {PURPOSE_CONDITION: list(purposes)}},
            )
        )
