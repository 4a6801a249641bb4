"""Messaging: the agent's EventBridge bus, the AwsTaskRequested rule and the SQS task queue with its DLQ."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

TASK_SOURCE = "miyabi.orchestrator"
TASK_DETAIL_TYPE = "AwsTaskRequested"
MAX_RECEIVE_COUNT = 5


class AgentMessaging(Construct):
    """Bus → rule (source `miyabi.orchestrator`, detail-type `AwsTaskRequested`) → encrypted task queue (+DLQ)."""

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str, consumer_timeout: Duration) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.task_queue = sqs.Queue(
            self,
            "TaskQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS's guidance for a Lambda event source: at least 6x the consumer's timeout.
            visibility_timeout=Duration.seconds(6 * consumer_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT),
        )
        self.task_rule = events.Rule(
            self,
            "TaskRequestedRule",
            event_bus=self.bus,
            description="AwsTaskRequested events from the orchestrator into the task queue",
            event_pattern=events.EventPattern(source=[TASK_SOURCE], detail_type=[TASK_DETAIL_TYPE]),
            targets=[targets.SqsQueue(self.task_queue)],
        )
