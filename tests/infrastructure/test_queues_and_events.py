"""Queues: DLQs and redrive, visibility vs consumer timeout, encryption, TLS; the event topic."""

from __future__ import annotations

from batchrelay import constants as c


def _queue_arn_id(arn: dict) -> str:
    return arn["Fn::GetAtt"][0]


def test_every_work_queue_has_a_dead_letter_queue_with_redrive(synthesized):
    # Given the synthesized queues
    queues = synthesized.of_type("AWS::SQS::Queue")
    work_queues = {key: q for key, q in queues.items() if "RedrivePolicy" in q["Properties"]}

    # Then each of jobs, collect, webhooks redrives to its own DLQ after MAX_RECEIVE_COUNT receives
    assert len(queues) == 6
    assert len(work_queues) == 3
    dead_letter_ids = set()
    for queue in work_queues.values():
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == c.MAX_RECEIVE_COUNT
        dead_letter_ids.add(_queue_arn_id(redrive["deadLetterTargetArn"]))
    assert dead_letter_ids == set(queues) - set(work_queues)


def test_visibility_timeout_is_at_least_six_times_the_consumers_timeout(synthesized):
    # Given every queue -> function event source mapping
    queues = synthesized.of_type("AWS::SQS::Queue")
    functions = synthesized.of_type("AWS::Lambda::Function")
    mappings = synthesized.of_type("AWS::Lambda::EventSourceMapping").values()

    # Then the queue's visibility timeout covers six runs of its consumer
    assert len(mappings) == 3
    for mapping in mappings:
        queue = queues[_queue_arn_id(mapping["Properties"]["EventSourceArn"])]
        function = functions[mapping["Properties"]["FunctionName"]["Ref"]]
        visibility = queue["Properties"]["VisibilityTimeout"]
        assert visibility >= c.VISIBILITY_TIMEOUT_FACTOR * function["Properties"]["Timeout"]


def test_each_queue_is_wired_to_its_consumer_with_partial_batch_failures(synthesized):
    stack = synthesized.stack
    mappings = [m["Properties"] for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()]
    wiring = {(_queue_arn_id(m["EventSourceArn"]), m["FunctionName"]["Ref"]): m for m in mappings}
    for queue_name, function_name in c.QUEUE_CONSUMERS.items():
        queue_id = stack.get_logical_id(stack.queues.by_name(queue_name).queue.node.default_child)
        function_id = synthesized.logical_id(stack.functions.functions[function_name])
        mapping = wiring[(queue_id, function_id)]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == c.QUEUE_BATCH_SIZES[queue_name]


def test_each_mapping_bounds_its_consumers_concurrency_from_settings(synthesized):
    # Given jobs_max_concurrency=3 in the test context and the defaults for the others
    stack = synthesized.stack
    mappings = [m["Properties"] for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()]
    by_queue = {_queue_arn_id(m["EventSourceArn"]): m for m in mappings}
    # Then every mapping has MaximumConcurrency, the one each setting names
    expected = {c.JOBS_QUEUE: 3, c.COLLECT_QUEUE: 10, c.WEBHOOKS_QUEUE: 20}
    assert synthesized.settings.jobs_max_concurrency == 3
    for queue_name, bound in expected.items():
        queue_id = stack.get_logical_id(stack.queues.by_name(queue_name).queue.node.default_child)
        assert by_queue[queue_id]["ScalingConfig"] == {"MaximumConcurrency": bound}, queue_name
        assert synthesized.settings.max_concurrency(queue_name) == bound


def test_every_queue_is_encrypted(synthesized):
    for queue in synthesized.of_type("AWS::SQS::Queue").values():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties


def test_every_queue_denies_requests_without_tls(synthesized):
    # Given the queue policies
    covered = set()
    for policy in synthesized.of_type("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(_denies_insecure_transport(s) for s in statements):
            covered.update(ref["Ref"] for ref in policy["Properties"]["Queues"])
    # Then every queue has one that denies plain HTTP
    assert covered == set(synthesized.of_type("AWS::SQS::Queue"))


def test_event_topic_is_kms_encrypted_and_tls_only(synthesized):
    topic_id = synthesized.logical_id(synthesized.stack.events.topic)
    topic = synthesized.resources[topic_id]
    assert "KmsMasterKeyId" in topic["Properties"]

    policies = [
        p
        for p in synthesized.of_type("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    assert any(_denies_insecure_transport(s) for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"])


def test_every_topic_is_encrypted(synthesized):
    for topic in synthesized.of_type("AWS::SNS::Topic").values():
        assert "KmsMasterKeyId" in topic["Properties"]


def test_kms_key_rotates(synthesized):
    for key in synthesized.of_type("AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_webhooks_queue_subscribes_to_job_events_with_raw_delivery(synthesized):
    stack = synthesized.stack
    webhooks_queue_id = stack.get_logical_id(stack.queues.webhooks.queue.node.default_child)
    (subscription,) = synthesized.of_type("AWS::SNS::Subscription").values()
    properties = subscription["Properties"]
    assert properties["Protocol"] == "sqs"
    assert properties["RawMessageDelivery"] is True
    assert properties["Endpoint"] == {"Fn::GetAtt": [webhooks_queue_id, "Arn"]}
    assert properties["TopicArn"] == {"Ref": synthesized.logical_id(stack.events.topic)}


def _denies_insecure_transport(statement: dict) -> bool:
    return (
        statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    )
