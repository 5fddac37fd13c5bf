"""cdk-nag AwsSolutions: no finding is left without a suppression and its reason."""

from __future__ import annotations

from aws_cdk.assertions import Annotations, Match


def test_no_unsuppressed_aws_solutions_errors(synthesized):
    errors = Annotations.from_stack(synthesized.stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_no_unsuppressed_aws_solutions_warnings(synthesized):
    warnings = Annotations.from_stack(synthesized.stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []
