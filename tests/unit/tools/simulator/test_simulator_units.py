"""Simulator pieces that need no HTTP: timelines, failure rules, settings."""

from __future__ import annotations

import pytest

from batchrelay_tools.simulator import FailureRule, SimulatorSettings, hash_fraction
from batchrelay_tools.simulator.state import Timeline


def test_timeline_processed_counts_grow_linearly():
    t = Timeline(created_at=0, validating_seconds=10, processing_seconds=100, finalizing_seconds=0,
                 cancelling_seconds=0, total=10)
    assert [t.processed_at(x) for x in (5, 10, 35, 60, 110, 500)] == [0, 0, 2, 5, 10, 10]
    expiring = Timeline(0, 0, 100, 0, 0, total=10, expire_count=3)
    assert expiring.processed_at(90) == 3


def test_failure_rule_selection():
    assert FailureRule(pattern="^bad").selects("bad-1") and not FailureRule(pattern="^bad").selects("ok")
    assert FailureRule(fraction=1.0).selects("anything") and not FailureRule().selects("anything")
    assert FailureRule(kind="permanent").effective_status == 400
    assert FailureRule(kind="retryable").effective_status == 500
    assert 0 <= hash_fraction("x") < 1 and hash_fraction("x") == hash_fraction("x")


def test_settings_update_from_json():
    settings = SimulatorSettings()
    settings.update({"processing_seconds": 0.01, "failure_rules": [{"pattern": "x", "kind": "permanent"}]})
    assert settings.processing_seconds == 0.01
    assert settings.failure_rules == [FailureRule(pattern="x", kind="permanent")]
    assert SimulatorSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(ValueError):
        settings.update({"no_such_setting": 1})


def test_the_file_ledger_records_every_deletion():
    from batchrelay_tools.simulator.state import ApiError, Simulator

    sim = Simulator(clock=lambda: 1_000.0)
    kept = sim.create_file("in.jsonl", "batch", b"x\n")
    gone = sim.create_file("out.jsonl", "batch_output", b"yy\n")
    assert sim.delete_file(gone.id) == {"id": gone.id, "object": "file", "deleted": True}
    with pytest.raises(ApiError):
        sim.delete_file(gone.id)  # a second deletion is a 404, and not recorded twice
    ledger = sim.file_ledger()
    assert [f["id"] for f in ledger["live"]] == [kept.id]
    assert ledger["deleted"] == [{"id": gone.id, "filename": "out.jsonl", "purpose": "batch_output", "bytes": 3,
                                  "created_at": 1000, "deleted_at": 1000.0}]
    stats = sim.stats()
    assert (stats["files"], stats["files_created"], stats["files_deleted"]) == (1, 2, 1)
    assert stats["files_by_purpose"] == {"batch": 1}


def test_answer_tokens_sets_the_answer_length_and_its_billed_tokens():
    from batchrelay_tools.simulator import answers

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    sized = answers.openai_body("/v1/chat/completions", body, model="m", created=0, request_id="r", answer_tokens=200)
    assert sized["usage"]["completion_tokens"] == 200
    assert abs(len(sized["choices"][0]["message"]["content"]) - 800) <= 4
    default = answers.openai_body("/v1/chat/completions", body, model="m", created=0, request_id="r")
    assert 8 <= default["usage"]["completion_tokens"] < 40
    message = answers.anthropic_message({"messages": body["messages"]}, model="claude", answer_tokens=50)
    assert message["usage"]["output_tokens"] == 50
    assert abs(len(message["content"][0]["text"]) - 200) <= 4
