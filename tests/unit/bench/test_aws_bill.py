"""The AWS bill model of bench/scale.py: DynamoDB capacity units by DynamoDB's sizing
rules, and the bill's lines from counted use at the dated prices."""

from collections import Counter
from types import SimpleNamespace

import pytest

from bench import aws_bill
from bench.aws_bill import DynamoUnits, Usage


def call(action, request, answer=None):
    return SimpleNamespace(action=action, request=request, answer=answer or {})


def test_item_size_follows_dynamodbs_rules():
    # name bytes + value bytes; numbers: ~1 byte per two significant digits + 1
    assert aws_bill.item_size({"pk": {"S": "JOB#abc"}}) == 2 + 7
    assert aws_bill.value_size({"N": "12345"}) == 4
    assert aws_bill.value_size({"N": "0"}) == 2
    assert aws_bill.value_size({"BOOL": True}) == 1
    assert aws_bill.value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 2 + 1


def test_a_put_of_an_indexed_item_writes_the_index_too():
    small_chunk = {"pk": {"S": "JOB#j"}, "sk": {"S": "CHUNK#1"}, "due_pk": {"S": "DUE"}, "due_at": {"S": "t"}}
    units = aws_bill.dynamo_units([call("PutItem", {"Item": small_chunk})], {})
    assert units.write_units == 2  # base table + the due index
    big = {"pk": {"S": "FILE#f"}, "sk": {"S": "FILE"}, "blob": {"S": "x" * 2500}}
    assert aws_bill.dynamo_units([call("PutItem", {"Item": big})], {}).write_units == 3  # 3 KB, no index


def test_a_transaction_costs_twice_and_reads_are_halved_when_eventually_consistent():
    put = {"Put": {"Item": {"pk": {"S": "X#1"}, "sk": {"S": "X"}}}}
    check = {"ConditionCheck": {"Key": {"pk": {"S": "X#1"}, "sk": {"S": "X"}}}}
    units = aws_bill.dynamo_units([call("TransactWriteItems", {"TransactItems": [put, check]})], {})
    assert units.write_units == 2
    assert units.read_units == 2
    item = {"pk": {"S": "X#1"}, "sk": {"S": "X"}}
    query = call("Query", {}, {"Items": [item] * 3})
    assert aws_bill.dynamo_units([query], {}).read_units == 0.5
    get = call("GetItem", {"ConsistentRead": True}, {"Item": item})
    assert aws_bill.dynamo_units([get], {}).read_units == 1


def test_an_update_is_sized_as_the_mean_of_its_kind_and_counts_an_index_key_change_twice():
    mean = aws_bill.mean_sizes([{"pk": {"S": "JOB#j"}, "sk": {"S": "CHUNK#1"}, "x": {"S": "y" * 3000}}])
    assert mean[("JOB", "CHUNK")] > 3000
    plain = call("UpdateItem", {"Key": {"pk": {"S": "JOB#j"}, "sk": {"S": "CHUNK#1"}},
                                "UpdateExpression": "SET #s = :s"})
    moves = call("UpdateItem", {"Key": {"pk": {"S": "JOB#j"}, "sk": {"S": "CHUNK#1"}},
                                "UpdateExpression": "SET due_at = :d"})
    assert aws_bill.dynamo_units([plain], mean).write_units == 3 + 3
    assert aws_bill.dynamo_units([moves], mean).write_units == 3 + 6


def test_the_bill_prices_each_line_from_the_dated_table():
    prices = aws_bill.load_prices()
    usage = Usage(lambda_gb_seconds=1000, lambda_invocations=1_000_000,
                  dynamo=DynamoUnits(write_units=1_000_000, read_units=2_000_000), dynamo_stored_bytes=0,
                  s3_calls=Counter({"PutObject": 1000, "GetObject": 1000, "DeleteObject": 500}),
                  s3_stored_bytes=aws_bill.GB, sqs_requests=1_000_000, sns_publishes=0, sns_http_deliveries=0,
                  api_requests=1_000_000, kms_requests=10_000, bytes_to_providers=aws_bill.GB, retention_days=30)
    lines = aws_bill.bill(usage, prices)
    assert lines["lambda"] == pytest.approx(1000 * prices["lambda"]["arm64_usd_per_gb_second"]
                                            + prices["lambda"]["usd_per_million_requests"])
    assert lines["dynamodb"] == pytest.approx(prices["dynamodb"]["usd_per_million_write_units"]
                                              + 2 * prices["dynamodb"]["usd_per_million_read_units"])
    assert lines["s3_requests"] == pytest.approx(prices["s3"]["usd_per_1000_put_copy_post_list"]
                                                 + prices["s3"]["usd_per_1000_get_head_other"])  # DELETE is free
    assert lines["s3_storage"] == pytest.approx(prices["s3"]["usd_per_gb_month_standard"])
    assert lines["sqs"] == pytest.approx(prices["sqs"]["usd_per_million_requests"])
    assert lines["api_gateway"] == pytest.approx(prices["api_gateway"]["rest_usd_per_million_requests"])
    assert lines["kms"] == pytest.approx(prices["kms"]["usd_per_10000_requests"])
    assert lines["data_out_to_providers"] == pytest.approx(prices["data_transfer"]["out_to_internet_usd_per_gb"])
    assert prices["as_of"] == "2026-11-30"
