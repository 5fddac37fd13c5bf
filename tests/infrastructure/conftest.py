"""Synthesize the stack once for the whole infrastructure test run (jsii starts slowly).

Bundling is skipped (no pip, no network); a few settings differ from the defaults so
that the tests can tell that context reaches the template.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra import REPO_ROOT  # isort: skip  (sets up the import path and quiets jsii first)
from aws_cdk.assertions import Template

from app import build_app
from infra.settings import StackSettings
from infra.stack import BatchRelayStack

TEST_CONTEXT = {
    "bundle": "false",
    "poll_rate_minutes": 5,
    "retention_days": 7,
    "stage_name": "test",
    "jobs_max_concurrency": "3",  # as the CLI passes it: a string
    "webhook_allowed_destinations": "hooks.example.com:8443,*:9443",
    "bedrock_allowed_models": "anthropic.claude-3-5-haiku-20241022-v1:0,us.anthropic.claude-sonnet-4-20250514-v1:0",
    "bedrock_timeout_hours": "48",
}


@dataclass(frozen=True)
class Synthesized:
    stack: BatchRelayStack
    template: Template
    settings: StackSettings

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.resources.items() if value["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def role_statements(self, function_name: str) -> list[dict[str, Any]]:
        """Every statement of the policies attached to one function's role."""
        function = self.stack.functions.functions[function_name]
        role_id = self.stack.get_logical_id(function.role.node.default_child)
        statements: list[dict[str, Any]] = []
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
        return statements

    def role_actions(self, function_name: str) -> set[str]:
        return {action for statement in self.role_statements(function_name) for action in _as_list(statement["Action"])}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    assert (REPO_ROOT / "functions").is_dir()
    _, stack = build_app(context=TEST_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    yield Synthesized(stack=stack, template=Template.from_stack(stack), settings=stack.settings)
