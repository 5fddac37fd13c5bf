"""The S3 bucket for inputs, uploads, chunk files, providers' raw output and results."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


class ResultsBucket(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention_days: int,
        cors_origins: Sequence[str],
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # Versioning is off by choice: every object is written once and never changed,
            # and retention is what governs it; versions would keep expired data around.
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-after-retention",
                    enabled=True,
                    expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Clients upload large JSONL inputs straight to S3 with presigned PUT URLs (the
            # whole file, or each part of a multipart upload: a browser must read each part's
            # ETag to complete it).
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.PUT],
                    allowed_origins=list(cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            # No auto-delete custom resource: destroying a stack never empties the bucket.
            removal_policy=RemovalPolicy.RETAIN if deletion_protection else RemovalPolicy.DESTROY,
        )
