"""Alarms (every DLQ, every function's errors, API 5xx) and one dashboard.

Alarms notify an SNS topic; subscribe to it (email, chat, pager) after deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from batchrelay import constants as c
from infra.queues import WorkQueues

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        key: kms.IKey,
        queues: WorkQueues,
        functions: Mapping[str, lambda_.IFunction],
        rest_api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch must be able to use the key to publish to the encrypted alarm topic.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{c.SERVICE_NAME} alarms", master_key=key, enforce_ssl=True
        )
        self._action = actions.SnsAction(self.alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for queue in queues.all:
            # Any message in a DLQ is work that failed every retry: look at it.
            self._alarm(
                f"{queue.name.title()}DeadLetters",
                queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                f"Messages in the {queue.name} dead-letter queue",
            )
        for name, fn in functions.items():
            self._alarm(
                f"{name.title().replace('_', '')}Errors",
                fn.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function failed",
            )
        self._alarm("Api5xx", rest_api.metric_server_error(period=PERIOD, statistic="Sum"), "API 5xx responses")
        self._alarm(
            "ProviderCredentialsRefused",
            cloudwatch.Metric(
                namespace=c.METRICS_NAMESPACE,
                metric_name=c.METRIC_PROVIDER_CREDENTIALS_REFUSED,
                dimensions_map={"service": c.SERVICE_NAME},
                period=PERIOD,
                statistic="Sum",
            ),
            "A provider refused the API key: its chunks are held until the key is fixed (see the job's status_detail)",
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self._add_widgets(queues, functions, rest_api)

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"{c.SERVICE_NAME}: {description}",
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)

    def _add_widgets(
        self, queues: WorkQueues, functions: Mapping[str, lambda_.IFunction], rest_api: apigw.RestApi
    ) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[rest_api.metric_count(period=PERIOD)],
                right=[rest_api.metric_client_error(period=PERIOD), rest_api.metric_server_error(period=PERIOD)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency (p50, p99)",
                left=[
                    rest_api.metric_latency(period=PERIOD, statistic="p50"),
                    rest_api.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[q.queue.metric_approximate_number_of_messages_visible(label=q.name) for q in queues.all],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Age of oldest message (s)",
                left=[q.queue.metric_approximate_age_of_oldest_message(label=q.name) for q in queues.all],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues",
                left=[
                    q.dead_letter_queue.metric_approximate_number_of_messages_visible(label=f"{q.name} DLQ")
                    for q in queues.all
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[fn.metric_errors(period=PERIOD, label=name) for name, fn in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99, ms)",
                left=[fn.metric_duration(period=PERIOD, statistic="p99", label=name) for name, fn in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function throttles",
                left=[fn.metric_throttles(period=PERIOD, label=name) for name, fn in functions.items()],
                width=8,
            ),
        )
