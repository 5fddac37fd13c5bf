"""The poller's clock.

An EventBridge *rule* with a rate expression, not EventBridge Scheduler: a fixed tick
every few minutes needs none of Scheduler's extras (time zones, flexible windows,
one-off schedules), and a rule invokes the function through a resource policy, with no
extra IAM role. A missed tick needs no retry: the next one comes a minute later and the
poller works from the due-chunks index, not from the tick.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from batchrelay import constants as c


class PollerSchedule(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, poller: lambda_.IFunction, rate_minutes: int) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"{c.SERVICE_NAME}: invokes the poller every {rate_minutes} minute(s)",
            schedule=events.Schedule.rate(Duration.minutes(rate_minutes)),
            targets=[targets.LambdaFunction(poller, retry_attempts=0)],
        )
