"""The S3 bucket and the DynamoDB table."""

from __future__ import annotations

from aws_cdk.assertions import Match

from batchrelay import constants as c


def test_bucket_is_encrypted_private_and_unversioned(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": Match.absent(),
        },
    )


def test_bucket_expires_everything_after_the_configured_retention(synthesized):
    # Given retention_days=7 in the test context
    (bucket,) = synthesized.of_type("AWS::S3::Bucket").values()
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    # Then one enabled rule, with no prefix filter, expires objects after 7 days
    expiring = [r for r in rules if r.get("ExpirationInDays") == synthesized.settings.retention_days]
    assert synthesized.settings.retention_days == 7
    assert len(expiring) == 1
    assert expiring[0]["Status"] == "Enabled"
    assert "Prefix" not in expiring[0]
    assert "TagFilters" not in expiring[0]


def test_bucket_allows_presigned_put_uploads_by_cors(synthesized):
    (bucket,) = synthesized.of_type("AWS::S3::Bucket").values()
    rules = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert any("PUT" in rule["AllowedMethods"] for rule in rules)
    # A browser sending a multipart upload reads each part's ETag to complete it
    assert any("ETag" in rule.get("ExposedHeaders", []) for rule in rules)


def test_bucket_denies_requests_without_tls(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_table_is_on_demand_encrypted_recoverable_and_protected(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": c.PK, "KeyType": "HASH"},
                {"AttributeName": c.SK, "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
            "TimeToLiveSpecification": {"AttributeName": c.TTL_ATTRIBUTE, "Enabled": True},
        },
    )


def test_table_has_the_tenant_jobs_and_due_chunks_indexes(synthesized):
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    indexes = {index["IndexName"]: index["KeySchema"] for index in properties["GlobalSecondaryIndexes"]}

    assert indexes[c.TENANT_JOBS_INDEX] == [
        {"AttributeName": c.TENANT_JOBS_PK, "KeyType": "HASH"},
        {"AttributeName": c.TENANT_JOBS_SK, "KeyType": "RANGE"},
    ]
    assert indexes[c.DUE_CHUNKS_INDEX] == [
        {"AttributeName": c.DUE_CHUNKS_PK, "KeyType": "HASH"},
        {"AttributeName": c.DUE_CHUNKS_SK, "KeyType": "RANGE"},
    ]
    assert attribute_types == {
        c.PK: "S",
        c.SK: "S",
        c.TENANT_JOBS_PK: "S",
        c.TENANT_JOBS_SK: "S",
        c.DUE_CHUNKS_PK: "S",
        c.DUE_CHUNKS_SK: "N",
    }


def test_table_items_expire_by_the_ttl_attribute_the_functions_write(synthesized):
    # Item TTLs (set when a job is final) only take effect on the attribute the table names.
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": c.TTL_ATTRIBUTE, "Enabled": True}
    assert c.TTL_ATTRIBUTE == "expires_at"
