"""Least privilege: what each function's role may and may not do."""

from __future__ import annotations

import json

from batchrelay import constants as c


def _resources_text(statements: list[dict], action_prefix: str) -> str:
    """The resources of the statements that grant actions starting with ``action_prefix``, as text."""
    matching = [
        s["Resource"]
        for s in statements
        if any(a.startswith(action_prefix) for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    ]
    return json.dumps(matching)


def test_api_role_has_no_secrets_manager_access(synthesized):
    assert not {a for a in synthesized.role_actions(c.FUNCTION_API) if a.startswith("secretsmanager:")}


def test_only_the_collector_publishes_job_events(synthesized):
    for name in (
        c.FUNCTION_API,
        c.FUNCTION_SUBMITTER,
        c.FUNCTION_POLLER,
        c.FUNCTION_WEBHOOK,
        c.FUNCTION_OPENAI_WEBHOOK,
    ):
        assert "sns:Publish" not in synthesized.role_actions(name), name
    assert "sns:Publish" in synthesized.role_actions(c.FUNCTION_COLLECTOR)


def test_api_role_reaches_only_its_bucket_prefixes_and_only_reads_results(synthesized):
    statements = synthesized.role_statements(c.FUNCTION_API)
    object_statements = [s for s in statements if "s3:GetObject*" in s["Action"] or "s3:PutObject" in s["Action"]]
    writable = json.dumps([s["Resource"] for s in object_statements if "s3:PutObject" in s["Action"]])
    readable = json.dumps([s["Resource"] for s in object_statements])

    assert f"/{c.INPUTS_PREFIX}*" in writable
    assert f"/{c.UPLOADS_PREFIX}*" in writable
    assert f"/{c.RESULTS_PREFIX}*" not in writable
    assert f"/{c.RESULTS_PREFIX}*" in readable
    assert '"/*"' not in readable  # never the whole bucket


def test_api_role_sends_only_to_the_jobs_queue(synthesized):
    stack = synthesized.stack
    sent_to = _resources_text(
        [s for s in synthesized.role_statements(c.FUNCTION_API) if "sqs:SendMessage" in s["Action"]], "sqs:"
    )
    assert stack.get_logical_id(stack.queues.jobs.queue.node.default_child) in sent_to
    assert stack.get_logical_id(stack.queues.collect.queue.node.default_child) not in sent_to
    assert stack.get_logical_id(stack.queues.webhooks.queue.node.default_child) not in sent_to


def test_webhook_role_cannot_publish_or_read_secrets_or_the_bucket(synthesized):
    actions = synthesized.role_actions(c.FUNCTION_WEBHOOK)
    assert "sns:Publish" not in actions
    assert not {a for a in actions if a.startswith(("secretsmanager:", "s3:"))}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"} <= actions


def test_openai_webhook_role_reads_the_webhook_secret_and_the_openai_key_only(synthesized):
    stack = synthesized.stack
    secrets = _resources_text(synthesized.role_statements(c.FUNCTION_OPENAI_WEBHOOK), "secretsmanager:")
    assert synthesized.logical_id(stack.secrets.openai_webhook_secret) in secrets
    # the fast path confirms an event by reading the batch back from OpenAI
    assert synthesized.logical_id(stack.secrets.api_keys["openai"]) in secrets
    others = [name for name in stack.secrets.api_keys if name != "openai"]
    assert others and all(synthesized.logical_id(stack.secrets.api_keys[n]) not in secrets for n in others)
    assert not {a for a in synthesized.role_actions(c.FUNCTION_OPENAI_WEBHOOK) if a.startswith("s3:")}


def test_provider_key_readers_are_submitter_poller_and_collector(synthesized):
    stack = synthesized.stack
    anthropic_key_id = synthesized.logical_id(stack.secrets.api_keys["anthropic"])
    readers = {
        name
        for name in stack.functions.functions
        if anthropic_key_id in _resources_text(synthesized.role_statements(name), "secretsmanager:")
    }
    assert readers == {c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER, c.FUNCTION_COLLECTOR}


def test_no_role_grants_full_service_wildcards(synthesized):
    for name in synthesized.stack.functions.functions:
        for action in synthesized.role_actions(name):
            assert not action.endswith(":*") and action != "*", (name, action)


def test_each_queue_has_exactly_the_expected_senders(synthesized):
    stack = synthesized.stack
    expected = {
        c.JOBS_QUEUE: {c.FUNCTION_API, c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER, c.FUNCTION_COLLECTOR},
        c.COLLECT_QUEUE: {c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER, c.FUNCTION_COLLECTOR, c.FUNCTION_OPENAI_WEBHOOK},
        c.WEBHOOKS_QUEUE: {c.FUNCTION_WEBHOOK},
    }
    for queue_name, senders in expected.items():
        queue_id = stack.get_logical_id(stack.queues.by_name(queue_name).queue.node.default_child)
        actual = {
            name
            for name in stack.functions.functions
            if queue_id
            in _resources_text(
                [s for s in synthesized.role_statements(name) if "sqs:SendMessage" in s["Action"]], "sqs:"
            )
        }
        assert actual == senders, queue_name
