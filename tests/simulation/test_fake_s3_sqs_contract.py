"""The S3, SQS and SNS calls the functions make, against moto and against the fakes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batchrelay import constants as c
from tests.simulation.aws_backends import backend

BACKENDS = ["moto", "fake"]


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request) -> Iterator[dict[str, Any]]:
    from batchrelay_tools.local.resources import create_resources

    with backend(request.param) as fake:
        env = create_resources(prefix="contract")
        s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        yield {"env": env, "s3": s3, "sqs": boto3.client("sqs"), "sns": boto3.client("sns"), "fake": fake,
               "bucket": env[c.ENV_BUCKET_NAME], "backend": request.param}


def test_objects_round_trip_with_ranges_heads_copies_and_deletes(stack, tmp_path):
    s3, bucket = stack["s3"], stack["bucket"]
    s3.put_object(Bucket=bucket, Key="chunks/j/c 1/input.jsonl", Body=b"line one\nline two\n",
                  ContentType="application/x-ndjson")

    whole = s3.get_object(Bucket=bucket, Key="chunks/j/c 1/input.jsonl")
    part = s3.get_object(Bucket=bucket, Key="chunks/j/c 1/input.jsonl", Range="bytes=5-7")
    head = s3.head_object(Bucket=bucket, Key="chunks/j/c 1/input.jsonl")
    s3.copy_object(Bucket=bucket, Key="copy.jsonl", CopySource={"Bucket": bucket, "Key": "chunks/j/c 1/input.jsonl"})
    s3.download_file(bucket, "copy.jsonl", str(tmp_path / "copy.jsonl"))
    s3.delete_object(Bucket=bucket, Key="copy.jsonl")

    assert whole["Body"].read() == b"line one\nline two\n"
    blocks = s3.get_object(Bucket=bucket, Key="chunks/j/c 1/input.jsonl")["Body"].iter_chunks(4)
    assert next(iter(blocks)) == b"line"
    assert part["Body"].read() == b"one"
    assert head["ContentLength"] == 18 and head["ContentType"] == "application/x-ndjson"
    assert (tmp_path / "copy.jsonl").read_bytes() == b"line one\nline two\n"
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="copy.jsonl")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_many_objects_are_deleted_in_one_request_and_a_missing_key_counts_as_deleted(stack):
    # (the Bedrock adapter deletes a batch's output this way: s3_objects.delete_keys)
    s3, bucket = stack["s3"], stack["bucket"]
    for name in ("out/a.jsonl", "out/b c.jsonl", "keep/c.jsonl"):
        s3.put_object(Bucket=bucket, Key=name, Body=b"x")

    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "out/a.jsonl"}, {"Key": "out/b c.jsonl"},
                                                                  {"Key": "out/never.jsonl"}], "Quiet": False})

    assert sorted(d["Key"] for d in answer["Deleted"]) == ["out/a.jsonl", "out/b c.jsonl", "out/never.jsonl"]
    assert not answer.get("Errors")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("Contents", [])]
    assert listed == []
    assert s3.head_object(Bucket=bucket, Key="keep/c.jsonl")["ContentLength"] == 1


def test_a_multipart_upload_joins_its_parts(stack):
    s3, bucket = stack["s3"], stack["bucket"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.jsonl")["UploadId"]
    first = s3.upload_part(Bucket=bucket, Key="big.jsonl", UploadId=upload, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    second = s3.upload_part(Bucket=bucket, Key="big.jsonl", UploadId=upload, PartNumber=2, Body=b"tail")
    s3.complete_multipart_upload(Bucket=bucket, Key="big.jsonl", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
    body = s3.get_object(Bucket=bucket, Key="big.jsonl")["Body"].read()
    assert len(body) == 5 * 1024 * 1024 + 4 and body.endswith(b"tail")


def test_messages_are_received_hidden_and_deleted(stack):
    sqs, url = stack["sqs"], stack["env"][c.ENV_JOBS_QUEUE_URL]
    sent = sqs.send_message(QueueUrl=url, MessageBody='{"kind": "job", "job_id": "j1"}')

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    hidden = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert first[0]["MessageId"] == sent["MessageId"] and first[0]["Body"] == '{"kind": "job", "job_id": "j1"}'
    assert hidden == []
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert int(attributes["VisibilityTimeout"]) == c.visibility_timeout_seconds(c.JOBS_QUEUE)


def test_a_message_received_too_often_goes_to_the_dead_letter_queue(stack):
    sqs, url = stack["sqs"], stack["env"][c.ENV_COLLECT_QUEUE_URL]
    dlq = url + "-dlq"
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(c.MAX_RECEIVE_COUNT):
        message = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    after = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1).get("Messages", [])

    assert after == []
    if stack["backend"] == "fake":   # the world reads its DLQs directly; moto's is a queue like any other
        assert [m.body for m in stack["fake"].sqs.queues[dlq].messages.values()] == ["poison"]
    else:
        assert [m["Body"] for m in dead] == ["poison"]


def test_a_published_event_carries_its_attributes(stack):
    topic = stack["env"][c.ENV_EVENTS_TOPIC_ARN]
    response = stack["sns"].publish(TopicArn=topic, Message='{"id": "evt_1"}', MessageAttributes={
        "event_type": {"DataType": "String", "StringValue": "job.completed"}})
    assert response["MessageId"]
    if stack["backend"] == "fake":
        published = stack["fake"].sns.messages()[-1]
        assert published.message == '{"id": "evt_1"}'
        assert published.attributes == {"event_type": "job.completed"}


@pytest.fixture(autouse=True)
def _region() -> Iterator[None]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield
