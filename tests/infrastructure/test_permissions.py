"""Least privilege: every function's permissions are exactly the table in infra/permissions.py.

The template's role policies (and the signing key's policy) are read back into the table's
terms, (action, symbolic resource, partition key pattern or purpose), and compared both
ways: a grant the table does not list fails, and so does a row the template lacks.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from batchrelay import constants as c
from batchrelay.store import keys
from infra import permissions as p

Grant = tuple[str, str, str]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class TemplateReader:
    """Turns the template's statements into the table's (action, resource, scope) triples."""

    def __init__(self, synthesized) -> None:
        stack = synthesized.stack
        self.synthesized = synthesized
        self.symbols = {
            synthesized.logical_id(stack.table.table): p.TABLE,
            synthesized.logical_id(stack.bucket.bucket): "bucket",
            synthesized.logical_id(stack.events.topic): p.EVENTS_TOPIC,
            synthesized.logical_id(stack.events.key): p.EVENTS_KEY,
            synthesized.logical_id(stack.signing_key.key): p.SIGNING_KEY,
            **{
                synthesized.logical_id(secret): p.provider_api_key(name)
                for name, secret in stack.secrets.api_keys.items()
            },
            synthesized.logical_id(stack.secrets.openai_webhook_secret): p.OPENAI_WEBHOOK_SECRET,
            **{stack.get_logical_id(q.queue.node.default_child): f"queue/{q.name}" for q in stack.queues.all},
        }
        self.role_owner = {
            stack.get_logical_id(fn.role.node.default_child): name for name, fn in stack.functions.functions.items()
        }

    def resource(self, value: Any) -> str:
        if value == "*":
            return p.ANY
        if value == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"},
                                        "::/apikeys"]]}:
            return p.API_KEYS
        if "Ref" in value:
            return self.symbols[value["Ref"]]
        if "Fn::GetAtt" in value:
            return self.symbols[value["Fn::GetAtt"][0]]
        base, suffix = value["Fn::Join"][1]
        symbol = f"{self.resource(base)}{suffix}"
        return symbol.replace(f"{p.TABLE}/index/", "index/")

    @staticmethod
    def scopes(statement: dict[str, Any]) -> list[str]:
        condition = statement.get("Condition")
        if condition is None:
            return [""]
        if set(condition) == {"ForAllValues:StringLike"} and set(condition["ForAllValues:StringLike"]) == {
            "dynamodb:LeadingKeys"
        }:
            return _as_list(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        purpose = f"kms:EncryptionContext:{c.SECRET_CONTEXT_PURPOSE}"
        if set(condition) == {"StringEquals"} and set(condition["StringEquals"]) == {purpose}:
            return _as_list(condition["StringEquals"][purpose])
        if set(condition) == {"StringLike"} and set(condition["StringLike"]) == {"s3:prefix"}:
            return _as_list(condition["StringLike"]["s3:prefix"])
        raise AssertionError(f"a condition the table cannot express: {condition}")

    def triples(self, statement: dict[str, Any], resources: list[str]) -> set[Grant]:
        assert statement["Effect"] == "Allow", statement
        return {
            (action, resource, scope)
            for action in _as_list(statement["Action"])
            for resource in resources
            for scope in self.scopes(statement)
        }

    def role_grants(self, function_name: str) -> set[Grant]:
        found: set[Grant] = set()
        for statement in self.synthesized.role_statements(function_name):
            found |= self.triples(statement, [self.resource(r) for r in _as_list(statement["Resource"])])
        return found

    def signing_key_grants(self) -> dict[str, set[Grant]]:
        """The key policy's statements per function role (the root's are checked apart)."""
        key_id = self.synthesized.logical_id(self.synthesized.stack.signing_key.key)
        policy = self.synthesized.resources[key_id]["Properties"]["KeyPolicy"]
        by_function: dict[str, set[Grant]] = {}
        for statement in policy["Statement"]:
            principal = statement["Principal"].get("AWS")
            if not isinstance(principal, dict) or "Fn::GetAtt" not in principal:
                continue  # the account root: see test_the_account_administers_the_signing_key_but_cannot_use_it
            name = self.role_owner[principal["Fn::GetAtt"][0]]
            assert statement["Resource"] == "*"
            by_function.setdefault(name, set()).update(self.triples(statement, [p.SIGNING_KEY]))
        return by_function


@pytest.fixture(scope="module")
def reader(synthesized) -> TemplateReader:
    return TemplateReader(synthesized)


def test_the_table_covers_every_function(synthesized):
    assert set(p.permissions()) == set(synthesized.stack.functions.functions)


@pytest.mark.parametrize("function_name", list(p.permissions()))
def test_each_function_may_do_exactly_what_the_table_says(reader, function_name):
    # Given what the template grants the function's role and what the signing key allows it
    granted = reader.role_grants(function_name) | reader.signing_key_grants().get(function_name, set())
    # Then it is the table's rows, no more (extra) and no less (missing)
    expected = p.grants(function_name)
    assert {"extra": granted - expected, "missing": expected - granted} == {"extra": set(), "missing": set()}


def test_no_function_may_scan_batch_write_or_read_streams(reader):
    forbidden = {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:GetRecords", "dynamodb:DescribeTable"}
    for name in p.permissions():
        assert not {a for a, _, _ in reader.role_grants(name)} & forbidden, name


def test_every_item_grant_is_narrowed_to_partition_keys(reader):
    for name in p.permissions():
        for action, resource, scope in reader.role_grants(name):
            if resource == p.TABLE:
                assert scope, (name, action)


def test_only_the_functions_that_delete_jobs_data_list_the_bucket_and_only_under_its_prefixes(reader):
    # DELETE /v1/jobs/{id}: the api (a small job, in the request) and the collector (the rest)
    listers, deleters = set(), set()
    for name in p.permissions():
        for action, resource, scope in reader.role_grants(name):
            if action == "s3:ListBucket":
                listers.add(name)
                assert resource == p.BUCKET and scope in p.JOB_DATA_PREFIXES, (name, scope)
            # (a tenant's own items: webhook endpoints, OpenAI-surface files)
            if action == "dynamodb:DeleteItem" and scope not in (p.TENANT_ITEMS, p.FILES_ITEMS):
                deleters.add(name)
                assert scope in p.JOB_DATA_ITEMS, (name, scope)
    assert listers == deleters == {c.FUNCTION_API, c.FUNCTION_COLLECTOR}
    assert f"{c.UPLOADS_PREFIX}*" not in p.JOB_DATA_PREFIXES  # a tenant's uploads are not a job's


def test_the_unauthenticated_openai_webhook_reads_claims_and_updates_chunks_only(reader):
    table_grants = {g for g in reader.role_grants(c.FUNCTION_OPENAI_WEBHOOK) if g[0].startswith("dynamodb:")}
    assert table_grants == {
        ("dynamodb:GetItem", p.TABLE, p.OPENAI_BATCH_CLAIMS),
        ("dynamodb:GetItem", p.TABLE, p.JOB_ITEMS),
        ("dynamodb:UpdateItem", p.TABLE, p.JOB_ITEMS),
    }


def test_only_the_api_encrypts_and_only_signers_decrypt_with_the_signing_key(reader):
    users = reader.signing_key_grants()
    encrypters = {name for name, grants in users.items() for action, _, _ in grants if action == "kms:Encrypt"}
    decrypters = {
        name: {purpose for action, _, purpose in grants if action == "kms:Decrypt"} for name, grants in users.items()
    }
    assert encrypters == {c.FUNCTION_API}
    assert decrypters == {
        c.FUNCTION_API: {c.SECRET_PURPOSE_ENDPOINT},  # the test-event route signs with an endpoint secret
        c.FUNCTION_WEBHOOK: {c.SECRET_PURPOSE_ENDPOINT, c.SECRET_PURPOSE_TENANT},
    }


def test_the_account_administers_the_signing_key_but_cannot_use_it(synthesized):
    key_id = synthesized.logical_id(synthesized.stack.signing_key.key)
    key = synthesized.resources[key_id]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    root = [s for s in statements if "Fn::GetAtt" not in str(s["Principal"])]
    assert len(root) == 1 and ":root" in str(root[0]["Principal"])
    root_actions = _as_list(root[0]["Action"])
    assert "kms:PutKeyPolicy" in root_actions or "kms:Put*" in root_actions  # never locked out
    for action in root_actions:
        for use in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey"):
            assert not fnmatch.fnmatchcase(use, action), action
    # And no IAM policy in the stack grants anything on it
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        assert key_id not in str(policy["Properties"]["PolicyDocument"])
    assert key["Properties"]["EnableKeyRotation"] is True


def test_the_signing_key_is_retained_with_the_table(synthesized):
    key = synthesized.resources[synthesized.logical_id(synthesized.stack.signing_key.key)]
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"


def test_the_functions_that_sign_or_seal_are_told_the_key_and_no_one_else(synthesized):
    key_ref = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.signing_key.key), "Arn"]}
    told = {
        name
        for name, fn in synthesized.stack.functions.functions.items()
        if synthesized.resources[synthesized.logical_id(fn)]["Properties"]["Environment"]["Variables"].get(
            c.ENV_SECRETS_KEY_ID
        )
        == key_ref
    }
    assert told == {c.FUNCTION_API, c.FUNCTION_WEBHOOK}


def test_roles_carry_only_the_basic_execution_managed_policy(synthesized):
    for name, fn in synthesized.stack.functions.functions.items():
        role = synthesized.resources[synthesized.stack.get_logical_id(fn.role.node.default_child)]
        arns = [str(arn) for arn in role["Properties"]["ManagedPolicyArns"]]
        assert len(arns) == 1 and p.MANAGED_POLICY in arns[0], name


def test_no_role_grants_full_service_wildcards(reader):
    for name in p.permissions():
        for action, _, _ in reader.role_grants(name):
            assert not action.endswith(":*") and action != "*", (name, action)


def test_the_key_patterns_match_the_items_the_store_writes():
    assert fnmatch.fnmatchcase(keys.job_key("job_1")["pk"], p.JOB_ITEMS)
    assert fnmatch.fnmatchcase(keys.chunk_key("job_1", "c00001")["pk"], p.JOB_ITEMS)
    assert fnmatch.fnmatchcase(keys.delivery_key("job_1", "evt", "whe")["pk"], p.JOB_ITEMS)
    assert fnmatch.fnmatchcase(keys.idempotency_key("t", "k")["pk"], p.IDEMPOTENCY_ITEMS)
    assert fnmatch.fnmatchcase(keys.upload_key("upl_1")["pk"], p.UPLOAD_ITEMS)
    assert fnmatch.fnmatchcase(keys.batch_key("anthropic", "msgbatch_1")["pk"], p.BATCH_CLAIMS)
    assert fnmatch.fnmatchcase(keys.batch_key("openai", "batch_1")["pk"], p.OPENAI_BATCH_CLAIMS)
    assert not fnmatch.fnmatchcase(keys.batch_key("anthropic", "msgbatch_1")["pk"], p.OPENAI_BATCH_CLAIMS)
    assert fnmatch.fnmatchcase(keys.webhook_endpoint_key("t", "whe_1")["pk"], p.TENANT_ITEMS)
    assert fnmatch.fnmatchcase(keys.tenant_secret_key("t")["pk"], p.TENANT_ITEMS)
    assert fnmatch.fnmatchcase(keys.file_key("t", "file-1")["pk"], p.FILES_ITEMS)
    assert fnmatch.fnmatchcase(keys.openai_upload_key("t", "upload_1")["pk"], p.FILES_ITEMS)


def test_the_authorizer_reads_api_keys_and_nothing_else(reader):
    # It has to see key values to find a bearer token's key: that one read, on API keys only
    assert reader.role_grants(c.FUNCTION_AUTHORIZER) == {
        ("apigateway:GET", p.API_KEYS, ""), *{(a, p.ANY, "") for a in p.XRAY}
    }


def test_the_collector_may_only_add_and_remove_a_tenants_files(reader):
    # A finalized batch's output and error files; removed with the batch's data on request
    files = {g for g in reader.role_grants(c.FUNCTION_COLLECTOR) if g[2] == p.FILES_ITEMS}
    assert files == {("dynamodb:PutItem", p.TABLE, p.FILES_ITEMS), ("dynamodb:DeleteItem", p.TABLE, p.FILES_ITEMS)}


def test_the_readme_security_section_is_generated_from_the_table():
    from batchrelay_tools.readme import stale_blocks

    assert "permissions" not in stale_blocks(), "run `make docs` to regenerate the README's tables"
