"""Amazon Bedrock's EventBridge events: "Batch Inference Job State Change", from ``aws.bedrock``.

Only the provider's part lives here: what the events look like and which statuses end a
job. What an event does to a chunk is lifecycle work (``lifecycle.bedrock_fast_path``); the
stack's rule (infra/bedrock.py) matches these events of its own account with these statuses.

The shape, as AWS documents it (Amazon Bedrock User Guide, "How EventBridge for Amazon Bedrock
works", sample event of a batch inference job):

    {"version": "0", "id": "...", "detail-type": "Batch Inference Job State Change",
     "source": "aws.bedrock", "account": "123456789012", "time": "...", "region": "us-east-1",
     "resources": ["arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghwxyz"],
     "detail": {"version": "0.0", "accountId": "123456789012", "batchJobName": "...",
                "batchJobArn": "arn:aws:bedrock:...:model-invocation-job/abcdefghwxyz",
                "batchModelId": "...", "status": "Completed", "failureMessage": "",
                "creationTime": "..."}}

EventBridge delivers Bedrock's events on a best-effort basis: a lost one is the poller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Batch Inference Job State Change"
# The statuses a job ends in: only these hand a chunk on (the rule matches only these).
ENDED_STATUSES = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


@dataclass(frozen=True)
class StateChange:
    batch_id: str        # the job id (the last part of its ARN): batchrelay's batch id
    job_arn: str
    job_name: str
    status: str
    account: str

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES


def parse_state_change(event: dict[str, Any]) -> StateChange:
    """The state change an EventBridge event reports; ValueError when it is not one."""
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        raise ValueError(f"not a Bedrock batch inference event: {event.get('source')!r} {event.get('detail-type')!r}")
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    arn = str(detail.get("batchJobArn") or next(iter(event.get("resources") or []), ""))
    if "model-invocation-job/" not in arn:
        raise ValueError(f"the event names no batch inference job: {arn!r}")
    return StateChange(
        batch_id=arn.rsplit("/", 1)[-1],
        job_arn=arn,
        job_name=str(detail.get("batchJobName") or ""),
        status=str(detail.get("status") or ""),
        account=str(event.get("account") or detail.get("accountId") or ""),
    )


def rule_pattern(account: str) -> dict[str, Any]:
    """The EventBridge pattern of the stack's rule: this account's jobs that ended."""
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_DETAIL_TYPE],
        "account": [account],
        "detail": {"status": list(ENDED_STATUSES)},
    }


def matches_rule(event: dict[str, Any], account: str) -> bool:
    """Whether the stack's rule would deliver ``event`` (local mode plays EventBridge with it)."""
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    return (event.get("source") == EVENT_SOURCE and event.get("detail-type") == EVENT_DETAIL_TYPE
            and event.get("account") == account and detail.get("status") in ENDED_STATUSES)
