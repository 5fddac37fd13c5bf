#!/usr/bin/env python3
"""Synthesizes the batchrelay stack: ``python app.py`` (offline) or ``cdk synth|deploy``.

cdk-nag's AwsSolutions checks run on the whole app; any unsuppressed finding at error
level makes this script exit non-zero.
"""

from __future__ import annotations

import os
import sys

# infra first: it puts functions/ on the path and quiets jsii before aws_cdk starts it.
from infra import REPO_ROOT  # isort: skip
import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import StackSettings, read_cdk_json_context
from infra.stack import BatchRelayStack


def build_app(context: dict | None = None, outdir: str | None = None) -> tuple[cdk.App, BatchRelayStack]:
    # cdk.json's context is the base; the CDK CLI's context (CDK_CONTEXT_JSON) wins over it.
    app = cdk.App(
        context={**read_cdk_json_context(), **(context or {})},
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(REPO_ROOT / "cdk.out"),
    )
    settings = StackSettings.from_context(app)
    stack = BatchRelayStack(
        app,
        settings.stack_name,
        settings=settings,
        description="batchrelay: LLM batch jobs through the providers' batch APIs",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> int:
    app, _ = build_app()
    assembly = app.synth()
    errors = [
        f"{message.id}: {message.entry.data}"
        for artifact in assembly.stacks
        for message in artifact.messages
        if message.level == cdk.cx_api.SynthesisMessageLevel.ERROR
    ]
    for error in errors:
        print(error, file=sys.stderr)
    print(f"synthesized to {assembly.directory}" if not errors else f"{len(errors)} error(s)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
