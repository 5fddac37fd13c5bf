"""The work queues, each with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from batchrelay import constants as c

# A DLQ keeps messages as long as SQS allows, so that there is time to inspect and redrive.
DEAD_LETTER_RETENTION = Duration.days(14)
QUEUE_RETENTION = Duration.days(4)


class QueueWithDeadLetter(Construct):
    """An encrypted, TLS-only queue whose failing messages move to a DLQ after a few receives."""

    def __init__(self, scope: Construct, construct_id: str, *, queue_name: str) -> None:
        super().__init__(scope, construct_id)
        self.name = queue_name
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            # Six times the consumer's timeout, so that a record is not redelivered while
            # a (retried) invocation is still working on it.
            visibility_timeout=Duration.seconds(c.visibility_timeout_seconds(queue_name)),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=c.MAX_RECEIVE_COUNT, queue=self.dead_letter_queue),
        )


class WorkQueues(Construct):
    """``jobs`` (to the submitter), ``collect`` (to the collector), ``webhooks`` (to the webhook sender)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.jobs = QueueWithDeadLetter(self, "Jobs", queue_name=c.JOBS_QUEUE)
        self.collect = QueueWithDeadLetter(self, "Collect", queue_name=c.COLLECT_QUEUE)
        self.webhooks = QueueWithDeadLetter(self, "Webhooks", queue_name=c.WEBHOOKS_QUEUE)

    @property
    def all(self) -> tuple[QueueWithDeadLetter, ...]:
        return (self.jobs, self.collect, self.webhooks)

    def by_name(self, queue_name: str) -> QueueWithDeadLetter:
        return next(queue for queue in self.all if queue.name == queue_name)
